"""The gamma study: the best-lr rule, the log-log fit, the bootstrap, and the smoke-size run end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from trimodal_eval.experiments.gamma import (
    PAPER_GAMMA,
    GammaStudyConfig,
    best_log_lr,
    estimate,
    fit_gamma,
    run_gamma,
)
from trimodal_eval.experiments.study import StudyConfig
from trimodal_eval.report.browser_check import check_report, find_chromium


def test_best_log_lr_parabola_and_edges() -> None:
    x = np.log(np.array([1e-3, 2e-3, 4e-3, 8e-3]))
    x0 = math.log(3e-3)
    loss = 2.0 + 0.7 * (x - x0) ** 2
    got, edge = best_log_lr(x, loss, "parabola")
    assert got == pytest.approx(x0) and not edge  # the vertex, between grid points
    assert best_log_lr(x, loss, "grid") == (pytest.approx(x[2]), False)  # 4e-3 is nearer 3e-3 in log lr
    assert best_log_lr(x, x.copy(), "parabola") == (pytest.approx(x[0]), True)  # minimum at the low end


def test_fit_gamma_recovers_the_exponent() -> None:
    log_d = np.log(np.array([1e4, 2e4, 4e4, 8e4]))
    gamma, intercept = fit_gamma(log_d, math.log(0.05) - 0.3 / 2 * log_d)
    assert gamma == pytest.approx(0.3) and intercept == pytest.approx(math.log(0.05))


def test_estimate_from_row_sums() -> None:
    """Losses built so that each horizon's parabola vertex is lr* = 0.05 D^-0.25: gamma = 0.5 exactly."""
    log_d = np.log(np.array([1e4, 4e4, 1.6e5]))
    log_lrs = np.log(np.array([1e-3, 3e-3, 1e-2, 3e-2]))
    rows = 5
    nll = np.zeros((3, 4, 1, rows))
    count = np.ones((3, 4, 1, rows))
    for h, ld in enumerate(log_d):
        star = math.log(0.05) - 0.25 * ld
        nll[h, :, 0, :] = (3.0 + (log_lrs - star) ** 2)[:, None]
    got = estimate(log_d, log_lrs, nll, count, "parabola")
    assert got["gamma"] == pytest.approx(0.5)
    assert got["at_edge"] == [False, False, False]
    resampled = estimate(log_d, log_lrs, nll, count, "parabola", rows=np.array([0, 0, 1, 1, 4]),
                         seeds=np.zeros((3, 4, 1), dtype=np.int64))
    assert resampled["gamma"] == pytest.approx(0.5)  # identical rows: resampling changes nothing


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="horizons"):
        GammaStudyConfig(horizons=(1e4,))
    with pytest.raises(ValueError, match="lrs"):
        GammaStudyConfig(lrs=(3e-3, 1e-3, 1e-2))
    with pytest.raises(ValueError, match="fit"):
        GammaStudyConfig(fit="cubic")  # type: ignore[arg-type]


@pytest.mark.slow
def test_gamma_smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMODAL_NO_PROGRESS", "1")
    torch.set_num_threads(1)
    config = GammaStudyConfig(study=StudyConfig(out_dir=tmp_path / "gamma", size="smoke", data_cache=tmp_path / "d"),
                              num_bootstrap=50)
    result = run_gamma(config)
    data = json.loads(result.results.read_text())
    summary = data["summary"]
    horizons, lrs = summary["horizons"], summary["lrs"]
    assert len(horizons) >= 2 and len(lrs) >= 3
    assert len(data["runs"]) == len(horizons) * len(lrs)
    for run in data["runs"]:
        h, i = horizons.index(run["tokens"]), lrs.index(run["lr"])
        assert run["steps"] == int(run["tokens"] // (config.batch * config.seq_len))
        config_json = json.loads((Path(run["run_dir"]) / "config.json").read_text())
        assert config_json["derived"]["optimizer"]["lr"] == pytest.approx(run["lr"])  # lr used as given
        assert config_json["derived"]["optimizer"]["kappa"] == 1.0
        assert summary["loss"][h][i] == pytest.approx(run["final_nelbo"])
    # gamma is -2 x the least-squares slope of log(best lr) on log D, the best lr from the reported losses.
    star = [best_log_lr(np.log(lrs), np.array(summary["loss"][h]), "parabola")[0] for h in range(len(horizons))]
    assert np.log(summary["best_lr"]) == pytest.approx(star)
    slope = np.polyfit(np.log(horizons), star, 1)[0]
    assert summary["gamma"] == pytest.approx(-2 * slope)
    low, high = summary["gamma_ci"]
    assert math.isfinite(low) and low <= high and len(data["bootstrap"]) == 50
    assert summary["paper_gamma"] == PAPER_GAMMA
    page = result.report.read_text()
    assert "theirs" in page and f"{PAPER_GAMMA}" in page
    if find_chromium() is not None:
        pytest.importorskip("playwright")
        check = check_report(result.report)
        assert check.ok, check
        assert check.num_images == 2
