from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.image_fsq import ImageTokenizer, ImageTokenizerConfig
from trimodal_tokenizers.image_train import (
    ImageTrainConfig,
    preprocess_items,
    psnr_uint8,
    reconstruct_uint8,
    train_image_tokenizer,
)
from trimodal_tokenizers.text_bpe import TextTokenizer

# A small tiny-config model: 32 px, 8x8 codes, 240 FSQ codes.
TEST_TOKENIZER = dataclasses.replace(ImageTokenizerConfig.tiny(), channels=(16, 32))
MIN_HELDOUT_PSNR_DB = 18.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, real_images: list[object]) -> tuple[object, Path]:
    out = tmp_path_factory.mktemp("image_tok")
    config = ImageTrainConfig(
        tokenizer=TEST_TOKENIZER, steps=250, batch_size=16, num_heldout=6, checkpoint_every=100, device="cpu",
        num_threads=1,
    )  # fmt: skip
    return train_image_tokenizer(real_images, config, out), out


@pytest.mark.slow  # the shared `trained` fixture: 250 training steps, about 90 s on the shared 2-core machine
def test_short_fit_reaches_the_psnr_threshold_on_held_out_images(
    trained: tuple[object, Path], real_images: list[object]
) -> None:
    result, out = trained
    assert result.num_heldout == 6 and result.num_train == len(real_images) - 6 and result.num_rejected == 0
    # Baselines on the same images: the untrained model, and each image's own mean colour.
    pixels, _, _ = preprocess_items([(str(p), p) for p in real_images], TEST_TOKENIZER)
    untrained = ImageTokenizer.from_random_init(TEST_TOKENIZER, device="cpu")
    untrained_psnr = psnr_uint8(pixels, reconstruct_uint8(untrained, pixels)[1]).mean()
    flat = np.broadcast_to(pixels.reshape(len(pixels), 3, -1).mean(-1)[:, :, None, None], pixels.shape).round()
    flat_psnr = psnr_uint8(pixels, flat).mean()
    assert result.heldout_psnr > MIN_HELDOUT_PSNR_DB, result
    assert result.heldout_psnr > flat_psnr + 5 and result.heldout_psnr > untrained_psnr + 8
    assert result.code_usage > 0.2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["heldout_psnr"] == pytest.approx(result.heldout_psnr)


@pytest.mark.slow
def test_output_is_a_loadable_tokenizer_with_checkpoints(
    trained: tuple[object, Path], real_images: list[object]
) -> None:
    result, out = trained
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step-00000200.safetensors",
        "step-00000250.safetensors",
    ]
    loaded = ImageTokenizer.load(out, device="cpu")
    np.testing.assert_array_equal(loaded.encode_batch(real_images[:4]), result.tokenizer.encode_batch(real_images[:4]))


@pytest.mark.slow
def test_image_text_bundle_round_trip(
    tmp_path: Path, trained: tuple[object, Path], text_tokenizer: TextTokenizer, real_images: list[object]
) -> None:
    result, _ = trained
    bundle = TokenizerBundle.build(text=text_tokenizer, image=result.tokenizer)
    bundle.save(tmp_path / "b")
    loaded = TokenizerBundle.load(tmp_path / "b")
    assert loaded.image is not None and loaded.token_space.config.image_codebook_size == 240
    codes = loaded.image.encode_batch(real_images[:1])[0]
    seq = loaded.layout.image_text(loaded.text.encode("A giraffe."), codes)
    assert len(seq) == 1 + 2 + len(loaded.text.encode("A giraffe.")) + 2 + 64
    parsed = bundle.layout.parse(seq.tokens)
    np.testing.assert_array_equal(parsed.image_codes, codes)
    assert loaded.image.decode_batch(parsed.image_codes[None])[0].size == (32, 32)


def test_resume_is_bit_identical(tmp_path: Path, real_images: list[object]) -> None:
    base = ImageTrainConfig(
        tokenizer=dataclasses.replace(TEST_TOKENIZER, channels=(8, 8)), steps=6, batch_size=4, num_heldout=2,
        checkpoint_every=3, device="cpu", num_threads=1, max_images=10,
    )  # fmt: skip
    train_image_tokenizer(real_images, base, tmp_path / "straight")
    train_image_tokenizer(real_images, dataclasses.replace(base, steps=3), tmp_path / "resumed")
    train_image_tokenizer(real_images, base, tmp_path / "resumed")
    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_too_few_readable_images_is_a_value_error(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(b"")
    (tmp_path / "imgs" / "b.png").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(ValueError, match="at least 2 readable images"):
        train_image_tokenizer(tmp_path / "imgs", ImageTrainConfig(steps=1, device="cpu"), tmp_path / "out")
    with pytest.raises(ValueError, match="no images found"):
        train_image_tokenizer(tmp_path / "out", ImageTrainConfig(steps=1, device="cpu"), tmp_path / "out2")


def test_contract_names_are_importable_from_image_fsq(tmp_path: Path) -> None:
    from trimodal_tokenizers import image_fsq, image_train

    assert image_fsq.ImageTrainConfig is image_train.ImageTrainConfig
    with pytest.raises(ValueError, match="image folder not found"):
        image_fsq.train_image_tokenizer(tmp_path / "missing", ImageTrainConfig(steps=1), tmp_path / "out")
    assert not (tmp_path / "out").exists()
