"""``train``: run files before step 0, metrics, loss falling per modality, gradient accumulation, the SDE mode's
logged values, non-finite steps, bad input before step 0, ``load_model`` and the command line."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from trimodal_core import TokenSpace, TokenSpaceConfig
from trimodal_train import trainer as trainer_module
from trimodal_train.batch_scaling import AdamWBase
from trimodal_train.checkpoint import load_model
from trimodal_train.cli import main as cli_main
from trimodal_train.config_io import to_dict
from trimodal_train.data import build_loader
from trimodal_train.diffusion import LossSums, corrupt, loss_sums, nelbo_per_token
from trimodal_train.lr_schedule import LRScheduleConfig
from trimodal_train.metrics import read_metrics
from trimodal_train.model import build_model
from trimodal_train.optim import OptimConfig
from trimodal_train.trainer import train


def test_run_files_and_metrics(reference_run: Any) -> None:
    run_dir = reference_run.config.run.run_dir
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"]["global_batch_size"] == 8 and config["derived"]["total_steps"] == 8
    space = TokenSpace.load(run_dir / "token_space.json")
    assert config["derived"]["token_space_fingerprint"] == space.fingerprint
    assert {"python", "torch", "trimodal-train"} <= set(json.loads((run_dir / "versions.json").read_text()))
    records = read_metrics(run_dir / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(8))
    for key in ("loss", "nelbo_text", "exp_nelbo_image", "nelbo_audio", "lr", "grad_norm", "tokens_per_s", "mfu",
                "kappa", "logical_step"):
        assert key in records[0], key
    assert records[0]["mfu"] is None  # no peak FLOP/s on a CPU
    assert records[-1]["exp_nelbo_text"] == pytest.approx(math.exp(records[-1]["nelbo_text"]))
    assert records[0]["lr"] == 0.0 and records[1]["lr"] > 0  # warmup from 0
    rng = torch.get_rng_state()
    loaded = load_model(run_dir)
    assert torch.equal(torch.get_rng_state(), rng)  # loading does not move the caller's RNG
    assert loaded.step == 8 and loaded.token_space == space and loaded.config == reference_run.config.model
    assert loaded.train_config["run"]["steps"] == 8 and not loaded.model.training
    tokens = torch.full((1, 16), space.text_offset + 5)
    assert loaded.model(tokens).shape == (1, 16, space.vocab_size)


def _heldout_nelbo(model: torch.nn.Module, mixture: Path, space: TokenSpace, config: Any) -> torch.Tensor:
    """Per-modality NELBO of 6 fixed batches (seed 123, fixed masks) under ``model``."""
    loader = build_loader(mixture, config.data.loader_config(seed=123, rank=0, world_size=1, rows_per_step=16))
    total = LossSums.zeros()
    with torch.no_grad():
        for step, batch in zip(range(6), loader, strict=False):
            c = corrupt(batch, config=config.diffusion, token_space=space, seed=123, step=step)
            logits = model(c.inputs_BL, document_ids_BL=batch.document_ids_BL, span_modality_BL=c.span_modality_BL)
            total = total + loss_sums(logits, c).detach()
    loader.close()
    return nelbo_per_token(total)


def test_loss_falls_for_every_modality(tiny_mixture: Any, make_config: Any) -> None:
    config = make_config(run={"steps": 60, "log_interval": 10}, checkpoint={"interval": 0},
                         optim=OptimConfig(mode="accumulate", adamw=AdamWBase(lr=5e-3, beta2=0.99, weight_decay=0.0),
                                           schedule=LRScheduleConfig(warmup_steps=5)))
    torch.manual_seed(0)
    initial = build_model(config.model, tiny_mixture.token_space)
    result = train(config)
    trained = load_model(result.run_dir).model
    before = _heldout_nelbo(initial, tiny_mixture.path, tiny_mixture.token_space, config)
    after = _heldout_nelbo(trained, tiny_mixture.path, tiny_mixture.token_space, config)
    # Same batches, masks and times before and after (no sampling noise in the comparison): a drop of 0.2 nats
    # per token is far outside float noise (the image codes' unigram entropy bounds how far image can fall).
    for name, b, a in zip(("text", "image", "audio"), before.tolist(), after.tolist(), strict=True):
        assert a < b - 0.2, f"{name}: NELBO {b:.3f} -> {a:.3f}"


def test_micro_batches_equal_one_batch(reference_run: Any, make_config: Any) -> None:
    config = make_config(data={"micro_batch_size": 2}, run={"steps": 8}, checkpoint={"interval": 0})
    train(config)
    ours = [r["loss"] for r in read_metrics(config.run.run_dir / "metrics.jsonl")]
    ref = [r["loss"] for r in read_metrics(reference_run.config.run.run_dir / "metrics.jsonl")]
    assert ours == pytest.approx(ref, rel=1e-5)
    assert json.loads((config.run.run_dir / "config.json").read_text())["derived"]["grad_accum"] == 4


def test_sde_mode_logs_the_derived_values(make_config: Any, caplog: pytest.LogCaptureFixture) -> None:
    base = AdamWBase(lr=1e-3, batch_size=32, tokens=4096.0)
    config = make_config(run={"steps": 2, "log_level": "INFO"}, checkpoint={"interval": 0},
                         optim=OptimConfig(mode="sde", adamw=base, gamma=0.5, critical_steps=10))
    with caplog.at_level(logging.INFO, logger="trimodal_train"):
        train(config)
    D = 2 * 8 * 128
    kappa = (4096.0 / D) ** 0.5 * 8 / 32
    derived = json.loads((config.run.run_dir / "config.json").read_text())["derived"]["optimizer"]
    assert derived["kappa"] == pytest.approx(kappa) and derived["lr"] == pytest.approx(1e-3 * math.sqrt(kappa))
    assert derived["beta1"] == pytest.approx(0.9**kappa) and derived["logical_batch_size"] == pytest.approx(8 / kappa)
    records = read_metrics(config.run.run_dir / "metrics.jsonl")
    assert records[1]["kappa"] == pytest.approx(kappa) and records[1]["logical_step"] == pytest.approx(2 * kappa)
    assert f"kappa={kappa:.4g}" in caplog.text
    # 2 steps are fewer than S_crit = 10: the batch is above the critical batch D / (L * 10) = 1.6
    assert any(r.levelno == logging.WARNING and "critical batch" in r.getMessage() for r in caplog.records)


def _poison_step(monkeypatch: pytest.MonkeyPatch, bad_step: int) -> None:
    real = trainer_module.train_step

    def step(model: torch.nn.Module, batch: Any, **kw: Any) -> Any:
        out = real(model, batch, **kw)
        if kw["step"] == bad_step:
            for p in model.parameters():
                p.grad.fill_(float("nan"))
            return dataclasses.replace(out, loss=float("nan"))
        return out

    monkeypatch.setattr(trainer_module, "train_step", step)


def test_nonfinite_step_is_skipped_and_counted(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _poison_step(monkeypatch, bad_step=2)
    config = make_config(run={"steps": 4}, checkpoint={"interval": 0})
    snapshots: dict[int, list[torch.Tensor]] = {}
    real_step = trainer_module.train_step

    def capture(step: int, record: dict[str, Any]) -> None:
        snapshots[step] = [p.detach().clone() for p in model_ref[0].parameters()]

    model_ref: list[torch.nn.Module] = []
    real_build = trainer_module.build_model

    def build(*args: Any, **kw: Any) -> torch.nn.Module:
        model_ref.append(real_build(*args, **kw))
        return model_ref[0]

    monkeypatch.setattr(trainer_module, "build_model", build)
    assert trainer_module.train_step is real_step
    result = train(config, on_step=capture)
    assert result.nonfinite_steps == 1 and result.final_step == 4
    assert all(torch.equal(a, b) for a, b in zip(snapshots[1], snapshots[2], strict=True))  # no update at step 2
    assert not all(torch.equal(a, b) for a, b in zip(snapshots[2], snapshots[3], strict=True))
    records = read_metrics(result.metrics_path)
    assert records[2]["skipped"] and records[2]["nonfinite_steps"] == 1 and not records[3]["skipped"]


def test_nonfinite_step_stops_when_asked(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _poison_step(monkeypatch, bad_step=1)
    with pytest.raises(FloatingPointError, match="step 1"):
        train(make_config(run={"steps": 4, "nan_policy": "stop"}, checkpoint={"interval": 0}))


def test_bad_input_is_refused_before_step_0(tiny_mixture: Any, make_config: Any, tmp_path: Path) -> None:
    other = TokenSpace(TokenSpaceConfig(text_vocab_size=300, image_codebook_size=16, audio_codebook_size=16,
                                        audio_num_codebooks=2))
    other.save(tmp_path / "other_space.json")
    config = make_config(data={"token_space": tmp_path / "other_space.json"})
    with pytest.raises(ValueError, match=r"fingerprint .* but the model's token space .*other_space\.json"):
        train(config)
    assert not (config.run.run_dir / "metrics.jsonl").exists()
    with pytest.raises(ValueError, match=r"data\.seq_len=1024 is longer than the model can hold"):
        train(make_config(data={"seq_len": 1024}))
    with pytest.raises(ValueError, match="micro_batch_size=3 does not divide"):
        train(make_config(data={"micro_batch_size": 3}))
    # a checkpoint written by another config
    first = make_config(run={"steps": 2}, checkpoint={"interval": 1})
    train(first)
    changed = dataclasses.replace(first, optim=dataclasses.replace(
        first.optim, adamw=dataclasses.replace(first.optim.adamw, lr=0.5)))
    lines = (first.run.run_dir / "metrics.jsonl").read_text()
    with pytest.raises(ValueError, match=r"another config: optim\.adamw\.lr: 0\.002 in the checkpoint, 0\.5 now"):
        train(changed)
    assert (first.run.run_dir / "metrics.jsonl").read_text() == lines  # nothing trained


def test_command_line_run(tiny_mixture: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg_file = tmp_path / "run.toml"
    cfg_file.write_text(f'preset = "tiny"\n[data]\nmixture = "{tiny_mixture.path}"\nprefetch = 0\n'
                        f'[run]\nrun_dir = "{tmp_path / "cli_run"}"\nsteps = 2\nprogress = false\n'
                        'log_level = "WARNING"\ntensorboard = true\n')
    assert cli_main(["run", "--config", str(cfg_file), "--checkpoint.interval", "1"]) == 0
    assert "finished at step 2" in capsys.readouterr().out
    assert len(read_metrics(tmp_path / "cli_run" / "metrics.jsonl")) == 2
    assert list((tmp_path / "cli_run" / "tensorboard").glob("events.out.tfevents.*"))
    assert cli_main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert json.loads((tmp_path / "cli_run" / "config.json").read_text())["checkpoint"]["interval"] == 1
    assert to_dict(load_model(tmp_path / "cli_run" / "model").config)["d_model"] == 64


def test_dense_readout_trains_like_the_masked_default(reference_run: Any, tmp_path: Path) -> None:
    """``run.readout="dense"`` (full logits) and the masked default give the same run up to float order."""
    masked = reference_run.config
    assert masked.run.readout == "masked"
    run = dataclasses.replace(masked.run, run_dir=tmp_path / "dense", readout="dense")
    dense = dataclasses.replace(masked, run=run)
    train(dense)
    a = read_metrics(masked.run.run_dir / "metrics.jsonl")
    b = read_metrics(tmp_path / "dense" / "metrics.jsonl")
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-4), ra["step"]
        assert rb["grad_norm"] == pytest.approx(ra["grad_norm"], rel=1e-3), ra["step"]
