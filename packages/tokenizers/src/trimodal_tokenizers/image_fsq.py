"""The package's own discrete image tokenizer: a convolutional autoencoder with an FSQ (or VQ) bottleneck.

No pretrained image tokenizer weights can be downloaded here, so we train our own
(:func:`trimodal_tokenizers.image_train.train_image_tokenizer`). An image of ``resolution`` pixels becomes a
``(resolution / downsample_factor)^2`` grid of codes, flattened row-major into ``tokens_per_image`` local ids.
Full size: 256 px, factor 16, FSQ levels ``(8, 8, 8, 6, 5)`` (15,360 codes, about 2^14); CPU demos:
:meth:`ImageTokenizerConfig.tiny` (32 px, factor 4, 240 codes). A saved tokenizer is a directory with
``image_tokenizer.json`` (kind ``fsq``, config) and ``model.safetensors``. It implements
:class:`~trimodal_tokenizers.image_protocol.DiscreteImageTokenizer`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from trimodal_core.atomic import atomic_write_text
from trimodal_core.extras import missing_extra

try:
    import torch
    from safetensors.torch import load_model, save_model
    from torch import nn
except ImportError as exc:
    raise missing_extra(
        package="trimodal-tokenizers", extra="image", feature="the FSQ image tokenizer", cause=exc
    ) from exc

from trimodal_tokenizers.devices import resolve_device
from trimodal_tokenizers.image_io import DEFAULT_MAX_PIXELS, ImageFit, images_to_uint8, uint8_to_unit, unit_to_images
from trimodal_tokenizers.image_protocol import IMAGE_META_FILE
from trimodal_tokenizers.quantizers import FSQ, VQ

if TYPE_CHECKING:
    from trimodal_tokenizers.image_train import ImageTrainConfig, ImageTrainResult

WEIGHTS_FILE = "model.safetensors"
IMAGE_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageTokenizerConfig:
    """Architecture and preprocessing of the image tokenizer."""

    resolution: int = 256
    """Square input/output size in pixels."""
    downsample_factor: int = 16
    """Pixels per code along each side (a power of two)."""
    channels: tuple[int, ...] = (64, 128, 256, 256)
    """Conv channels per resolution level; needs ``log2(downsample_factor)`` entries."""
    num_res_blocks: int = 1
    """Residual blocks per resolution level."""
    quantizer: Literal["fsq", "vq"] = "fsq"
    """Bottleneck: finite scalar quantization (no codebook loss, no collapse) or a learned VQ codebook."""
    fsq_levels: tuple[int, ...] = (8, 8, 8, 6, 5)
    """FSQ levels per latent channel; the codebook size is their product."""
    vq_codebook_size: int = 16384
    """Number of VQ codes (``quantizer="vq"`` only)."""
    vq_dim: int = 16
    """VQ code dimension (``quantizer="vq"`` only)."""
    fit: ImageFit = "center_crop"
    """How non-square images become square: crop the centre or pad with ``background``."""
    background: tuple[int, int, int] = (255, 255, 255)
    """RGB colour that transparent pixels and padding become."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """Files larger than this many pixels are rejected before decoding."""
    batch_size: int = 64
    """Images per forward pass in encode/decode."""

    def __post_init__(self) -> None:
        f = self.downsample_factor
        if f < 2 or f & (f - 1):
            raise ValueError(f"ImageTokenizerConfig.downsample_factor must be a power of two >= 2, got {f}")
        if self.resolution < f or self.resolution % f:
            raise ValueError(f"ImageTokenizerConfig.resolution {self.resolution} must be a multiple of {f}")
        if len(self.channels) != int(math.log2(f)):
            raise ValueError(f"ImageTokenizerConfig.channels needs {int(math.log2(f))} entries for factor {f}")
        if self.quantizer not in ("fsq", "vq"):
            raise ValueError(f"ImageTokenizerConfig.quantizer must be fsq or vq, got {self.quantizer!r}")
        if self.batch_size < 1:
            raise ValueError("ImageTokenizerConfig.batch_size must be positive")

    @classmethod
    def tiny(cls) -> ImageTokenizerConfig:
        """32 px, 8x8 codes from 240 FSQ codes; trains on CPU in seconds."""
        return cls(resolution=32, downsample_factor=4, channels=(32, 64), fsq_levels=(8, 6, 5), fit="pad")

    @classmethod
    def preset(cls, name: str) -> ImageTokenizerConfig:
        """``tiny`` (32 px, 64 tokens, 240 codes), ``demo`` (64 px, 64 tokens, 1000 codes) or ``base``
        (256 px, 256 tokens, 15,360 codes)."""
        if name == "tiny":
            return cls.tiny()
        if name == "demo":
            return cls(resolution=64, downsample_factor=8, channels=(16, 32, 64), fsq_levels=(8, 5, 5, 5), fit="pad")
        if name == "base":
            return cls()
        raise ValueError(f"unknown image tokenizer preset {name!r}; expected tiny, demo or base")

    @property
    def codebook_size(self) -> int:
        return math.prod(self.fsq_levels) if self.quantizer == "fsq" else self.vq_codebook_size


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            _norm(channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
            _norm(channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ImageAutoencoder(nn.Module):
    """Conv encoder (stride-2 downsampling) -> quantizer -> conv decoder (nearest upsampling)."""

    def __init__(self, config: ImageTokenizerConfig) -> None:
        super().__init__()
        ch = config.channels
        self.quantizer: FSQ | VQ = (
            FSQ(config.fsq_levels) if config.quantizer == "fsq" else VQ(config.vq_codebook_size, config.vq_dim)
        )
        enc: list[nn.Module] = [nn.Conv2d(3, ch[0], 3, padding=1)]
        for i, c in enumerate(ch):
            enc += [ResBlock(c) for _ in range(config.num_res_blocks)]
            enc.append(nn.Conv2d(c, ch[min(i + 1, len(ch) - 1)], 4, stride=2, padding=1))
        enc += [ResBlock(ch[-1]), _norm(ch[-1]), nn.SiLU(), nn.Conv2d(ch[-1], self.quantizer.dim, 1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(self.quantizer.dim, ch[-1], 3, padding=1), ResBlock(ch[-1])]
        for i in reversed(range(len(ch))):
            c_in = ch[min(i + 1, len(ch) - 1)]
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, ch[i], 3, padding=1)]
            dec += [ResBlock(ch[i]) for _ in range(config.num_res_blocks)]
        dec += [_norm(ch[0]), nn.SiLU(), nn.Conv2d(ch[0], 3, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x_BCHW: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.quantizer(self.encoder(x_BCHW))

    def decode_indices(self, indices_BHW: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.quantizer.indices_to_latent(indices_BHW))

    def forward(self, x_BCHW: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction, code indices and the quantizer's auxiliary loss."""
        q, indices, aux = self.encode(x_BCHW)
        return self.decoder(q), indices, aux


