"""Decode untrusted audio bytes (WAV, FLAC, Ogg Vorbis/Opus, MP3 via libsndfile) into mono float32, guarded.

The header is read first (``soundfile.info``) and files longer than ``max_seconds`` are refused before
any sample is decoded, so a tiny compressed file cannot expand into gigabytes. Channels are averaged to
mono; NaN or infinite samples are a reject (``audio_non_finite``), never silently zeroed. Resampling to the
codec rate uses the project's one resampler (:func:`trimodal_tokenizers.audio_inputs.resample`, band-limited
windowed sinc, deterministic on CPU); rules that look at the source rate (minimum sample rate) get it from
:class:`DecodedAudio.source_rate`.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np

from trimodal_tokenizers.audio_inputs import resample
from trimodal_tokenizers.decode_error import DecodeError


@dataclasses.dataclass(frozen=True, kw_only=True)
class AudioDecodeConfig:
    """Limits and the target rate for audio decoding."""

    max_seconds: float = 600.0
    """Files whose header declares a longer duration are refused undecoded (``audio_too_long_to_decode``)."""
    target_rate: int | None = None
    """Resample to this rate (the codec's); ``None`` keeps the source rate."""

    def __post_init__(self) -> None:
        if self.max_seconds <= 0:
            raise ValueError(f"AudioDecodeConfig.max_seconds must be positive, got {self.max_seconds}")
        if self.target_rate is not None and self.target_rate < 1:
            raise ValueError(f"AudioDecodeConfig.target_rate must be positive, got {self.target_rate}")


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class DecodedAudio:
    """Mono float32 samples at ``sample_rate``, with what the source declared."""

    samples: np.ndarray
    sample_rate: int
    source_rate: int
    source_channels: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_audio(data: bytes, config: AudioDecodeConfig | None = None) -> DecodedAudio:
    """Decode ``data`` or raise :class:`DecodeError`.

    Reasons: ``empty_file``, ``audio_decode_error``, ``audio_too_long_to_decode``, ``audio_empty``,
    ``audio_non_finite``.
    """
    import soundfile as sf  # the [audio] extra; imported here so the stage configs import without it

    config = config or AudioDecodeConfig()
    if not data:
        raise DecodeError("empty_file")
    try:
        with sf.SoundFile(io.BytesIO(data)) as handle:
            rate, channels, frames = handle.samplerate, handle.channels, handle.frames
            if rate < 1 or channels < 1:
                raise DecodeError("audio_decode_error", f"header says {rate} Hz, {channels} channels")
            # Some containers (Ogg, MP3) report frames lazily or not at all; cap the read either way.
            max_frames = int(config.max_seconds * rate)
            if 0 < max_frames < frames:
                raise DecodeError("audio_too_long_to_decode", f"{frames / rate:.1f} s > {config.max_seconds} s")
            samples = handle.read(frames=max_frames + 1, dtype="float32", always_2d=True)
    except DecodeError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError, EOFError) as exc:
        raise DecodeError("audio_decode_error", f"{type(exc).__name__}: {exc}") from None
    if len(samples) > max_frames:
        raise DecodeError("audio_too_long_to_decode", f"more than {config.max_seconds} s")
    if len(samples) == 0:
        raise DecodeError("audio_empty")
    if not np.isfinite(samples).all():
        raise DecodeError("audio_non_finite", f"{int((~np.isfinite(samples)).sum())} non-finite samples")
    mono = samples.mean(axis=1, dtype=np.float32) if channels > 1 else samples[:, 0]
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    target = config.target_rate or rate
    return DecodedAudio(samples=resample(mono, rate, target), sample_rate=target, source_rate=rate,
                        source_channels=channels)
