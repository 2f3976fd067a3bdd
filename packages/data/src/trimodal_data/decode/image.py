"""Decode untrusted image bytes into plain 8-bit RGB, with guards, and hash the decoded pixels.

Guards, in order: only the configured formats are parsed (Pillow's ``formats=``), the header's pixel
count is checked against ``max_pixels`` *before* any pixel is decompressed (a decompression bomb costs
a header read, not gigabytes; Pillow's own global ``MAX_IMAGE_PIXELS`` is left alone because it is
process-wide state), and every decoder error — truncated data, bad markers, unknown format — becomes a
:class:`DecodeError` with a stable reason. Mode conversions: EXIF orientation applied; palette and
grey-with-alpha images expanded; CMYK and YCbCr converted; 16/32-bit grey scaled to 8 bits; any alpha
composited onto a plain background colour (so transparent cut-outs do not turn black).
"""

from __future__ import annotations

import dataclasses
import io
import warnings

import numpy as np
import xxhash
from PIL import Image, ImageOps, UnidentifiedImageError

from trimodal_data.decode.errors import DecodeError


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageDecodeConfig:
    """Limits and conversions for image decoding."""

    max_pixels: int = 40_000_000
    """Images whose header declares more pixels are refused unread (``image_too_many_pixels``)."""
    formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP")
    """Pillow format names that may be parsed; anything else is ``image_unsupported_format``."""
    background: tuple[int, int, int] = (255, 255, 255)
    """RGB colour that transparent pixels are composited onto."""

    def __post_init__(self) -> None:
        if self.max_pixels < 1:
            raise ValueError(f"ImageDecodeConfig.max_pixels must be positive, got {self.max_pixels}")
        if len(self.background) != 3 or not all(0 <= c <= 255 for c in self.background):
            raise ValueError(f"ImageDecodeConfig.background must be three values in 0..255, got {self.background}")


def _to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        array = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        image = Image.fromarray(array)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGB" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        canvas = Image.new("RGB", image.size, background)
        canvas.paste(image, mask=image.getchannel("A"))
        return canvas
    return image.convert("RGB") if image.mode != "RGB" else image


def decode_image(data: bytes, config: ImageDecodeConfig | None = None) -> Image.Image:
    """Decode ``data`` into an RGB image or raise :class:`DecodeError` with the reason.

    Reasons: ``empty_file``, ``image_unsupported_format``, ``image_too_many_pixels``, ``image_corrupt``.
    """
    config = config or ImageDecodeConfig()
    if not data:
        raise DecodeError("empty_file")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns above its global limit; ours already ran, so silence it only.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(config.formats))
            width, height = image.size
            if width * height > config.max_pixels:
                raise DecodeError("image_too_many_pixels", f"{width}x{height} > {config.max_pixels} pixels")
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb(image, config.background)
    except DecodeError:
        raise
    except UnidentifiedImageError:
        # Pillow's message holds the buffer's memory address: report the leading bytes instead (reruns stay
        # byte-identical).
        raise DecodeError(
            "image_unsupported_format", f"not {'/'.join(config.formats)}; starts with {data[:8].hex()}"
        ) from None
    except Image.DecompressionBombError as exc:
        raise DecodeError("image_too_many_pixels", str(exc)) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as exc:
        # Pillow reports truncated/corrupt data through several exception types depending on the plugin.
        raise DecodeError("image_corrupt", f"{type(exc).__name__}: {exc}") from None


def pixel_digest(image: Image.Image) -> str:
    """A 128-bit hash of the decoded pixels and size: equal for byte-different files with identical pixels."""
    h = xxhash.xxh3_128()
    h.update(f"{image.mode}:{image.width}x{image.height}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def resize_center_crop(image: Image.Image, resolution: int) -> Image.Image:
    """Scale the shorter side to ``resolution`` (Lanczos) and crop the centre square."""
    width, height = image.size
    scale = resolution / min(width, height)
    new_size = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
    resized = image.resize(new_size, Image.Resampling.LANCZOS)
    left = (new_size[0] - resolution) // 2
    top = (new_size[1] - resolution) // 2
    return resized.crop((left, top, left + resolution, top + resolution))
