"""Validation and resampling of one waveform before an audio tokenizer encodes it (shared by every codec).

Input conversions (documented; everything else is a ValueError naming the clip):

* float waveforms only (integer PCM is rejected: its scale is ambiguous); ``[1, N]`` / ``[N, 1]`` are squeezed
  to mono, other multi-channel arrays are rejected; NaN/inf and empty clips are rejected;
* any positive integer sample rate up to 768 kHz is resampled to the codec rate with a polyphase FIR filter
  (``scipy.signal.resample_poly``, Kaiser window; ~50x faster than torchaudio's sinc resampler on CPU):
  ``y = downsample_D(h * upsample_U(x))`` with ``U / D = codec_rate / source_rate`` reduced by their gcd.
"""

from __future__ import annotations

import math

import numpy as np

MAX_SAMPLE_RATE = 768_000


def validate_waveform(waveform: np.ndarray, sample_rate: int, *, name: str = "waveform") -> np.ndarray:
    """One mono clip as contiguous float32 ``[N]``, after the checks in the module docstring."""
    wave = np.asarray(waveform)
    if not np.issubdtype(wave.dtype, np.floating):
        raise ValueError(f"{name}: dtype {wave.dtype} is not floating point; convert PCM to float in [-1, 1]")
    if wave.ndim == 2 and 1 in wave.shape:
        wave = wave.reshape(-1)
    if wave.ndim != 1:
        raise ValueError(f"{name}: expected a mono waveform [N], got shape {wave.shape}")
    if wave.size == 0:
        raise ValueError(f"{name}: empty clip")
    bad = int(np.count_nonzero(~np.isfinite(wave)))
    if bad:
        raise ValueError(f"{name}: {bad} NaN or infinite samples")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise ValueError(f"{name}: sample_rate must be an integer number of Hz, got {sample_rate!r}")
    if not 0 < int(sample_rate) <= MAX_SAMPLE_RATE:
        raise ValueError(f"{name}: sample_rate {sample_rate} outside (0, {MAX_SAMPLE_RATE}]")
    return np.ascontiguousarray(wave, dtype=np.float32)


def resample(wave: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Mono float32 ``wave`` from ``source_rate`` to ``target_rate`` Hz (polyphase FIR; identity if equal)."""
    if int(source_rate) == int(target_rate):
        return wave
    from scipy.signal import resample_poly

    ratio = math.gcd(int(source_rate), int(target_rate))
    up, down = int(target_rate) // ratio, int(source_rate) // ratio
    return resample_poly(wave, up, down).astype(np.float32)


def prepare_waveform(waveform: np.ndarray, sample_rate: int, target_rate: int, *, name: str = "waveform") -> np.ndarray:
    """:func:`validate_waveform` then :func:`resample` to ``target_rate``."""
    return resample(validate_waveform(waveform, sample_rate, name=name), int(sample_rate), target_rate)