class ImageTokenizer:
    """Images to ``[N, tokens_per_image]`` local codes (``int64``) and back."""

    kind = "fsq"

    def __init__(self, model: ImageAutoencoder, config: ImageTokenizerConfig, *, device: str = "auto") -> None:
        self.config = config
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()

    @classmethod
    def from_random_init(cls, config: ImageTokenizerConfig, *, seed: int = 0, device: str = "auto") -> ImageTokenizer:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ImageAutoencoder(config)
        return cls(model, config, device=device)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto") -> ImageTokenizer:
        p = Path(path)
        try:
            meta = json.loads((p / IMAGE_META_FILE).read_text())
        except FileNotFoundError:
            raise ValueError(f"{p}: no {IMAGE_META_FILE}; not an image tokenizer directory") from None
        if meta.get("format_version") != IMAGE_FORMAT_VERSION or meta.get("kind") != cls.kind:
            raise ValueError(f"{p / IMAGE_META_FILE}: unknown format_version or kind")
        config = config_from_dict(meta["config"])
        if not (p / WEIGHTS_FILE).is_file():
            raise ValueError(f"{p}: missing {WEIGHTS_FILE}")
        model = ImageAutoencoder(config)
        load_model(model, str(p / WEIGHTS_FILE), strict=True)
        return cls(model, config, device=device)

    def save(self, path: str | Path, *, extra: dict[str, Any] | None = None) -> None:
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        save_model(self.model, str(p / WEIGHTS_FILE))
        meta = {"format_version": IMAGE_FORMAT_VERSION, "kind": self.kind, "config": config_to_dict(self.config)}
        meta.update(extra or {})
        atomic_write_text(p / IMAGE_META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ properties
    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @property
    def grid_size(self) -> int:
        return self.config.resolution // self.config.downsample_factor

    @property
    def tokens_per_image(self) -> int:
        return self.grid_size**2

    # ------------------------------------------------------------------ encode / decode
    def preprocess(self, images: list[Image.Image | str | Path]) -> np.ndarray:
        """Images (PIL, or file paths) to ``uint8 [N, 3, R, R]`` (conversions in :mod:`image_io`)."""
        cfg = self.config
        return images_to_uint8(
            images, cfg.resolution, fit=cfg.fit, background=cfg.background, max_pixels=cfg.max_pixels
        )

    @torch.inference_mode()
    def encode_uint8(self, pixels: np.ndarray) -> np.ndarray:
        """Codes of already preprocessed ``uint8 [N, 3, R, R]`` pixels."""
        out = []
        for start in range(0, len(pixels), self.config.batch_size):
            x = uint8_to_unit(pixels[start : start + self.config.batch_size], self.device)
            out.append(self.model.encode(x)[1].reshape(len(x), -1).cpu())
        if not out:
            return np.zeros((0, self.tokens_per_image), dtype=np.int64)
        return torch.cat(out).to(torch.int64).numpy()

    def encode_batch(self, images: list[Image.Image | str | Path]) -> np.ndarray:
        """``[N, tokens_per_image]`` local codes, ``int64``."""
        if isinstance(images, Image.Image | str | Path):
            raise TypeError("encode_batch expects a list of images")
        return self.encode_uint8(self.preprocess(list(images)))

    @torch.inference_mode()
    def decode_to_unit(self, codes: np.ndarray) -> torch.Tensor:
        """Reconstructions in ``[-1, 1]`` (``[N, 3, R, R]``, on the device) from codes ``[N, tokens_per_image]``."""
        arr = np.asarray(codes)
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] != self.tokens_per_image:
            raise ValueError(f"codes must have shape [N, {self.tokens_per_image}], got {np.shape(codes)}")
        if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= self.codebook_size):
            raise ValueError(f"codes must be integers in [0, {self.codebook_size})")
        out = []
        for start in range(0, len(arr), self.config.batch_size):
            chunk = torch.from_numpy(arr[start : start + self.config.batch_size].astype(np.int64)).to(self.device)
            out.append(self.model.decode_indices(chunk.reshape(-1, self.grid_size, self.grid_size)).clamp(-1, 1))
        return torch.cat(out) if out else torch.zeros(0, 3, self.resolution, self.resolution)

    def decode_batch(self, codes: np.ndarray) -> list[Image.Image]:
        """RGB images of ``resolution`` pixels from codes ``[N, tokens_per_image]``."""
        return unit_to_images(self.decode_to_unit(codes))

    def __repr__(self) -> str:
        return (
            f"ImageTokenizer(resolution={self.resolution}, tokens_per_image={self.tokens_per_image}, "
            f"codebook_size={self.codebook_size}, quantizer={self.config.quantizer}, device={self.device})"
        )


def config_to_dict(config: ImageTokenizerConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_dict(data: dict[str, Any]) -> ImageTokenizerConfig:
    fields = {f.name for f in dataclasses.fields(ImageTokenizerConfig)}
    unknown = set(data) - fields
    if unknown:
        raise ValueError(f"unknown image tokenizer config fields {sorted(unknown)}")
    return ImageTokenizerConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def train_image_tokenizer(
    images_dir_or_list: str | Path | list[Image.Image | str | Path], config: ImageTrainConfig, out_dir: str | Path
) -> ImageTrainResult:
    """Train an :class:`ImageTokenizer` (see :func:`trimodal_tokenizers.image_train.train_image_tokenizer`)."""
    from trimodal_tokenizers import image_train

    return image_train.train_image_tokenizer(images_dir_or_list, config, out_dir)


def __getattr__(name: str) -> Any:
    # The training config lives next to the training loop; re-exported here because the contract names this module.
    if name in ("ImageTrainConfig", "ImageTrainResult"):
        from trimodal_tokenizers import image_train

        return getattr(image_train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
