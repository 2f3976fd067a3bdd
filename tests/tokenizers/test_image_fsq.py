from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trimodal_tokenizers import image_protocol
from trimodal_tokenizers.image_fsq import ImageTokenizer, ImageTokenizerConfig
from trimodal_tokenizers.image_protocol import DiscreteImageTokenizer, load_image_tokenizer, register_image_tokenizer
from trimodal_tokenizers.quantizers import FSQ, VQ


@pytest.fixture(scope="module")
def tokenizer() -> ImageTokenizer:
    return ImageTokenizer.from_random_init(ImageTokenizerConfig.tiny(), seed=0, device="cpu")


def test_fsq_indices_are_a_bijection_onto_the_grid() -> None:
    fsq = FSQ((8, 6, 5))
    assert fsq.codebook_size == 240
    every = torch.arange(240).reshape(1, 12, 20)
    latent = fsq.indices_to_latent(every)
    assert latent.shape == (1, 3, 12, 20) and latent.abs().max() <= 1
    # Latents far beyond the bounds are squashed, never out of range.
    _, idx, _ = fsq(torch.randn(2, 3, 4, 4) * 50)
    assert idx.min() >= 0 and idx.max() < 240
    # Pre-images of every grid point: quantizing the code latent (scaled into the tanh range) gives the code back.
    half = torch.tensor([4.0, 3.0, 2.0]).view(1, 3, 1, 1)
    offset = torch.tensor([0.5, 0.5, 0.0]).view(1, 3, 1, 1)
    bound_half = (torch.tensor([7.0, 5.0, 4.0]) * 1.001 / 2).view(1, 3, 1, 1)
    pre = torch.atanh((latent * half + offset) / bound_half) - torch.atanh(offset / bound_half)
    q, back, _ = fsq(pre)
    torch.testing.assert_close(q, latent)
    assert torch.equal(back, every)


def test_vq_round_trip_and_loss() -> None:
    torch.manual_seed(0)
    vq = VQ(16, 4)
    z = torch.randn(2, 4, 3, 3, requires_grad=True)
    q, idx, loss = vq(z)
    torch.testing.assert_close(q.detach(), vq.indices_to_latent(idx))
    assert loss.item() > 0
    loss.backward()
    assert z.grad is not None and vq.embedding.weight.grad is not None


def test_shapes_dtypes_and_value_ranges(tokenizer: ImageTokenizer, real_images: list[object]) -> None:
    inputs = [
        Image.new("RGB", (50, 30), (200, 10, 10)),
        Image.new("CMYK", (20, 20)),
        Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16)),
        Image.new("P", (16, 16)),
        real_images[0],  # a file path
    ]
    codes = tokenizer.encode_batch(inputs)
    assert codes.shape == (5, tokenizer.tokens_per_image) == (5, 64)
    assert codes.dtype == np.int64 and codes.min() >= 0 and codes.max() < tokenizer.codebook_size == 240
    np.testing.assert_array_equal(codes, tokenizer.encode_batch(inputs))  # deterministic
    images = tokenizer.decode_batch(codes)
    assert len(images) == 5
    assert all(im.mode == "RGB" and im.size == (32, 32) for im in images)
    assert tokenizer.encode_batch([]).shape == (0, 64)


def test_bad_inputs(tokenizer: ImageTokenizer, tmp_path: Path) -> None:
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(ValueError, match="zero.png"):
        tokenizer.encode_batch([tmp_path / "zero.png"])
    with pytest.raises(ValueError, match="shape"):
        tokenizer.decode_batch(np.zeros((2, 63), dtype=np.int64))
    with pytest.raises(ValueError, match="integers in"):
        tokenizer.decode_batch(np.full((1, 64), 240))
    with pytest.raises(TypeError, match="list of images"):
        tokenizer.encode_batch(Image.new("RGB", (4, 4)))  # type: ignore[arg-type]


def test_config_validation_names_fields() -> None:
    with pytest.raises(ValueError, match="downsample_factor"):
        ImageTokenizerConfig(downsample_factor=3)
    with pytest.raises(ValueError, match="resolution"):
        ImageTokenizerConfig(resolution=100, downsample_factor=16)
    with pytest.raises(ValueError, match="channels"):
        ImageTokenizerConfig(resolution=32, downsample_factor=4, channels=(8, 8, 8))


def test_save_load_and_registry(tmp_path: Path, tokenizer: ImageTokenizer, real_images: list[object]) -> None:
    tokenizer.save(tmp_path / "img")
    loaded = load_image_tokenizer(tmp_path / "img")
    assert isinstance(loaded, ImageTokenizer) and isinstance(loaded, DiscreteImageTokenizer)
    np.testing.assert_array_equal(loaded.encode_batch(real_images[:3]), tokenizer.encode_batch(real_images[:3]))
    vq = ImageTokenizer.from_random_init(
        ImageTokenizerConfig(resolution=16, downsample_factor=4, channels=(8, 8), quantizer="vq", vq_codebook_size=32),
        device="cpu",
    )
    vq.save(tmp_path / "vq")
    assert load_image_tokenizer(tmp_path / "vq").codebook_size == 32


class _Constant:
    """A stand-in 'pretrained' tokenizer from elsewhere: every image is code 0."""

    kind = "constant"
    codebook_size = 3
    resolution = 8
    tokens_per_image = 4

    def encode_batch(self, images: list[Image.Image]) -> np.ndarray:
        return np.zeros((len(images), 4), dtype=np.int64)

    def decode_batch(self, codes: np.ndarray) -> list[Image.Image]:
        return [Image.new("RGB", (8, 8)) for _ in codes]

    def save(self, path: str | Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "image_tokenizer.json").write_text('{"kind": "constant"}')


def test_another_tokenizer_plugs_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_protocol, "_REGISTRY", {})
    _Constant().save(tmp_path / "c")
    with pytest.raises(ValueError, match="unknown image tokenizer kind 'constant'"):
        load_image_tokenizer(tmp_path / "c")
    register_image_tokenizer("constant", lambda path: _Constant())
    loaded = load_image_tokenizer(tmp_path / "c")
    assert isinstance(loaded, DiscreteImageTokenizer) and loaded.codebook_size == 3
