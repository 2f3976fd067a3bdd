"""The batch-size study at smoke size: SDE hyperparameters per batch, spreads and the leave batch from the
curves, the predicted B_crit, and the report in Chromium."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from trimodal_eval.experiments.batch_size import BatchSizeStudyConfig, run_batch_size
from trimodal_eval.experiments.spread_stats import leave_batch, paired_spread_bootstrap, spread
from trimodal_eval.experiments.study import StudyConfig
from trimodal_eval.report.browser_check import check_report, find_chromium


def test_leave_batch_and_spread() -> None:
    finals = {4: 3.00, 8: 3.02, 16: 3.05, 32: 3.20}
    assert leave_batch(finals, 0.02) == 32  # 3.20 > 1.02 * median(3.00, 3.02, 3.05) = 3.0804
    assert leave_batch(finals, 0.01) == 16  # 3.05 > 1.01 * median(3.00, 3.02) = 3.0401
    assert leave_batch(finals, 0.10) is None
    s = spread(list(finals.values()))
    assert s["spread"] == pytest.approx(0.20)
    assert s["relative_spread"] == pytest.approx(0.20 / 3.035)
    assert math.isnan(spread([1.0])["spread"])


def test_paired_spread_bootstrap() -> None:
    import numpy as np

    from trimodal_eval.likelihood import RowSums

    rng = np.random.default_rng(0)
    rows = rng.uniform(2.0, 4.0, size=(30, 3))
    count = np.ones((30, 3))
    same = {b: RowSums(nll_RM=rows.copy(), n_RM=count) for b in (4, 8, 16)}  # identical finals: spread 0
    apart = {b: RowSums(nll_RM=rows + 0.1 * i, n_RM=count) for i, b in enumerate((4, 8, 16))}  # spread 0.2
    got = paired_spread_bootstrap({"sde": same, "naive": apart}, replicates=40, seed=0)
    assert got["spread_ci"]["sde"] == pytest.approx([0.0, 0.0])
    assert got["spread_ci"]["naive"] == pytest.approx([0.2, 0.2])
    assert got["sde_minus_naive_ci"] == pytest.approx([-0.2, -0.2]) and got["fraction_sde_tighter"] == 1.0


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="batch_factors"):
        BatchSizeStudyConfig(batch_factors=(1.0,))
    with pytest.raises(ValueError, match="StudyConfig.size"):
        StudyConfig(size="huge")  # type: ignore[arg-type]


@pytest.mark.slow
def test_batch_size_smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMODAL_NO_PROGRESS", "1")
    torch.set_num_threads(1)
    study = StudyConfig(out_dir=tmp_path / "batch_size", size="smoke", data_cache=tmp_path / "data")
    config = BatchSizeStudyConfig(study=study)
    result = run_batch_size(config)
    data = json.loads(result.results.read_text())
    summary = data["summary"]
    D, L, B0 = summary["tokens"], summary["seq_len"], summary["base_batch"]
    assert summary["batches"] == [4, 8, 32]
    assert summary["predicted_critical_batch"] == pytest.approx(D / (L * config.critical_steps))
    runs = data["runs"]
    assert len(runs) == 5  # the base batch is trained once, shared by both rules
    for batch in summary["batches"]:
        kappa = batch / B0  # D_base = D: the horizon factor is 1
        sde = summary["rules"]["sde"]["optimizer"][str(batch)]
        assert sde["kappa"] == pytest.approx(kappa)
        assert sde["lr"] == pytest.approx(config.lr * math.sqrt(kappa))
        assert sde["beta1"] == pytest.approx(config.beta1**kappa)
        assert sde["beta2"] == pytest.approx(config.beta2**kappa)
        assert sde["eps"] == pytest.approx(config.eps / math.sqrt(kappa))
        assert sde["weight_decay"] == pytest.approx(config.weight_decay * math.sqrt(kappa))
        assert sde["total_steps"] == int(D // (L * batch))
        naive = summary["rules"]["naive"]["optimizer"][str(batch)]
        assert (naive["lr"], naive["beta2"], naive["weight_decay"]) == (config.lr, config.beta2, config.weight_decay)
    # The spreads and the leave batch are computed from the validation curves' final points.
    for rule, mode in (("sde", "sde"), ("naive", "accumulate")):
        finals = {}
        for run in runs:
            batch = run["optimizer"]["batch_size"]
            if run["optimizer"]["mode"] == mode or batch == B0:
                curve = run["validation"]
                tokens = [p["tokens"] for p in curve]
                assert tokens == sorted(tokens) and tokens[-1] == run["optimizer"]["total_steps"] * batch * L
                assert len(curve) >= 2 and all(math.isfinite(p["nelbo"]) for p in curve)
                finals[batch] = curve[-1]["nelbo"]
        got = summary["rules"][rule]
        assert got["all"]["spread"] == pytest.approx(max(finals.values()) - min(finals.values()))
        assert got["leaves_at"] == leave_batch(finals, config.leave_tolerance)
        assert {int(b): v for b, v in got["final_nelbo"].items()} == pytest.approx(finals)
    assert summary["sde_tighter"] == (summary["rules"]["sde"]["all"]["spread"]
                                      < summary["rules"]["naive"]["all"]["spread"])
    boot = summary["bootstrap"]
    for low, high in [*boot["spread_ci"].values(), boot["sde_minus_naive_ci"]]:
        assert low <= high
    assert 0.0 <= boot["fraction_sde_tighter"] <= 1.0
    assert summary["rules"]["sde"]["leaves_at_by_tolerance"]["0.02"] == summary["rules"]["sde"]["leaves_at"]
    assert [p.name for p in result.plots] == ["batch_size_curves.png", "batch_size_final.png"]
    # A rerun reuses every run and its validation cache.
    mtimes = {p: p.stat().st_mtime for p in (tmp_path / "batch_size" / "sweeps").rglob("model.safetensors")}
    again = run_batch_size(config)
    assert again.summary["rules"]["sde"]["final_nelbo"] == summary["rules"]["sde"]["final_nelbo"]
    assert {p: p.stat().st_mtime for p in mtimes} == mtimes
    if find_chromium() is not None:
        pytest.importorskip("playwright")
        check = check_report(result.report)
        assert check.ok, check
        assert check.num_images == 2
