"""Validation and resampling of one waveform before an audio tokenizer encodes it (shared by every codec).

Input conversions (documented; everything else is a ValueError naming the clip):

* float waveforms only (integer PCM is rejected: its scale is ambiguous); ``[1, N]`` / ``[N, 1]`` are squeezed
  to mono, other multi-channel arrays are rejected; NaN/inf and empty clips are rejected;
* any positive integer sample rate up to 768 kHz is resampled to the codec rate by :func:`resample`, the one
  resampler of the project (the data pipelines' decoder and the acoustic fingerprints use it too): torchaudio's
  band-limited windowed sinc, ``y[n] = sum_k x[k] h(n / r - k)`` with ``r = target / source`` (reduced by the
  gcd), ``h`` a Hann-windowed sinc with 6 zero crossings and its cut-off at the lower Nyquist rate;
  deterministic on CPU. Measured against scipy's polyphase FIR (``resample_poly``) on 12 rate pairs
  (``bench/bench_resample.py``): 1.18x faster (geometric mean, one thread) and about 5 dB more accurate.
"""

from __future__ import annotations

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
    """Mono float32 ``wave`` from ``source_rate`` to ``target_rate`` Hz (windowed sinc; identity if equal)."""
    if int(source_rate) == int(target_rate) or len(wave) == 0:
        return wave
    import torch
    import torchaudio.functional as F

    with torch.no_grad():
        out = F.resample(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None], int(source_rate),
                         int(target_rate))
    return out[0].numpy().astype(np.float32, copy=False)


def prepare_waveform(waveform: np.ndarray, sample_rate: int, target_rate: int, *, name: str = "waveform") -> np.ndarray:
    """:func:`validate_waveform` then :func:`resample` to ``target_rate``."""
    return resample(validate_waveform(waveform, sample_rate, name=name), int(sample_rate), target_rate)
