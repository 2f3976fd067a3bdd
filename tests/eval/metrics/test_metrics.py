"""Offline metrics: normalization, WER/CER on real speech, FID/KID math, entropy, PSNR, and clear skips."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trimodal_eval.metrics import (
    clip_score,
    error_rates,
    fid_kid,
    frechet_distance,
    generative_perplexity,
    kernel_inception_distance,
    normalize_transcript,
    psnr,
    sample_entropy,
    speech_metrics,
)

DEMO_AUDIO = Path(__file__).resolve().parents[3] / "pipelines" / "demo_data" / "audio_text"


def test_normalization_spells_numbers_and_drops_punctuation() -> None:
    assert normalize_transcript("It's 12 o'clock, Dr. Smith!") == "it's twelve o'clock dr smith"
    assert normalize_transcript("  Verse 3:16 -- 'quoted'  ") == "verse three sixteen quoted"
    assert normalize_transcript("twelve") == normalize_transcript("12")


def test_error_rates_count_substitutions_and_deletions() -> None:
    rates = error_rates(["the cat sat", "a dog"], ["the cat sat", ""])
    assert rates.wer == pytest.approx(2 / 5)
    assert error_rates(["one two"], ["1 2"]).wer == 0.0
    with pytest.raises(ValueError, match="empty after normalization"):
        error_rates(["!!"], ["x"])


@pytest.mark.slow
def test_real_speech_is_recognized_far_better_than_noise() -> None:
    pytest.importorskip("pocketsphinx")
    rows = [r for r in csv.DictReader((DEMO_AUDIO / "transcripts.tsv").open(encoding="utf-8"), delimiter="\t")
            if "planted" not in r["path"]][::40][:4]
    clips = [sf.read(DEMO_AUDIO / r["path"], dtype="float32") for r in rows]
    refs = [r["transcript"] for r in rows]
    real = speech_metrics("real", [(w, rate) for w, rate in clips], refs)
    rng = np.random.default_rng(0)
    noise = speech_metrics("noise", [(rng.normal(0, 0.1, w.shape[0]).astype(np.float32), rate)
                                     for w, rate in clips], refs)
    assert real[0].value is not None and noise[0].value is not None
    assert real[0].value < 0.6, real[0].details
    assert noise[0].value > 0.9
    assert real[0].value + 0.3 < noise[0].value


def test_frechet_distance_matches_the_gaussian_formula() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (4000, 3))
    b = rng.normal(0, 1, (4000, 3)) * 2 + 1
    # For N(0, I) vs N(1, 4I): |mu|^2 + tr(I + 4I - 2 * 2I) = 3 + 3.
    assert frechet_distance(a, b) == pytest.approx(6.0, rel=0.05)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, (300, 8)), rng.normal(0, 1, (300, 8))
    same, _ = kernel_inception_distance(a, b, num_subsets=20)
    shifted, _ = kernel_inception_distance(a, b + 1.0, num_subsets=20)
    assert abs(same) < 0.05 and shifted > 10 * abs(same) and shifted > 0.1


def test_entropy_and_psnr() -> None:
    assert sample_entropy([[1, 1, 1, 1]]) == 0.0
    assert sample_entropy([[1, 2, 3, 4]]) == pytest.approx(np.log(4))
    img = np.full((4, 4, 3), 100, np.uint8)
    assert psnr(img, img) == float("inf")
    noisy = img.copy()
    noisy[0, 0, 0] = 110
    assert psnr(img, noisy) == pytest.approx(10 * np.log10(255**2 / (100 / 48)))


def test_missing_checkpoints_are_clear_skips(tmp_path: Path) -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    clip = clip_score([img], ["a cat"], checkpoint=None)
    assert clip.status == "skipped" and clip.value is None and "--clip-checkpoint" in clip.reason
    missing = clip_score([img], ["a cat"], checkpoint=tmp_path / "nope.bin")
    assert missing.status == "skipped" and "not found" in missing.reason
    fid, kid = fid_kid([img, img], [img, img], checkpoint=None)
    assert fid.status == kid.status == "skipped" and "--inception-checkpoint" in fid.reason
    ppl, entropy = generative_perplexity(["some text"], [[1, 2, 3]], reference=None)
    assert ppl.status == "skipped" and "--reference-lm" in ppl.reason
    assert entropy.status == "ok" and entropy.value == pytest.approx(np.log(3))
