"""Image input at the boundary: safe decoding, mode conversion to RGB, square fitting and tensor conversion.

Conversions (documented; anything else is a ValueError naming the file or list index):

* a 0-byte, unreadable or truncated file, or one over ``max_pixels`` (decompression-bomb guard, checked from
  the header before decoding), is a ValueError;
* animated images use their first frame;
* palette (``P``/``PA``), grayscale (``1``/``L``/``LA``), ``CMYK`` (Pillow's conversion), ``YCbCr`` etc. are
  converted to RGB; any alpha channel (or palette transparency) is composited onto ``background``;
* 16-bit images (``I;16*`` and 32-bit ``I``, read as 16-bit) are scaled to 8 bits (``v / 257``); floating
  point ``F`` images are rejected (their range is unknown);
* ``fit="center_crop"`` crops the central square, ``fit="pad"`` pads to a square with ``background``; then
  the square is resized (bicubic) to the tokenizer's resolution.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from trimodal_core.extras import missing_extra

try:
    import torch
except ImportError as exc:
    raise missing_extra(
        package="trimodal-tokenizers", extra="image", feature="the image tokenizer's image I/O", cause=exc
    ) from exc


ImageFit = Literal["center_crop", "pad"]
DEFAULT_MAX_PIXELS = 64 * 2**20
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode an image file fully (so truncation surfaces here); ValueError naming the file if it is bad."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise ValueError(f"image file not found: {p}") from None
    if not p.is_file():
        raise ValueError(f"{p}: not a regular file")
    if size == 0:
        raise ValueError(f"{p}: empty (0-byte) image file")
    with open(p, "rb") as handle:
        return _decode(handle, str(p), max_pixels)


def load_image_bytes(data: bytes, *, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Like :func:`load_image` for encoded bytes (a tar member, a Parquet cell); ``name`` goes into errors."""
    if not data:
        raise ValueError(f"{name}: empty (0-byte) image")
    return _decode(io.BytesIO(data), name, max_pixels)


def _decode(handle: BinaryIO, name: str, max_pixels: int) -> Image.Image:
    try:
        with Image.open(handle) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ValueError(f"{name}: {width}x{height} exceeds max_pixels={max_pixels} (decompression-bomb guard)")
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)
            image.load()
            return image.copy()
    except Image.DecompressionBombError as exc:
        raise ValueError(f"{name}: {exc}") from None
    except UnidentifiedImageError:
        raise ValueError(f"{name}: not a readable image file") from None
    except (OSError, SyntaxError, EOFError) as exc:
        raise ValueError(f"{name}: truncated or corrupt image ({exc})") from None


def to_rgb(
    image: Image.Image, *, background: tuple[int, int, int] = (255, 255, 255), name: str = "image"
) -> Image.Image:
    """Any Pillow mode to 8-bit RGB (see the module docstring for the conversions)."""
    if not isinstance(image, Image.Image):
        raise TypeError(f"{name}: expected a PIL image, got {type(image).__name__}")
    if image.width < 1 or image.height < 1:
        raise ValueError(f"{name}: image has no pixels ({image.width}x{image.height})")
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "F":
        raise ValueError(f"{name}: floating-point images (mode F) are not supported; convert to 8-bit first")
    if mode in _SIXTEEN_BIT:
        values = np.asarray(image, dtype=np.float64)
        eight = np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(eight, mode="L").convert("RGB")
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def fit_square(
    image: Image.Image, resolution: int, *, fit: ImageFit, background: tuple[int, int, int] = (255, 255, 255)
) -> Image.Image:
    """Crop or pad an RGB image to a square and resize it to ``resolution`` pixels."""
    width, height = image.size
    if fit == "center_crop":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        box = (left, top, left + side, top + side)
        return image.resize((resolution, resolution), Image.Resampling.BICUBIC, box=box)
    if fit == "pad":
        side = max(width, height)
        canvas = Image.new("RGB", (side, side), background)
        canvas.paste(image, ((side - width) // 2, (side - height) // 2))
        return canvas.resize((resolution, resolution), Image.Resampling.BICUBIC)
    raise ValueError(f"unknown fit {fit!r}; expected center_crop or pad")


def images_to_uint8(
    images: list[Image.Image | str | Path],
    resolution: int,
    *,
    fit: ImageFit,
    background: tuple[int, int, int] = (255, 255, 255),
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Images (PIL or file paths) to ``uint8 [N, 3, R, R]``."""
    out = np.empty((len(images), 3, resolution, resolution), dtype=np.uint8)
    for i, item in enumerate(images):
        name = str(item) if isinstance(item, str | Path) else f"images[{i}]"
        image = load_image(item, max_pixels=max_pixels) if isinstance(item, str | Path) else item
        rgb = fit_square(to_rgb(image, background=background, name=name), resolution, fit=fit, background=background)
        out[i] = np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)
    return out


def uint8_to_unit(batch: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """``uint8 [N, 3, R, R]`` to float in ``[-1, 1]`` on ``device``."""
    tensor = torch.as_tensor(batch).to(device)
    return tensor.float().div_(127.5).sub_(1.0)


def unit_to_images(x_BCHW: torch.Tensor) -> list[Image.Image]:
    """Float ``[-1, 1]`` tensors to RGB PIL images (values clamped)."""
    arr = ((x_BCHW.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    return [Image.fromarray(a.transpose(1, 2, 0), mode="RGB") for a in arr]
