"""Audio tokenizer on the Codec 2 speech codec (PyPI ``pycodec2``, libcodec2 bundled; LGPL-2.1): no weights.

Codec 2 is a classic parametric speech codec (sinusoidal model: pitch, voicing, energy and LSP spectral
envelope per frame) at 8 kHz mono int16. Its bit stream decodes to intelligible speech with nothing
downloaded, so it is the audio tokenizer of the offline demo and of tests that need codes that *mean*
something; DAC (:mod:`trimodal_tokenizers.audio_dac`, official weights from a local path) stays the codec
for real runs. Needs ``pip install 'trimodal-tokenizers[audio]'``.

Codes. One codec frame of ``mode`` (3200 bit/s: 160 samples = 20 ms, 64 bits; 50 frames/s) is one column of
the ``[K, T]`` code array: its ``B = bits_per_frame`` bits (MSB first, as the codec packs them) are padded
with zeros to ``K * b`` bits and cut into ``K = ceil(B / b)`` codebooks of ``b = bits_per_code`` bits,
``code_k = sum_j bit[k*b + j] * 2**(b-1-j)``, so ``codebook_size = 2**b``. The split is lossless: the codes
of a clip repack to exactly the codec's bit stream.

Why ``bits_per_code = 8`` by default [ours]: 3200 bit/s gives ``K = 8`` bytes per frame, 400 tokens per second
and ``8 * 256 = 2,048`` audio ids in the token space. ``b = 16`` (K = 4, 65,536 codes) halves the tokens but
needs a 262,144-id audio range (logits and embeddings larger than the whole text vocabulary of a small model,
and most codes seen too rarely to learn); ``b = 4`` doubles the sequence for no gain. Byte boundaries do not
follow Codec 2's fields (voicing 2 bits, pitch 7, energy 5, ten 5-bit LSP deltas straddle bytes); the model
predicts all ``K`` codes of a frame jointly, so nothing is lost, but a field-aligned split could be tried.

Inputs are validated and resampled to 8 kHz by :mod:`trimodal_tokenizers.audio_inputs` (band-limited
windowed sinc), scaled to int16 (``round(clip(x, -1, 1) * 32767)``), right-padded with zeros to whole frames; each
clip gets a fresh codec state (Codec 2 carries state across frames), so a clip's codes do not depend on the
clips encoded before it. :meth:`Codec2Tokenizer.decode` returns ``T * samples_per_frame`` float32 samples at
8 kHz (divided by 32768). Encoding is deterministic; decoding is not bit-reproducible from call to call:
libcodec2 draws the phases of unvoiced harmonics from one process-wide random generator that its API cannot
reset (the speech sounds the same; measure decoded audio with tolerances or a recognizer, never bit-exact).
A saved tokenizer is a directory holding only ``audio_tokenizer.json``.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np

from trimodal_core.atomic import atomic_write_text
from trimodal_core.extras import missing_extra
from trimodal_tokenizers.audio_inputs import prepare_waveform
from trimodal_tokenizers.audio_protocol import AUDIO_META_FILE, read_audio_meta

try:
    import pycodec2
except ImportError as exc:
    raise missing_extra(
        package="trimodal-tokenizers", extra="audio", feature="the Codec 2 audio tokenizer", cause=exc
    ) from exc

_log = logging.getLogger(__name__)

CODEC2_FORMAT_VERSION = 1
CODEC2_SAMPLE_RATE = 8000
Codec2Mode = Literal[3200, 2400, 1600, 1400, 1300, 1200, 700]
CODEC2_MODES: tuple[int, ...] = (3200, 2400, 1600, 1400, 1300, 1200, 700)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Codec2Config:
    """Which Codec 2 mode and how its frame bits become codes."""

    mode: Codec2Mode = 3200
    """Bit rate in bit/s: 3200 and 2400 have 20 ms frames (64 / 48 bits), the others 40 ms frames (1600: 64,
    1400: 56, 1300: 52, 1200: 48, 700 (700C): 28 bits). 3200 is the most intelligible."""
    bits_per_code: int = 8
    """Bits of one code: ``K = ceil(bits_per_frame / bits_per_code)`` codebooks of ``2**bits_per_code`` codes
    (3200 bit/s: 8 -> K = 8 x 256; 16 -> K = 4 x 65,536). See the module docstring for the default."""

    def __post_init__(self) -> None:
        if self.mode not in CODEC2_MODES:
            raise ValueError(f"Codec2Config.mode must be one of {CODEC2_MODES}, got {self.mode!r}")
        if isinstance(self.bits_per_code, bool) or not 1 <= int(self.bits_per_code) <= 16:
            raise ValueError(f"Codec2Config.bits_per_code must be in [1, 16], got {self.bits_per_code!r}")


class Codec2Tokenizer:
    """Codec 2: ``encode`` a mono float waveform to codes ``[K, T]`` (``int64``), ``decode`` back to 8 kHz."""

    kind = "codec2"

    def __init__(self, config: Codec2Config | None = None) -> None:
        self.config = config or Codec2Config()
        probe = pycodec2.Codec2(self.config.mode)
        self.samples_per_frame = int(probe.samples_per_frame())
        self.bits_per_frame = int(probe.bits_per_frame())
        self.bytes_per_frame = int(probe.bytes_per_frame())
        self.num_codebooks = -(-self.bits_per_frame // self.config.bits_per_code)
        # Bit weights of one code, MSB first: code = bits[k*b:(k+1)*b] @ weights.
        self._weights = (1 << np.arange(self.config.bits_per_code - 1, -1, -1)).astype(np.int64)

    # ------------------------------------------------------------------ construction and I/O
    @classmethod
    def load(cls, path: str | Path) -> Codec2Tokenizer:
        p = Path(path)
        meta = read_audio_meta(p)
        if meta.get("format_version") != CODEC2_FORMAT_VERSION or meta.get("kind") != cls.kind:
            raise ValueError(f"{p / AUDIO_META_FILE}: unknown format_version or kind (expected {cls.kind!r})")
        raw = meta.get("config")
        if not isinstance(raw, dict):
            raise ValueError(f"{p / AUDIO_META_FILE}: missing 'config'")
        try:
            tokenizer = cls(Codec2Config(**raw))
        except TypeError as exc:
            raise ValueError(f"{p / AUDIO_META_FILE}: bad config ({exc})") from None
        if meta.get("num_codebooks") != tokenizer.num_codebooks:
            raise ValueError(f"{p / AUDIO_META_FILE}: num_codebooks does not match mode and bits_per_code")
        saved, current = meta.get("pycodec2_version"), _pycodec2_version()
        if saved != current:
            _log.warning("%s: saved with pycodec2 %s, running %s (the bit stream may differ)", p, saved, current)
        return tokenizer

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {
            "format_version": CODEC2_FORMAT_VERSION,
            "kind": self.kind,
            "config": dataclasses.asdict(self.config),
            "num_codebooks": self.num_codebooks,
            "codebook_size": self.codebook_size,
            "sample_rate": self.sample_rate,
            "pycodec2_version": _pycodec2_version(),
        }
        atomic_write_text(p / AUDIO_META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ properties
    @property
    def sample_rate(self) -> int:
        return CODEC2_SAMPLE_RATE

    @property
    def codebook_size(self) -> int:
        return 1 << self.config.bits_per_code

    @property
    def frame_rate(self) -> float:
        """Codec frames per second of audio (3200 bit/s: 50)."""
        return self.sample_rate / self.samples_per_frame

    @property
    def hop_length(self) -> int:
        """Samples per frame at 8 kHz (the name DAC uses)."""
        return self.samples_per_frame

    # ------------------------------------------------------------------ encode / decode
    def encode(self, waveform: np.ndarray, sample_rate: int, *, name: str = "waveform") -> np.ndarray:
        """Codes ``[K, ceil(N' / samples_per_frame)]`` of one clip (``N'`` = its length at 8 kHz)."""
        wave = prepare_waveform(waveform, sample_rate, self.sample_rate, name=name)
        pcm = np.round(np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16)
        num_frames = -(-len(pcm) // self.samples_per_frame)
        pcm = np.pad(pcm, (0, num_frames * self.samples_per_frame - len(pcm)))
        codec = pycodec2.Codec2(self.config.mode)  # fresh state per clip
        stream = b"".join(codec.encode(frame) for frame in pcm.reshape(num_frames, self.samples_per_frame))
        bits_TB = np.unpackbits(np.frombuffer(stream, np.uint8).reshape(num_frames, self.bytes_per_frame), axis=1)
        bits_TB = bits_TB[:, : self.bits_per_frame]
        padded = self.num_codebooks * self.config.bits_per_code
        bits_TB = np.pad(bits_TB, ((0, 0), (0, padded - self.bits_per_frame)))
        codes_TK = bits_TB.reshape(num_frames, self.num_codebooks, self.config.bits_per_code).astype(np.int64)
        return np.ascontiguousarray((codes_TK @ self._weights).T)

    def encode_batch(self, waveforms: list[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        return [self.encode(w, sample_rate, name=f"waveforms[{i}]") for i, w in enumerate(waveforms)]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Waveform (float32, 8 kHz, ``T * samples_per_frame`` samples) from codes ``[K, T]``.

        Bits past ``bits_per_frame`` in the last code (padding) are ignored.
        """
        arr = np.asarray(codes)
        if arr.ndim != 2 or arr.shape[0] != self.num_codebooks or arr.shape[1] == 0:
            raise ValueError(f"codes must have shape [{self.num_codebooks}, T>0], got {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= self.codebook_size:
            raise ValueError(f"codes must be integers in [0, {self.codebook_size})")
        num_frames = arr.shape[1]
        b = self.config.bits_per_code
        bits_TKb = (arr.T.astype(np.int64)[:, :, None] >> np.arange(b - 1, -1, -1)) & 1
        bits_TB = bits_TKb.reshape(num_frames, -1)[:, : self.bits_per_frame]
        bits_TB = np.pad(bits_TB, ((0, 0), (0, 8 * self.bytes_per_frame - self.bits_per_frame)))
        frames = np.packbits(bits_TB.astype(np.uint8), axis=1)
        codec = pycodec2.Codec2(self.config.mode)  # fresh state per clip, as in encode
        pcm = np.concatenate([codec.decode(frame.tobytes()) for frame in frames])
        return (pcm.astype(np.float32) / 32768.0).astype(np.float32)

    def decode_batch(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        return [self.decode(c) for c in codes]

    def __repr__(self) -> str:
        return (
            f"Codec2Tokenizer(mode={self.config.mode}, num_codebooks={self.num_codebooks}, "
            f"codebook_size={self.codebook_size}, frame_rate={self.frame_rate:g})"
        )


def build_codec2_tokenizer(config: Codec2Config | None = None) -> Codec2Tokenizer:
    """The Codec 2 tokenizer for ``config`` (default: 3200 bit/s, 8 codebooks of 256 codes)."""
    return Codec2Tokenizer(config)


def _pycodec2_version() -> str | None:
    try:
        return importlib.metadata.version("pycodec2")
    except importlib.metadata.PackageNotFoundError:
        return None
