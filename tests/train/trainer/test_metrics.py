"""Metrics: the loss-spike rule, JSONL writing and reading back after a resume, spikes reported by ``train``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from trimodal_train import trainer as trainer_module
from trimodal_train.metrics import MetricsWriter, SpikeDetector, peak_flops, read_metrics
from trimodal_train.trainer import train


def test_spike_rule_is_mean_plus_k_sigma_of_the_window() -> None:
    det = SpikeDetector(window=5, k=3.0, min_history=4)
    for loss in (1.0, 1.2, 0.8):
        assert det.update(loss) == (False, None)  # not enough history yet
    assert det.update(1.0)[0] is False
    history = [1.0, 1.2, 0.8, 1.0]
    mean = sum(history) / 4
    std = (sum((x - mean) ** 2 for x in history) / 3) ** 0.5
    spike, threshold = det.update(mean + 3.0 * std + 1e-6)
    assert spike and threshold == pytest.approx(mean + 3.0 * std)
    assert det.update(float("nan"))[0] is False and len(det.history) == 5  # non-finite losses are not kept
    again = SpikeDetector(window=5, k=3.0, min_history=4)
    again.load_state_dict(json.loads(json.dumps(det.state_dict())))
    assert list(again.history) == list(det.history)


def test_writer_and_reader(tmp_path: Path) -> None:
    writer = MetricsWriter(tmp_path, enabled=True)
    for step in (0, 1, 2, 1, 2, 3):  # steps 1-2 logged again by a resumed run
        writer.write({"step": step, "loss": float(step) + (0.5 if step else 0)})
    writer.close()
    with (tmp_path / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 4, "lo')  # torn by a kill
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [0, 1, 2, 3]
    assert len(read_metrics(tmp_path / "metrics.jsonl", latest=False)) == 6
    silent = MetricsWriter(tmp_path / "other", enabled=False)
    silent.write({"step": 0})
    assert not (tmp_path / "other").exists()
    assert peak_flops(torch.device("cpu")) is None


def test_train_reports_a_loss_spike(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real = trainer_module.train_step

    def step(model: torch.nn.Module, batch: Any, **kw: Any) -> Any:
        out = real(model, batch, **kw)
        return dataclasses.replace(out, loss=50.0) if kw["step"] == 12 else out

    monkeypatch.setattr(trainer_module, "train_step", step)
    result = train(make_config(run={"steps": 13, "spike_sigma": 4.0}, checkpoint={"interval": 0}))
    records = read_metrics(result.metrics_path)
    assert [r["step"] for r in records if r.get("spike")] == [12]
    spikes = [json.loads(line) for line in (result.run_dir / "spikes.jsonl").read_text().splitlines()]
    assert [s["step"] for s in spikes] == [12] and spikes[0]["loss"] == 50.0 and spikes[0]["threshold"] < 50.0
