"""Image and caption rules, and the CLIP alignment score from a tiny random-init local checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trimodal_data.clip_embedder import ClipEmbedder, check_clip_checkpoint
from trimodal_data.rules.image import ImageRulesConfig, clip_score_reason, image_reason
from trimodal_data.rules.media_text import MediaTextRulesConfig, media_text_reason


def test_image_size_and_aspect() -> None:
    config = ImageRulesConfig(min_side=32, max_aspect_ratio=3.0)
    assert image_reason(128, 128, config) is None
    assert image_reason(31, 128, config) == "image_too_small"
    assert image_reason(400, 100, config) == "image_aspect_ratio"
    assert image_reason(300, 100, config) is None
    assert image_reason(20000, 20000, config) == "image_too_large"
    with pytest.raises(ValueError, match="max_aspect_ratio"):
        ImageRulesConfig(max_aspect_ratio=0.5)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("A giraffe.", None),
        ("A guinea fowl.", None),  # langid says Dutch; too short to ask
        ("", "text_empty"),
        ("   ", "text_empty"),
        ("IMG_2041.JPG 3456 x 2304 123", "text_few_letters"),
        ("bad \x00 byte", "text_control_chars"),
        ("caf\ufffd", "text_control_chars"),
        ("word " * 300, "text_too_long"),
        ("Der schnelle braune Fuchs springt über den faulen Hund und läuft weg.", "text_language"),
        ("The quick brown fox jumps over the lazy dog and runs away.", None),
    ],
)
def test_caption_rules(text: str, reason: str | None) -> None:
    assert media_text_reason(text, MediaTextRulesConfig()) == reason


def test_language_check_can_be_disabled() -> None:
    german = "Der schnelle braune Fuchs springt über den faulen Hund und läuft weg."
    assert media_text_reason(german, MediaTextRulesConfig(languages=())) is None
    assert media_text_reason(german, MediaTextRulesConfig(languages=("de", "en"))) is None


@pytest.mark.slow  # builds and runs a random-init CLIP: about 20 s
def test_random_clip_checkpoint_scores(tmp_path: Path, save_random_clip) -> None:
    folder = save_random_clip(tmp_path / "clip", seed=0)
    clip = ClipEmbedder(folder, device="cpu")
    images = [Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    image_emb = clip.embed_images(images)
    text_emb = clip.embed_texts(["red", "green", "blue"])
    assert image_emb.shape == text_emb.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(image_emb, axis=1), 1.0, atol=1e-5)
    scores = clip.scores(image_emb, text_emb)
    assert scores.shape == (3,) and np.all(np.abs(scores) <= 1.0 + 1e-5)
    # Same weights, same numbers (the checkpoint really is what gets loaded).
    again = ClipEmbedder(folder, device="cpu").embed_images(images)
    np.testing.assert_array_equal(again, image_emb)
    other = ClipEmbedder(save_random_clip(tmp_path / "clip2", seed=1), device="cpu").embed_images(images)
    assert not np.allclose(other, image_emb)
    config = ImageRulesConfig(min_clip_score=float(scores.max()) + 1e-3)
    assert all(clip_score_reason(float(s), config) == "clip_score_low" for s in scores)
    passing = ImageRulesConfig(min_clip_score=float(scores.max()) - 1e-3)
    assert clip_score_reason(float(scores.max()), passing) is None


def test_checkpoint_validation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a folder"):
        check_clip_checkpoint(tmp_path / "missing")
    (tmp_path / "c").mkdir()
    with pytest.raises(ValueError, match="open_clip_config.json"):
        check_clip_checkpoint(tmp_path / "c")
    (tmp_path / "c" / "open_clip_config.json").write_text(json.dumps({"model_cfg": {}}))
    (tmp_path / "c" / "open_clip_pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ValueError, match="safetensors"):
        check_clip_checkpoint(tmp_path / "c")
