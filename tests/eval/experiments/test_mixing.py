"""The mixing study: its designs, the log-slope fit, and at smoke size what it measures end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trimodal_eval.experiments.mixing import MixingStudyConfig, design_mixes, log_slope, normalized, run_mixing
from trimodal_eval.experiments.study import StudyConfig
from trimodal_eval.report.browser_check import check_report, find_chromium

BASE = {"text": 0.5, "image_text": 0.3, "audio_text": 0.2}


def test_designs() -> None:
    smoke = [normalized(m) for m in design_mixes(BASE, "smoke", (0.1,))]
    assert [max(w, key=w.get) for w in smoke] == list(BASE)
    assert all(max(w.values()) == pytest.approx(0.6) for w in smoke)
    default = [normalized(m) for m in design_mixes(BASE, "default", (0.1, 0.3, 0.6))]
    assert len(default) == 9
    text_low = default[0]  # text at 0.1; image and audio share 0.9 as 0.3 : 0.2
    assert text_low["text"] == pytest.approx(0.1)
    assert text_low["image_text"] == pytest.approx(0.54) and text_low["audio_text"] == pytest.approx(0.36)
    assert normalized(design_mixes(BASE, "default", (0.5,))[0]) == pytest.approx(BASE)  # the base mix itself


def test_log_slope() -> None:
    w = np.array([0.1, 0.2, 0.4, 0.8, 0.1])
    fit = log_slope(w, 2.0 - 0.25 * np.log(w), num_bootstrap=50, seed=0)
    assert fit["b"] == pytest.approx(-0.25) and fit["a"] == pytest.approx(2.0)
    assert fit["low"] == pytest.approx(-0.25) and fit["high"] == pytest.approx(-0.25)  # exact data: no spread
    noisy = log_slope(w, 2.0 - 0.25 * np.log(w) + np.array([0.05, -0.05, 0.02, 0.0, -0.03]), num_bootstrap=200,
                      seed=0)
    assert noisy["low"] < noisy["b"] < noisy["high"]
    assert np.isnan(log_slope(np.array([0.3, 0.3]), np.array([1.0, 2.0]), num_bootstrap=10, seed=0)["b"])


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="mix"):
        MixingStudyConfig(mixes=("text=0.5",))
    with pytest.raises(ValueError, match="levels"):
        MixingStudyConfig(levels=(0.0, 0.5))


@pytest.mark.slow
def test_mixing_smoke(tmp_path: Path, study_data_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMODAL_NO_PROGRESS", "1")
    torch.set_num_threads(1)
    study = StudyConfig(out_dir=tmp_path / "mixing", size="smoke", data_cache=study_data_cache)
    result = run_mixing(MixingStudyConfig(study=study, num_bootstrap=100))
    summary = json.loads(result.results.read_text())["summary"]
    runs = summary["runs"]
    assert len(runs) == 3 and summary["equal_tokens"] and summary["weight_unit"] == "examples"
    assert {run["tokens"] for run in runs.values()} == {20 * 8 * 128}
    for mix, run in runs.items():
        config = json.loads((Path(run["run_dir"]) / "config.json").read_text())
        trained = {k: v / sum(config["data"]["weight_schedule"][0]["weights"].values())
                   for k, v in config["data"]["weight_schedule"][0]["weights"].items()}
        assert trained == pytest.approx(run["weights"]) and run["weights"] == pytest.approx(normalized(mix))
    for modality, fit in summary["fits"].items():  # the slope is the least-squares fit of the measured losses
        w = np.array([run["weights"][fit["component"]] for run in runs.values()])
        y = np.array([run["nelbo"][modality] for run in runs.values()])
        assert fit["b"] == pytest.approx(np.polyfit(np.log(w), y, 1)[0]) and fit["points"] == 3
        assert fit["low"] <= fit["b"] <= fit["high"]
    assert [p.name for p in result.plots] == ["mixing_loss_vs_weight.png"]
    if find_chromium() is None:
        pytest.skip("no Chromium for the report check")
    check = check_report(result.report)
    assert not check.console_errors and not check.failed_requests and not check.external_requests
    assert check.num_images == 1 and check.num_broken_images == 0 and check.screenshot_distinct_colors > 10
