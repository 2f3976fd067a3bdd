"""The noise-schedule study: its designs, overrides and, at smoke size, what it measures end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from trimodal_eval.experiments.schedules import (
    SchedulesStudyConfig,
    _overrides,
    comparisons,
    run_schedules,
    schedule_points,
)
from trimodal_eval.experiments.study import StudyConfig
from trimodal_eval.report.browser_check import check_report, find_chromium

SCHEDULES = ("linear", "cosine", "polynomial")


def test_designs() -> None:
    tied = schedule_points(SCHEDULES, "tied")
    assert list(tied) == ["all-linear", "all-cosine", "all-polynomial"]
    assert tied["all-cosine"] == {"text": "cosine", "image": "cosine", "audio": "cosine"}
    per = schedule_points(SCHEDULES, "per_modality")
    assert len(per) == 1 + 3 * 2
    assert per["image-polynomial"] == {"text": "linear", "image": "polynomial", "audio": "linear"}
    assert comparisons(SCHEDULES, "per_modality", "audio") == {"linear": "linear", "cosine": "audio-cosine",
                                                                "polynomial": "audio-polynomial"}
    assert _overrides({"text": "polynomial"}, 3.0) == ("--diffusion.schedules.text.name", "polynomial",
                                                       "--diffusion.schedules.text.k", "3.0")


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="unknown"):
        SchedulesStudyConfig(schedules=("linear", "nope"))
    with pytest.raises(ValueError, match="linear"):
        SchedulesStudyConfig(schedules=("cosine", "polynomial"))
    with pytest.raises(ValueError, match="polynomial_k"):
        SchedulesStudyConfig(polynomial_k=0.0)


@pytest.mark.slow
def test_schedules_smoke(tmp_path: Path, study_data_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMODAL_NO_PROGRESS", "1")
    torch.set_num_threads(1)
    study = StudyConfig(out_dir=tmp_path / "schedules", size="smoke", data_cache=study_data_cache)
    result = run_schedules(SchedulesStudyConfig(study=study))
    summary = json.loads(result.results.read_text())["summary"]
    assert summary["design"] == "tied" and set(summary["runs"]) == {"all-linear", "all-cosine", "all-polynomial"}
    for label, run in summary["runs"].items():
        config = json.loads((Path(run["run_dir"]) / "config.json").read_text())
        trained = {m: s["name"] for m, s in config["diffusion"]["schedules"].items()}
        assert trained == run["schedules"] == dict.fromkeys(("text", "image", "audio"), label.removeprefix("all-"))
        if label == "all-linear":  # its own schedule is the common one: same rows, times, masks, same numbers
            assert run["nelbo_own_schedule"] == pytest.approx(run["nelbo"], rel=1e-12)
        else:  # another schedule draws other times and masks (the agreement in expectation: test_heldout_elbo)
            assert all(run["nelbo_own_schedule"][m] != run["nelbo"][m] for m in ("text", "image", "audio"))
        samples = run["samples"]
        assert 0 <= samples["image"]["js_to_heldout"] <= math.log(2) and samples["audio"]["js_to_heldout"] >= 0
        assert samples["text"]["generated_gen_ppl_unigram"] > 1 and samples["text"]["prompts"] >= 1
    for entry in summary["per_modality"].values():
        assert set(entry["delta_vs_linear"]) == {"cosine", "polynomial"}
        for schedule, delta in entry["delta_vs_linear"].items():
            # paired difference on identical rows = difference of the two ratio estimates
            expected = entry["nelbo"][schedule]["value"] - entry["nelbo"]["linear"]["value"]
            assert delta["value"] == pytest.approx(expected, abs=1e-9)
            low, high = delta["ci"]
            assert low <= delta["value"] <= high and delta["excludes_zero"] == (low > 0 or high < 0)
        assert entry["best"] == min(entry["nelbo"], key=lambda s: entry["nelbo"][s]["value"])
    assert [p.name for p in result.plots] == ["schedules_nelbo.png"]
    if find_chromium() is None:
        pytest.skip("no Chromium for the report check")
    check = check_report(result.report)
    assert not check.console_errors and not check.failed_requests and not check.external_requests
    assert check.num_images == 1 and check.num_broken_images == 0 and check.screenshot_distinct_colors > 10
