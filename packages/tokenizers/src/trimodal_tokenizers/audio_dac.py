"""Audio tokenizer on the Descript Audio Codec (``dac``): waveform to ``[K, T]`` residual codes and back.

Official DAC weights cannot be downloaded here, so they are imported from a local ``.pth`` file
(:meth:`AudioTokenizer.from_dac_weights`, read with ``torch.load(weights_only=True)``); tests use
:meth:`AudioTokenizer.from_random_init` with the ``tiny`` architecture. A saved tokenizer is a directory with
``audio_tokenizer.json`` (architecture, codebooks kept) and ``model.safetensors``.

Inputs are validated and resampled to the codec rate by :mod:`trimodal_tokenizers.audio_inputs` (float mono
clips only; the project's one windowed-sinc resampler). Clips are right-padded with zeros to a whole number of
codec frames, so a 1-sample clip gives one frame and :meth:`AudioTokenizer.decode` returns exactly
``T * hop_length`` samples (within one frame of the input length; the 16/24 kHz decoders return 8 samples fewer,
which are zero-padded).
Needs the ``[audio]`` extra (torch, ``dac``).

We call ``encode``/``decode`` and not dac's one-shot ``compress``/``decompress``: with the 16 kHz layout the
latter returns 8 samples too few on short clips.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from trimodal_core.atomic import atomic_write_text
from trimodal_core.extras import missing_extra
from trimodal_tokenizers.audio_inputs import prepare_waveform
from trimodal_tokenizers.audio_protocol import AUDIO_META_FILE

try:
    import dac
    import torch
    from safetensors.torch import load_model, save_model
except ImportError as exc:
    raise missing_extra(
        package="trimodal-tokenizers", extra="audio", feature="the DAC audio tokenizer", cause=exc
    ) from exc

from trimodal_tokenizers.devices import resolve_device

_log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
AUDIO_FORMAT_VERSION = 1
DACVariant = Literal["16khz", "24khz", "44khz", "tiny"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DACArchConfig:
    """Arguments of ``dac.DAC`` (the architecture); presets in :func:`dac_arch`."""

    encoder_dim: int = 64
    """Channels of the first encoder layer (doubled at each downsampling)."""
    encoder_rates: tuple[int, ...] = (2, 4, 5, 8)
    """Encoder strides; their product is the hop length."""
    latent_dim: int | None = None
    """Latent channels (None: ``encoder_dim * 2**len(encoder_rates)``)."""
    decoder_dim: int = 1536
    """Channels of the first decoder layer."""
    decoder_rates: tuple[int, ...] = (8, 5, 4, 2)
    """Decoder strides (same product as the encoder's)."""
    n_codebooks: int = 12
    """Residual codebooks the model has."""
    codebook_size: int = 1024
    """Codes per codebook."""
    codebook_dim: int = 8
    """Dimension of the factorized codebook vectors."""
    sample_rate: int = 16000
    """Codec sample rate in Hz."""

    def __post_init__(self) -> None:
        if int(np.prod(self.encoder_rates)) != int(np.prod(self.decoder_rates)):
            raise ValueError("DACArchConfig: encoder_rates and decoder_rates must have the same product")
        for name in ("encoder_dim", "decoder_dim", "n_codebooks", "codebook_size", "codebook_dim", "sample_rate"):
            if getattr(self, name) < 1:
                raise ValueError(f"DACArchConfig.{name} must be positive")


def dac_arch(variant: DACVariant) -> DACArchConfig:
    """The architecture of an official DAC release (8 kbps models), or ``tiny`` for tests."""
    if variant == "16khz":
        return DACArchConfig(n_codebooks=12, sample_rate=16000)
    if variant == "24khz":
        return DACArchConfig(n_codebooks=32, sample_rate=24000)
    if variant == "44khz":
        return DACArchConfig(encoder_rates=(2, 4, 8, 8), decoder_rates=(8, 8, 4, 2), n_codebooks=9, sample_rate=44100)
    if variant == "tiny":
        return DACArchConfig(encoder_dim=8, decoder_dim=32, n_codebooks=4, sample_rate=16000)
    raise ValueError(f"unknown DAC variant {variant!r}; expected 16khz, 24khz, 44khz or tiny")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AudioTokenizerConfig:
    """Which codec and how many of its codebooks to keep."""

    variant: DACVariant = "16khz"
    """Architecture preset (``tiny`` is a small random-init model for tests)."""
    num_codebooks: int = 4
    """Residual codebooks kept per frame (the first ``num_codebooks``; fewer = coarser audio, fewer tokens)."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda[:i]``."""
    seed: int = 0
    """Seed of the random initialization (``from_random_init`` only)."""

    def __post_init__(self) -> None:
        if self.num_codebooks < 1:
            raise ValueError(f"AudioTokenizerConfig.num_codebooks must be positive, got {self.num_codebooks}")


class AudioTokenizer:
    """DAC codec: ``encode`` a mono float waveform to local codes ``[K, T]`` (``int64``), ``decode`` back."""

    kind = "dac"

    def __init__(self, model: dac.DAC, arch: DACArchConfig, *, num_codebooks: int, device: str = "auto") -> None:
        if not 1 <= num_codebooks <= arch.n_codebooks:
            raise ValueError(f"num_codebooks={num_codebooks} outside [1, {arch.n_codebooks}] for this codec")
        self.arch = arch
        self.num_codebooks = num_codebooks
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.hop_length = int(np.prod(arch.encoder_rates))

    # ------------------------------------------------------------------ construction and I/O
    @classmethod
    def from_random_init(cls, config: AudioTokenizerConfig) -> AudioTokenizer:
        arch = dac_arch(config.variant)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = _build_model(arch)
        return cls(model, arch, num_codebooks=config.num_codebooks, device=config.device)

    @classmethod
    def from_dac_weights(cls, path: str | Path, *, num_codebooks: int, device: str = "auto") -> AudioTokenizer:
        """Import an official DAC ``.pth`` file (a local path; nothing is downloaded)."""
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"DAC weights file not found: {p}")
        try:
            data = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"{p}: not a DAC weights file readable with weights_only=True ({exc})") from None
        if not isinstance(data, dict) or "state_dict" not in data or "metadata" not in data:
            raise ValueError(f"{p}: expected a dict with 'state_dict' and 'metadata' (an official DAC .pth)")
        kwargs = dict(data["metadata"].get("kwargs", {}))
        fields = {f.name for f in dataclasses.fields(DACArchConfig)}
        arch = DACArchConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items() if k in fields})
        model = _build_model(arch)
        model.load_state_dict(data["state_dict"], strict=True)
        return cls(model, arch, num_codebooks=num_codebooks, device=device)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto") -> AudioTokenizer:
        p = Path(path)
        try:
            meta = json.loads((p / AUDIO_META_FILE).read_text())
        except FileNotFoundError:
            raise ValueError(f"{p}: no {AUDIO_META_FILE}; not an audio tokenizer directory") from None
        if meta.get("format_version") != AUDIO_FORMAT_VERSION or meta.get("kind") != cls.kind:
            raise ValueError(f"{p / AUDIO_META_FILE}: unknown format_version or kind")
        arch = DACArchConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["arch"].items()})
        model = _build_model(arch)
        if not (p / WEIGHTS_FILE).is_file():
            raise ValueError(f"{p}: missing {WEIGHTS_FILE}")
        load_model(model, str(p / WEIGHTS_FILE), strict=True)
        return cls(model, arch, num_codebooks=int(meta["num_codebooks"]), device=device)

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        save_model(self.model, str(p / WEIGHTS_FILE))
        meta: dict[str, Any] = {
            "format_version": AUDIO_FORMAT_VERSION,
            "kind": self.kind,
            "arch": dataclasses.asdict(self.arch),
            "num_codebooks": self.num_codebooks,
        }
        atomic_write_text(p / AUDIO_META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ properties
    @property
    def sample_rate(self) -> int:
        return self.arch.sample_rate

    @property
    def codebook_size(self) -> int:
        return self.arch.codebook_size

    @property
    def frame_rate(self) -> float:
        """Codec frames per second of audio."""
        return self.sample_rate / self.hop_length

    # ------------------------------------------------------------------ encode / decode
    def prepare(self, waveform: np.ndarray, sample_rate: int, *, name: str = "waveform") -> torch.Tensor:
        """Validate one clip and resample it to the codec rate; returns a float32 tensor ``[N]`` on the device."""
        wave = prepare_waveform(waveform, sample_rate, self.sample_rate, name=name)
        return torch.from_numpy(wave).to(self.device)

    @torch.inference_mode()
    def encode_batch(self, waveforms: list[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Codes ``[K, ceil(N' / hop)]`` per clip (``N'`` = length at the codec rate).

        Clips with the same number of frames are encoded together, so a clip's codes do not depend on which
        other clips share the call.
        """
        prepared = [self.prepare(w, sample_rate, name=f"waveforms[{i}]") for i, w in enumerate(waveforms)]
        frames = [-(-len(t) // self.hop_length) for t in prepared]
        out: list[np.ndarray | None] = [None] * len(prepared)
        for n_frames in sorted(set(frames)):
            members = [i for i, f in enumerate(frames) if f == n_frames]
            padded = n_frames * self.hop_length
            batch = torch.stack([torch.nn.functional.pad(prepared[i], (0, padded - len(prepared[i]))) for i in members])
            codes = self.model.encode(batch[:, None, :], n_quantizers=self.num_codebooks)[1]
            codes = codes[:, : self.num_codebooks].to("cpu", torch.int64).numpy()
            for row, i in enumerate(members):
                out[i] = codes[row]
        return [c for c in out if c is not None]

    def encode(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        return self.encode_batch([waveform], sample_rate)[0]

    @torch.inference_mode()
    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Waveform (float32, codec rate, ``T * hop_length`` samples) from codes ``[K, T]``."""
        arr = np.asarray(codes)
        if arr.ndim != 2 or arr.shape[0] != self.num_codebooks or arr.shape[1] == 0:
            raise ValueError(f"codes must have shape [{self.num_codebooks}, T>0], got {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= self.codebook_size:
            raise ValueError(f"codes must be integers in [0, {self.codebook_size})")
        tensor = torch.from_numpy(arr.astype(np.int64))[None].to(self.device)
        z = self.model.quantizer.from_codes(tensor)[0]
        wave = self.model.decode(z)[0, 0].float().cpu().numpy()
        # The 16/24 kHz decoders return a few samples fewer than T * hop; pad so the length is exact.
        target = arr.shape[1] * self.hop_length
        return np.pad(wave, (0, max(0, target - len(wave))))[:target]

    def decode_batch(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        return [self.decode(c) for c in codes]

    def __repr__(self) -> str:
        return (
            f"AudioTokenizer(sample_rate={self.sample_rate}, num_codebooks={self.num_codebooks}, "
            f"codebook_size={self.codebook_size}, device={self.device})"
        )


def _build_model(arch: DACArchConfig) -> dac.DAC:
    with warnings.catch_warnings():
        # dac uses torch's deprecated weight_norm; the warning is not actionable here.
        warnings.filterwarnings("ignore", message=".*weight_norm.*")
        return dac.DAC(**_dac_kwargs(arch))


def _dac_kwargs(arch: DACArchConfig) -> dict[str, Any]:
    kwargs = dataclasses.asdict(arch)
    kwargs["encoder_rates"] = list(arch.encoder_rates)
    kwargs["decoder_rates"] = list(arch.decoder_rates)
    return kwargs
