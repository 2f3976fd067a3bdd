"""Image input of the image tokenizer: square fitting and tensor conversion, after the one image decoder.

Files are decoded and every mode is converted to 8-bit RGB by :mod:`trimodal_tokenizers.image_decode` (guards,
conversions and errors are documented there; the data pipelines decode with the same code). Then
``fit="center_crop"`` crops the central square, ``fit="pad"`` pads to a square with ``background``, and the
square is resized (bicubic) to the tokenizer's resolution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from trimodal_core.extras import missing_extra
from trimodal_tokenizers.image_decode import ANY_FORMAT, ImageDecodeConfig, open_image, to_rgb

try:
    import torch
except ImportError as exc:
    raise missing_extra(
        package="trimodal-tokenizers", extra="image", feature="the image tokenizer's image I/O", cause=exc
    ) from exc


ImageFit = Literal["center_crop", "pad"]
DEFAULT_MAX_PIXELS = 64 * 2**20


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
        if isinstance(item, str | Path):
            decode = ImageDecodeConfig(max_pixels=max_pixels, formats=ANY_FORMAT, background=background)
            rgb = open_image(item, decode)
        else:
            rgb = to_rgb(item, background=background, name=name)
        rgb = fit_square(rgb, resolution, fit=fit, background=background)
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
