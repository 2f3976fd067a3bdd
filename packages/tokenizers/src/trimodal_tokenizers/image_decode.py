"""The one image decoder: untrusted image bytes or files -> plain 8-bit RGB, with guards.

Used by the image tokenizer's inputs and its training (:mod:`trimodal_tokenizers.image_io`,
:mod:`trimodal_tokenizers.image_train`) and by the data pipelines' decode stage (``trimodal_data``); Pillow and
numpy only, no torch.

Guards, in order: only the configured formats are parsed (Pillow's ``formats=``), the header's pixel count is
checked against ``max_pixels`` *before* any pixel is decompressed (a decompression bomb costs a header read,
not gigabytes; Pillow's own global ``MAX_IMAGE_PIXELS`` is left alone because it is process-wide state), and
every decoder error (truncated data, bad markers, unknown format) becomes a :class:`DecodeError` with a stable
``reason`` (``empty_file``, ``image_unsupported_format``, ``image_too_many_pixels``, ``image_corrupt``,
``image_unsupported_mode``) and a message naming the file or member.

Conversions (:func:`to_rgb`): EXIF orientation applied; animated images give their first frame; palette and
grey(-with-alpha) images expanded; CMYK and YCbCr converted by Pillow; 16/32-bit grey scaled to 8 bits
(``round(v * 255 / 65535)``, or kept when every value is at most 255); any alpha (or palette transparency)
composited onto ``background`` (``out = a * rgb + (1 - a) * background``), so transparent cut-outs do not turn
black; floating-point (``F``) images are refused (their range is unknown).
"""

from __future__ import annotations

import dataclasses
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from trimodal_tokenizers.decode_error import DecodeError

ANY_FORMAT = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
"""Formats worth parsing for tokenizer training (``ImageDecodeConfig.formats`` defaults to the web three)."""
_MESSAGES = {
    "empty_file": "empty (0-byte) image",
    "image_unsupported_format": "not a readable image file",
    "image_too_many_pixels": "too many pixels (decompression-bomb guard)",
    "image_corrupt": "truncated or corrupt image",
    "image_unsupported_mode": "unsupported image mode",
}


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


def _error(reason: str, detail: str, name: str) -> DecodeError:
    return DecodeError(reason, detail, message=f"{name}: {_MESSAGES[reason]}" + (f" ({detail})" if detail else ""))


def to_rgb(image: Image.Image, *, background: tuple[int, int, int] = (255, 255, 255), name: str = "image"
           ) -> Image.Image:
    """Any Pillow mode to 8-bit RGB (see the module docstring for the conversions)."""
    if not isinstance(image, Image.Image):
        raise TypeError(f"{name}: expected a PIL image, got {type(image).__name__}")
    if image.width < 1 or image.height < 1:
        raise _error("image_unsupported_mode", f"no pixels ({image.width}x{image.height})", name)
    if image.mode == "F":
        raise _error("image_unsupported_mode", "floating-point images (mode F) are not supported", name)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "PA", "La", "RGBa") or (image.mode == "RGB" and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        canvas = Image.new("RGB", image.size, background)
        canvas.paste(image, mask=image.getchannel("A"))
        return canvas
    return image.convert("RGB") if image.mode != "RGB" else image


def decode_image(data: bytes, config: ImageDecodeConfig | None = None, *, name: str = "image") -> Image.Image:
    """Decode ``data`` into an RGB image or raise :class:`DecodeError`; ``name`` goes into the message."""
    config = config or ImageDecodeConfig()
    if not data:
        raise _error("empty_file", "", name)
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns above its global limit; ours already ran, so silence it only.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(config.formats))
            width, height = image.size
            if width * height > config.max_pixels:
                raise _error("image_too_many_pixels", f"{width}x{height} > {config.max_pixels} pixels", name)
            image.load()
            image = ImageOps.exif_transpose(image)
            return to_rgb(image, background=config.background, name=name)
    except DecodeError:
        raise
    except UnidentifiedImageError:
        # Pillow's message holds the buffer's memory address: report the leading bytes instead (reruns stay
        # byte-identical).
        raise _error("image_unsupported_format", f"not {'/'.join(config.formats)}; starts with {data[:8].hex()}",
                     name) from None
    except Image.DecompressionBombError as exc:
        raise _error("image_too_many_pixels", str(exc), name) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as exc:
        # Pillow reports truncated/corrupt data through several exception types depending on the plugin.
        raise _error("image_corrupt", f"{type(exc).__name__}: {exc}", name) from None


def open_image(path: str | Path, config: ImageDecodeConfig | None = None) -> Image.Image:
    """:func:`decode_image` of a file; ``ValueError`` naming the file when it is missing or not a file."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"image file not found: {p}")
    if not p.is_file():
        raise ValueError(f"{p}: not a regular file")
    return decode_image(p.read_bytes(), config, name=str(p))
