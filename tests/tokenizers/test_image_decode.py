"""The one image decoder: guards and mode conversions on deliberately broken and unusual bytes (the data
pipelines decode with it too)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from trimodal_tokenizers.decode_error import DecodeError
from trimodal_tokenizers.image_decode import ImageDecodeConfig, decode_image


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _photo(size: tuple[int, int] = (64, 48)) -> Image.Image:
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    return Image.fromarray((base + rng.integers(0, 20, base.shape)).clip(0, 255).astype(np.uint8))


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose IHDR is rewritten to declare ``width`` x ``height`` (CRC fixed)."""
    data = bytearray(_encode(Image.new("RGB", (1, 1)), "PNG"))
    ihdr = 8 + 8  # signature, then chunk length+type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_decodes_formats_to_rgb(fmt: str) -> None:
    image = decode_image(_encode(_photo(), fmt))
    assert image.mode == "RGB" and image.size == (64, 48)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty_file"),
        (b"this is not an image at all", "image_unsupported_format"),
        (bomb_png(100_000, 100_000), "image_too_many_pixels"),
    ],
)
def test_bad_bytes_are_rejected_with_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_image(data)
    assert info.value.reason == reason


def test_truncated_jpeg_is_corrupt() -> None:
    jpeg = _encode(_photo((256, 256)), "JPEG", quality=90)
    with pytest.raises(DecodeError) as info:
        decode_image(jpeg[: len(jpeg) // 2])
    assert info.value.reason == "image_corrupt"


def test_bomb_is_refused_before_decoding_and_limit_is_configurable() -> None:
    data = _encode(_photo((100, 100)), "PNG")
    decode_image(data, ImageDecodeConfig(max_pixels=10_000))
    with pytest.raises(DecodeError) as info:
        decode_image(data, ImageDecodeConfig(max_pixels=9_999))
    assert info.value.reason == "image_too_many_pixels"


def test_gif_is_not_parsed_unless_allowed() -> None:
    gif = _encode(_photo(), "GIF")
    with pytest.raises(DecodeError) as info:
        decode_image(gif)
    assert info.value.reason == "image_unsupported_format"
    assert decode_image(gif, ImageDecodeConfig(formats=("GIF",))).mode == "RGB"


def test_alpha_is_composited_on_background() -> None:
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (10, 10, 30, 30))
    image = decode_image(_encode(rgba, "PNG"), ImageDecodeConfig(background=(10, 200, 30)))
    assert image.getpixel((0, 0)) == (10, 200, 30)
    assert image.getpixel((20, 20)) == (0, 0, 255)


def test_palette_with_transparency_cmyk_and_16_bit() -> None:
    palette = Image.new("P", (20, 20), 1)
    palette.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    palette.info["transparency"] = 0
    assert decode_image(_encode(palette, "PNG")).getpixel((5, 5)) == (200, 10, 10)
    cmyk = Image.new("CMYK", (20, 20), (0, 255, 255, 0))
    r, g, b = decode_image(_encode(cmyk, "JPEG", quality=95)).getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60
    grey16 = Image.fromarray(np.full((20, 20), 65535, dtype=np.uint16))
    assert decode_image(_encode(grey16, "PNG")).getpixel((5, 5)) == (255, 255, 255)
