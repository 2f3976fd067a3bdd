"""The scaling-law study: the fit's guard against too few runs, its bootstrap intervals, D*(N), and at smoke
size what it measures end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from trimodal_eval.experiments.scaling_law import (
    ScalingStudyConfig,
    finite_frontier,
    fit_modality,
    frontier_rows,
    log_d_star,
    run_scaling_law,
)
from trimodal_eval.experiments.study import StudyConfig
from trimodal_eval.report.browser_check import check_report, find_chromium
from trimodal_eval.scaling import ScalingFitConfig, ScalingLaw, compute_optimal_tokens
from trimodal_eval.scaling.collect import RunPoint

LAW = ScalingLaw(E=1.5, A=40.0, alpha=0.35, B=300.0, beta=0.3)


def _points(sizes: list[float], horizons: list[float], noise: float = 0.0) -> list[RunPoint]:
    rng = np.random.default_rng(0)
    return [RunPoint(run_dir=Path(f"r{n}-{d}"), name=f"{n}-{d}", parameters=int(n), embedding_parameters=0, tokens=d,
                     batch_size=8, loss={"text": float(LAW.predict(n, d)) * math.exp(noise * rng.normal())},
                     source="val", config={}) for n in sizes for d in horizons]


def test_fit_is_refused_below_five_runs() -> None:
    fit, why = fit_modality(_points([1e4, 1e5], [1e5, 1e6]), "text", ScalingFitConfig(num_bootstrap=5))
    assert fit is None and why.startswith("under-determined: 4 runs (2 sizes x 2 horizons)")
    fit, why = fit_modality(_points([1e4, 1e5], [1e5, 1e6]), "image", ScalingFitConfig(num_bootstrap=5))
    assert fit is None and "0 runs" in why


def test_fit_recovers_a_law_with_bootstrap_intervals() -> None:
    points = _points([1e4, 4e4, 1.6e5], [1e5, 4e5, 1.6e6], noise=0.002)
    fit, why = fit_modality(points, "text", ScalingFitConfig(num_bootstrap=40, seed=1))
    assert fit is not None and why == "9 runs, 4 residual degrees of freedom"
    assert fit.rmse_log < 0.01 and len(fit.bootstrap) >= 30
    for name in ("E", "A", "alpha", "B", "beta"):
        low, high = fit.intervals[name]
        assert low <= getattr(fit.law, name) <= high
    rows = frontier_rows(fit, [10_000, 40_000])
    for row in rows:
        assert row["d_star"] == pytest.approx(float(compute_optimal_tokens(fit.law, row["N"])))
        assert row["low"] <= row["d_star"] <= row["high"]
        assert row["paper_relayed_d_star"] == pytest.approx(7754 * row["N"] ** 0.84)


def test_log_d_star_and_degenerate_refits() -> None:
    assert math.exp(log_d_star(LAW, 1e5)) == pytest.approx(float(compute_optimal_tokens(LAW, 1e5)))
    flat = ScalingLaw(E=1.0, A=1.0, alpha=0.5, B=1e6, beta=1e-3)  # D* ~ exp(thousands): beyond a float
    assert log_d_star(flat, 1e5) > 700
    assert log_d_star(ScalingLaw(E=1.0, A=0.0, alpha=0.5, B=1.0, beta=0.5), 1e5) == math.inf
    fit, _ = fit_modality(_points([1e4, 4e4, 1.6e5], [1e5, 4e5, 1.6e6], noise=0.002), "text",
                          ScalingFitConfig(num_bootstrap=10))
    assert fit is not None
    kept = finite_frontier(type(fit)(fit.law, fit.num_points, fit.rmse_log, fit.intervals, (*fit.bootstrap, flat)),
                           [10_000, 40_000])
    assert flat not in kept.bootstrap and len(kept.bootstrap) == len(fit.bootstrap)


@pytest.mark.slow
def test_scaling_law_smoke(tmp_path: Path, study_data_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMODAL_NO_PROGRESS", "1")
    torch.set_num_threads(1)
    study = StudyConfig(out_dir=tmp_path / "scaling", size="smoke", data_cache=study_data_cache)
    result = run_scaling_law(ScalingStudyConfig(study=study))
    summary = json.loads(result.results.read_text())["summary"]
    points = summary["points"]
    assert len(points) == 4 and {p["D"] for p in points} == {10 * 8 * 128, 20 * 8 * 128}
    assert len({p["N"] for p in points}) == 2 and all(p["source"] == "val" for p in points)
    for p in points:  # the loss is the held-out NELBO the trimodal-eval elbo command wrote
        elbo = json.loads((Path(p["run_dir"]) / "eval" / "elbo.json").read_text())
        assert p["loss"] == pytest.approx({m: e["nelbo"] for m, e in elbo["modalities"].items()})
        config = json.loads((Path(p["run_dir"]) / "config.json").read_text())
        assert config["model"]["ffn_hidden"] == 3 * config["model"]["d_model"]
    for fit in summary["fits"].values():  # 2 x 2 runs cannot fix five parameters: said, not pretended
        assert fit["status"].startswith("under-determined: 4 runs") and "law" not in fit
    assert [p.name for p in result.plots] == ["scaling_measured.png"]
    if find_chromium() is None:
        pytest.skip("no Chromium for the report check")
    check = check_report(result.report)
    assert not check.console_errors and not check.failed_requests and not check.external_requests
    assert check.num_images == 1 and check.num_broken_images == 0 and check.screenshot_distinct_colors > 10
