"""Acoustic fingerprints: duplicates of one recording (re-encoded, resampled, re-gained, padded) by their audio.

Two recordings of the same sentence (another speaker, another take) are different training examples; two
files made from one recording are not. The transcript cannot tell these apart, the decoded PCM hash only
catches bit-identical samples, so the audio-text pipeline compares a robust spectral fingerprint [ours,
after Haitsma & Kalker, "A Highly Robust Audio Fingerprinting System", ISMIR 2002, on a time-normalized
log-mel representation]:

1. Resample to ``sample_rate`` (8 kHz: every copy, also a telephone-band one, keeps this band) with the
   pipeline's one resampler; power spectrum ``P[t, k]`` of Hann frames of ``n_fft`` samples every ``hop``
   samples (64 ms / 10 ms).
2. ``E[t, m] = sum_k P[t, k] W[m, k]``: ``num_mel`` triangular mel bands between ``min_hz`` and ``max_hz``;
   ``L = log(E + floor * max(E))`` (the floor keeps coding noise in near-silence from flipping bits).
3. Active span: frame energy ``e[t] = sum_k P[t, k]``, cumulative share ``c[t] = sum_{s<=t} e[s] / sum e``;
   the span runs from the first ``t`` with ``c[t] >= q`` to the first with ``c[t] >= 1 - q``. Unlike a level
   threshold this moves continuously with the signal, so added silence (padding), a gain change or coding
   noise shift it by at most a frame.
4. Time normalization: the span is cut into ``num_segments`` equal segments; ``S[i, m]`` = mean of ``L``
   over segment ``i``.
5. Bits: ``F[i, m] = 1`` iff ``(S[i+1, m] - S[i+1, m+1]) - (S[i, m] - S[i, m+1]) > 0`` for
   ``i < num_segments - 1``, ``m < num_mel - 1``: ``16 x 32 = 512`` bits by default. Log differences make
   every bit gain-invariant.

Two clips are duplicates when their fingerprints differ in at most ``max_distance`` (a fraction of the bits).
Measured on flite speech (``tests/data/test_audio_dedup.py``: 55 recordings, the same sentences in 3-4 voices
and at two pitches of one voice, plus demo clips; 207 planted copies): copies (FLAC, WAV float, Ogg Vorbis,
MP3, 8/22.05/44.1 kHz resampling, -6 dB, 0.33 s of silence around) differ in at most 7.4% of the bits; the
same sentence in another voice or at another pitch in at least 36%; the closest distinct pair, one voice
reading two sentences that differ in one word ("the letter B" / "the letter N"), in 16.2%. A copy whose speed
was changed is a near duplicate too (time normalization), which is what an augmentation copy is.

Candidates come from LSH over sampled bits: ``num_bands`` bands of ``bits_per_band`` seeded bit positions;
clips sharing a band value are compared. A pair differing in a fraction ``p`` of the bits becomes a candidate
with probability ``1 - (1 - (1 - p)^bits_per_band)^num_bands`` (16 x 16: 0.996 at p = 0.074, 0.89 at p = 0.12,
2e-4 at p = 0.5), and every candidate is verified by its exact Hamming distance.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator

import numpy as np

from trimodal_core import numpy_rng


@dataclasses.dataclass(frozen=True, kw_only=True)
class AcousticDedupConfig:
    """Acoustic-fingerprint near-duplicate settings."""

    max_distance: float = 0.12
    """Fraction of fingerprint bits at or below which two clips are copies of one recording (midway between the
    copies, at most 0.074, and the closest distinct recordings, 0.162, measured in the module docstring)."""
    sample_rate: int = 8000
    """Rate the fingerprint is computed at (Hz)."""
    n_fft: int = 512
    """STFT frame length in samples at ``sample_rate``."""
    hop: int = 80
    """STFT hop in samples at ``sample_rate``."""
    num_mel: int = 33
    """Mel bands (``num_mel - 1`` bits per segment step)."""
    min_hz: float = 100.0
    """Lowest mel band edge."""
    max_hz: float = 3800.0
    """Highest mel band edge (below ``sample_rate / 2``)."""
    floor: float = 1e-4
    """Band energies below ``floor * max`` are lifted to it before the log."""
    edge_share: float = 0.01
    """``q``: the share of the energy cut off at each end when finding the active span."""
    num_segments: int = 17
    """Equal segments of the active span (``num_segments - 1`` bit rows)."""
    num_bands: int = 16
    """LSH bands."""
    bits_per_band: int = 16
    """Sampled bit positions per LSH band."""
    seed: int = 0
    """Seed of the sampled bit positions."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_distance < 0.5:
            raise ValueError(f"AcousticDedupConfig.max_distance must be in [0, 0.5), got {self.max_distance}")
        if not 0 < self.min_hz < self.max_hz <= self.sample_rate / 2:
            raise ValueError("AcousticDedupConfig: need 0 < min_hz < max_hz <= sample_rate / 2")
        for name in ("n_fft", "hop", "num_bands", "bits_per_band"):
            if getattr(self, name) < 1:
                raise ValueError(f"AcousticDedupConfig.{name} must be positive, got {getattr(self, name)}")
        if self.num_mel < 2 or self.num_segments < 2:
            raise ValueError("AcousticDedupConfig.num_mel and num_segments must be at least 2")
        if not 0.0 <= self.edge_share < 0.5:
            raise ValueError(f"AcousticDedupConfig.edge_share must be in [0, 0.5), got {self.edge_share}")
        if self.bits_per_band > self.num_bits:
            raise ValueError(f"AcousticDedupConfig.bits_per_band must be at most {self.num_bits}")

    @property
    def num_bits(self) -> int:
        return (self.num_segments - 1) * (self.num_mel - 1)

    @property
    def max_bits(self) -> int:
        """``max_distance`` in bits."""
        return int(self.max_distance * self.num_bits)


