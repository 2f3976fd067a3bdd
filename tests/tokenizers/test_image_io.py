from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trimodal_tokenizers.image_decode import DecodeError, ImageDecodeConfig, decode_image, open_image, to_rgb
from trimodal_tokenizers.image_io import fit_square


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_zero_byte_truncated_and_non_image_files(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DecodeError, match=r"empty.png: empty \(0-byte\)"):
        open_image(tmp_path / "empty.png")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = _png_bytes(noise)
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="cut.png: truncated or corrupt") as info:
        open_image(tmp_path / "cut.png")
    assert info.value.reason == "image_corrupt"
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(DecodeError, match="text.png: not a readable image"):
        open_image(tmp_path / "text.png")
    with pytest.raises(ValueError, match="not found"):
        open_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="not a regular file"):
        open_image(tmp_path)
    with pytest.raises(DecodeError, match="member: empty"):
        decode_image(b"", name="member")


def test_decompression_bomb_guard_checks_the_header(tmp_path: Path) -> None:
    (tmp_path / "big.png").write_bytes(_png_bytes(Image.new("RGB", (300, 200))))
    with pytest.raises(DecodeError, match=r"big.png: too many pixels .*300x200 > 1000 pixels"):
        open_image(tmp_path / "big.png", ImageDecodeConfig(max_pixels=1000))
    assert open_image(tmp_path / "big.png").size == (300, 200)


def test_sixteen_bit_images_are_scaled_to_eight_bits(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 100], [65535, 257 * 7]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    image = Image.open(tmp_path / "deep.png")
    assert image.mode.startswith("I")
    rgb = np.asarray(to_rgb(image))
    np.testing.assert_array_equal(np.asarray(open_image(tmp_path / "deep.png")), rgb)  # the decoder does the same
    np.testing.assert_array_equal(rgb[..., 0], [[0, 100], [255, 7]])
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_palette_with_transparency_is_composited_on_the_background() -> None:
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putpixel((0, 0), 1)
    palette.info["transparency"] = 0
    rgb = np.asarray(to_rgb(palette, background=(10, 20, 30)))
    assert tuple(rgb[0, 0]) == (0, 0, 255)
    assert tuple(rgb[1, 1]) == (10, 20, 30)


def test_cmyk_grayscale_and_alpha_modes_become_rgb() -> None:
    cmyk = Image.new("CMYK", (3, 3), (0, 0, 0, 0))
    assert tuple(np.asarray(to_rgb(cmyk))[0, 0]) == (255, 255, 255)
    assert tuple(np.asarray(to_rgb(Image.new("CMYK", (3, 3), (0, 255, 255, 0))))[0, 0]) == (255, 0, 0)
    assert to_rgb(Image.new("1", (3, 3), 1)).mode == "RGB"
    half = Image.new("LA", (2, 2), (0, 128))
    value = np.asarray(to_rgb(half, background=(255, 255, 255)))[0, 0, 0]
    assert 126 <= value <= 128


def test_float_images_and_non_images_are_rejected() -> None:
    with pytest.raises(ValueError, match="mode F"):
        to_rgb(Image.new("F", (2, 2)))
    with pytest.raises(TypeError, match="expected a PIL image"):
        to_rgb(np.zeros((2, 2, 3)))  # type: ignore[arg-type]


def test_fit_square_crop_and_pad() -> None:
    wide = Image.new("RGB", (40, 20), (0, 0, 0))
    wide.paste((255, 0, 0), (0, 0, 5, 20))  # red strip on the far left
    crop = np.asarray(fit_square(wide, 8, fit="center_crop"))
    assert crop.shape == (8, 8, 3) and crop[..., 0].max() == 0  # the strip is cropped away
    pad = np.asarray(fit_square(wide, 8, fit="pad", background=(0, 255, 0)))
    assert tuple(pad[0, 4]) == (0, 255, 0)  # the padded band above the image
    with pytest.raises(ValueError, match="unknown fit"):
        fit_square(wide, 8, fit="stretch")  # type: ignore[arg-type]
