"""Audio rules for audio-text pairs: pure functions over decoded mono samples returning a reason or ``None``.

Clipping is measured as the fraction of samples at or above ``clip_level`` in magnitude; silence as the
fraction of 20 ms frames whose RMS is below ``silence_db`` dBFS. Both are cheap numpy reductions, so
they run on every clip.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, kw_only=True)
class AudioRulesConfig:
    """Thresholds of the audio rules."""

    min_seconds: float = 0.5
    """Shorter clips are rejected (``audio_too_short``)."""
    max_seconds: float = 30.0
    """Longer clips are rejected (``audio_too_long``)."""
    min_source_rate: int = 8000
    """Files recorded below this sample rate are rejected (``audio_sample_rate_low``)."""
    clip_level: float = 0.999
    """Magnitude at which a sample counts as clipped."""
    max_clipped_fraction: float = 0.01
    """More clipped samples than this fraction is rejected (``audio_clipping``)."""
    silence_db: float = -50.0
    """A 20 ms frame with RMS below this (dBFS) counts as silent."""
    max_silent_fraction: float = 0.8
    """More silent frames than this fraction is rejected (``audio_mostly_silent``)."""

    def __post_init__(self) -> None:
        if not 0 < self.min_seconds <= self.max_seconds:
            raise ValueError(f"AudioRulesConfig: need 0 < min_seconds <= max_seconds, got {self.min_seconds}, "
                             f"{self.max_seconds}")
        for name in ("max_clipped_fraction", "max_silent_fraction", "clip_level"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"AudioRulesConfig.{name} must be in [0, 1], got {getattr(self, name)}")


def duration_reason(seconds: float, config: AudioRulesConfig) -> str | None:
    if seconds < config.min_seconds:
        return "audio_too_short"
    if seconds > config.max_seconds:
        return "audio_too_long"
    return None


def sample_rate_reason(source_rate: int, config: AudioRulesConfig) -> str | None:
    return "audio_sample_rate_low" if source_rate < config.min_source_rate else None


def clipped_fraction(samples: np.ndarray, clip_level: float) -> float:
    return float(np.mean(np.abs(samples) >= clip_level)) if len(samples) else 0.0


def silent_fraction(samples: np.ndarray, sample_rate: int, silence_db: float) -> float:
    frame = max(1, sample_rate // 50)
    num_frames = len(samples) // frame
    if num_frames == 0:
        return 1.0
    frames = samples[: num_frames * frame].reshape(num_frames, frame).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return float(np.mean(rms < 10.0 ** (silence_db / 20.0)))


def clipping_reason(samples: np.ndarray, config: AudioRulesConfig) -> str | None:
    return "audio_clipping" if clipped_fraction(samples, config.clip_level) > config.max_clipped_fraction else None


def silence_reason(samples: np.ndarray, sample_rate: int, config: AudioRulesConfig) -> str | None:
    fraction = silent_fraction(samples, sample_rate, config.silence_db)
    return "audio_mostly_silent" if fraction > config.max_silent_fraction else None


def audio_reason(samples: np.ndarray, sample_rate: int, source_rate: int, config: AudioRulesConfig) -> str | None:
    """The first failing audio rule (duration, sample rate, clipping, silence), or ``None``."""
    return (
        duration_reason(len(samples) / sample_rate, config)
        or sample_rate_reason(source_rate, config)
        or clipping_reason(samples, config)
        or silence_reason(samples, sample_rate, config)
    )