@functools.cache
def _mel_filters(n_fft: int, rate: int, num_mel: int, min_hz: float, max_hz: float) -> np.ndarray:
    """``W [num_mel, n_fft // 2 + 1]``: triangular filters equally spaced on the HTK mel scale."""

    def to_mel(hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    mels = np.linspace(to_mel(np.array(min_hz)), to_mel(np.array(max_hz)), num_mel + 2)
    edges = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    weights = np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid))
    return np.clip(weights, 0.0, None).astype(np.float32)


def fingerprint(samples: np.ndarray, rate: int, config: AcousticDedupConfig) -> bytes:
    """The ``config.num_bits``-bit fingerprint of mono float32 ``samples`` at ``rate`` Hz, packed big-endian.

    A clip without energy (all zeros) gives all-zero bits.
    """
    from trimodal_tokenizers.audio_inputs import resample

    x = resample(np.ascontiguousarray(samples, dtype=np.float32), rate, config.sample_rate)
    n_fft, hop = config.n_fft, config.hop
    x = np.pad(x, (0, max(0, n_fft - len(x))))
    num_frames = 1 + (len(x) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:num_frames]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    energy = power.sum(axis=1)
    total = float(energy.sum())
    if not total > 0.0:
        return bytes(config.num_bits // 8 + (config.num_bits % 8 > 0))
    bands = power @ _mel_filters(n_fft, config.sample_rate, config.num_mel, config.min_hz, config.max_hz).T
    log_bands = np.log(bands + config.floor * float(bands.max()))
    share = np.cumsum(energy) / total
    start = int(np.searchsorted(share, config.edge_share))
    end = max(start + 1, int(np.searchsorted(share, 1.0 - config.edge_share)) + 1)
    span = log_bands[start:end]
    cuts = np.linspace(0, len(span), config.num_segments + 1)
    segments = np.stack([
        span[int(cuts[i]) : max(int(cuts[i]) + 1, int(cuts[i + 1]))].mean(axis=0) for i in range(config.num_segments)
    ])
    slope = segments[:, :-1] - segments[:, 1:]
    bits = (slope[1:] - slope[:-1]) > 0
    return np.packbits(bits.reshape(-1)).tobytes()


def hamming(a: bytes, b: bytes) -> int:
    """Bits that differ between two packed fingerprints."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


@functools.cache
def _band_positions(config: AcousticDedupConfig) -> np.ndarray:
    rng = numpy_rng(config.seed, "acoustic-lsh")
    return np.stack([
        np.sort(rng.choice(config.num_bits, size=config.bits_per_band, replace=False)) for _ in range(config.num_bands)
    ])


def band_keys(packed: bytes, config: AcousticDedupConfig) -> Iterator[bytes]:
    """One LSH key per band: the band's index and the values of its sampled bits."""
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8))[: config.num_bits]
    for index, positions in enumerate(_band_positions(config)):
        yield index.to_bytes(2, "little") + np.packbits(bits[positions]).tobytes()
