from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import soundfile as sf
from PIL import Image

from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.cli import main
from trimodal_tokenizers.image_decode import open_image


def test_help_lists_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("train-text", "train-image", "build-bundle", "inspect"):
        assert name in out


def test_train_build_and_inspect_end_to_end(
    tmp_path: Path, corpus_files: list[Path], real_images: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for i, item in enumerate(real_images[:6]):
        (open_image(item) if isinstance(item, Path) else item).save(images / f"{i}.png")  # type: ignore[union-attr]
    inputs = [str(p) for p in corpus_files[:3]]
    assert main(["train-text", "--input", *inputs, "--bpe.vocab-size", "400", "--out", str(tmp_path / "text")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["vocab_size"] == 400
    args = ["--steps", "3", "--batch-size", "2", "--num-heldout", "2", "--device", "cpu", "--num-threads", "1"]
    assert main(["train-image", "--images", str(images), "--out", str(tmp_path / "image"), *args]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["images"] == 6 and report["rejected"] == 0 and report["heldout_psnr_db"] > 0
    build = ["build-bundle", "--text", str(tmp_path / "text"), "--image", str(tmp_path / "image")]
    assert main([*build, "--audio-random-init", "tiny", "--num-codebooks", "2", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    bundle = TokenizerBundle.load(tmp_path / "b")
    assert bundle.parts() == ["text", "image", "audio"] and bundle.audio is not None and bundle.audio.num_codebooks == 2

    wav = tmp_path / "clip.wav"
    sf.write(wav, [0.0, 0.1, -0.1] * 2000, 22050)
    image = next(images.iterdir())
    recon = tmp_path / "recon"
    argv = ["inspect", str(tmp_path / "b"), "--text", "A giraffe.", "--image", str(image), "--audio", str(wav)]
    assert main([*argv, "--recon-out", str(recon)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["text_example"]["round_trip_ok"] is True
    assert info["text_example"]["sequence"].startswith("<text> <bot>")
    assert len(info["image_example"]["code_grid"]) == 8
    assert info["audio_example"]["codes_shape"][0] == 2
    assert Image.open(recon / "image.png").size == (32, 32)
    assert sf.info(str(recon / "audio.wav")).samplerate == 16000


def test_user_errors_exit_1_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build-bundle", "--text", str(tmp_path / "none"), "--out", str(tmp_path / "b")]) == 1
    assert "error:" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path)]) == 1
    assert "not a tokenizer bundle" in capsys.readouterr().err
    shutil.rmtree(tmp_path)
