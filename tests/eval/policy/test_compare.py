"""The comparison's statistics and outputs on a synthetic result (fast; the real run is in test_end_to_end)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trimodal_eval.policy.compare import bootstrap_mean, write_outputs


def test_bootstrap_mean_interval() -> None:
    assert bootstrap_mean(np.ones((50, 3)), num=200, confidence=0.95, seed=0) == (1.0, 1.0, 1.0)
    rng = np.random.default_rng(0)
    small = bootstrap_mean((rng.random((40, 2)) < 0.5).astype(float), num=500, confidence=0.95, seed=1)
    large = bootstrap_mean((rng.random((4000, 2)) < 0.5).astype(float), num=500, confidence=0.95, seed=1)
    assert small[1] < small[0] < small[2] and large[1] < 0.5 < large[2]
    assert large[2] - large[1] < (small[2] - small[1]) / 5  # about 1/sqrt(100) as wide
    # seeds of one example move together: per-example means are what is resampled
    paired = np.repeat(np.array([[0.0], [1.0]]), 20, axis=0).repeat(3, axis=1)
    assert bootstrap_mean(paired, num=300, confidence=0.9, seed=2)[0] == 0.5


def _result() -> dict:
    cells = []
    for method, nfe, acc in [("policy", 2.5, 0.9), ("random", 2.0, 0.5), ("random", 5.0, 0.8), ("threshold", 3.0, 0.7)]:
        label = "policy a=0.3 b=1.0" if method == "policy" else f"{method} {nfe}"
        cells.append({"mode": "full", "length": 5, "length_multiplier": 1, "method": method, "setting": "s",
                      "label": label, "accuracy": acc, "ci_low": acc - 0.1, "ci_high": acc + 0.1, "nfe": nfe})
    versus = [{"mode": "full", "length": 5, "policy": "p", "label": "policy a=0.3 b=1.0", "policy_nfe": 2.5,
               "random_steps": 3, "policy_accuracy": 0.9, "random_accuracy": 0.6, "difference": 0.3,
               "ci_low": 0.2, "ci_high": 0.4}]
    return {"format": 1, "config": {"task": {"task": "word"}, "num_examples": 10, "seeds": [0]},
            "cells": cells, "versus_random": versus}


def test_outputs(tmp_path: Path) -> None:
    write_outputs(_result(), tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"comparison.json", "report.html", "accuracy_vs_nfe_full_L5.png"}
    assert (tmp_path / "accuracy_vs_nfe_full_L5.png").read_bytes()[:4] == b"\x89PNG"
    html = (tmp_path / "report.html").read_text()
    assert "[0.200, 0.400]" in html and "threshold" in html and "data:image/png;base64," in html
