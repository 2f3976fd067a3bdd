"""LR schedules, the two optimizer modes (SDE transfer and plain accumulation), their logged values, clipping."""

from __future__ import annotations

import itertools
import logging
import math

import pytest
import torch

from trimodal_train.batch_scaling import AdamWBase
from trimodal_train.lr_schedule import LRScheduleConfig, build_lr_scheduler, lr_multiplier
from trimodal_train.optim import OptimConfig, build_optimizer, clip_gradients, log_resolved, resolve_optim


def test_warmup_is_capped_at_a_quarter_of_the_run() -> None:
    cfg = LRScheduleConfig(name="cosine", warmup_steps=1000, min_lr_ratio=0.1)
    assert cfg.warmup(100) == 25 and cfg.warmup(10_000) == 1000
    values = [lr_multiplier(cfg, s, 100) for s in range(100)]
    assert values[0] == 0.0 and values[24] == pytest.approx(24 / 25) and values[25] == pytest.approx(1.0)
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(values[25:]))  # monotone decay
    # cosine: halfway through the decay the multiplier is halfway between 1 and r
    assert lr_multiplier(cfg, 25 + 75 // 2, 100) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 37 / 75)))
    assert lr_multiplier(cfg, 100, 100) == pytest.approx(0.1)


def test_warmup_stable_decay() -> None:
    cfg = LRScheduleConfig(name="wsd", warmup_steps=10, decay_fraction=0.2, min_lr_ratio=0.0, decay_shape="linear")
    assert [lr_multiplier(cfg, s, 100) for s in (0, 5, 10, 50, 79)] == pytest.approx([0, 0.5, 1, 1, 1])
    assert lr_multiplier(cfg, 90, 100) == pytest.approx(0.5) and lr_multiplier(cfg, 100, 100) == 0.0
    sqrt = LRScheduleConfig(name="wsd", warmup_steps=0, decay_fraction=0.5, min_lr_ratio=0.0, decay_shape="sqrt")
    assert lr_multiplier(sqrt, 75, 100) == pytest.approx(1 - math.sqrt(0.5))


def test_scheduler_scales_every_group_and_round_trips() -> None:
    model = torch.nn.Linear(3, 3)
    opt = torch.optim.AdamW([{"params": [model.weight], "lr": 1.0}, {"params": [model.bias], "lr": 0.5}])
    sched = build_lr_scheduler(opt, LRScheduleConfig(name="constant", warmup_steps=4), 16)
    for _ in range(2):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.5, 0.25])
    state = sched.state_dict()
    opt2 = torch.optim.AdamW([{"params": [model.weight], "lr": 1.0}, {"params": [model.bias], "lr": 0.5}])
    sched2 = build_lr_scheduler(opt2, LRScheduleConfig(name="constant", warmup_steps=4), 16)
    sched2.load_state_dict(state)
    opt2.step()
    sched2.step()
    opt.step()
    sched.step()
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


def test_bad_schedule_values() -> None:
    with pytest.raises(ValueError, match="max_warmup_fraction"):
        LRScheduleConfig(max_warmup_fraction=1.5)
    with pytest.raises(ValueError, match="name"):
        LRScheduleConfig(name="linear")  # type: ignore[arg-type]


def test_sde_mode_derives_and_logs_the_reparameterized_values(caplog: pytest.LogCaptureFixture) -> None:
    base = AdamWBase(lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, batch_size=256, tokens=1e9)
    cfg = OptimConfig(mode="sde", adamw=base, gamma=0.44, critical_steps=1000)
    r = resolve_optim(cfg, batch_size=1024, seq_len=1024, total_steps=2000, grad_accum=4)
    D = 1024 * 1024 * 2000
    kappa = (1e9 / D) ** 0.44 * 4
    assert r.tokens == D and r.kappa == pytest.approx(kappa)
    assert (r.lr, r.beta1, r.beta2, r.eps) == pytest.approx(
        (1e-3 * math.sqrt(kappa), 0.9**kappa, 0.95**kappa, 1e-8 / math.sqrt(kappa)))
    assert r.weight_decay == pytest.approx(0.1 * math.sqrt(kappa))  # per-token rule (default)
    assert r.logical_batch_size == pytest.approx(1024 / kappa) and r.logical_step(10) == pytest.approx(10 * kappa)
    assert r.critical_batch_size == pytest.approx(D / (1024 * 1000)) and r.warning is None  # 2048 > 1024
    with caplog.at_level(logging.INFO, logger="trimodal_train.optim"):
        log_resolved(r)
    assert f"kappa={kappa:.4g}" in caplog.text and "logical batch" in caplog.text and "WARNING" not in caplog.text

    over = resolve_optim(cfg, batch_size=1024, seq_len=1024, total_steps=500, grad_accum=1)  # B_crit = 512
    assert over.warning is not None
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="trimodal_train.optim"):
        log_resolved(over)
    assert any(rec.levelno == logging.WARNING and "critical batch" in rec.message for rec in caplog.records)


def test_accumulate_mode_uses_the_hyperparameters_as_given() -> None:
    base = AdamWBase(lr=2e-3, beta1=0.8, beta2=0.99, eps=1e-7, weight_decay=0.05)
    r = resolve_optim(OptimConfig(mode="accumulate", adamw=base), batch_size=64, seq_len=128, total_steps=10,
                      grad_accum=8)
    assert (r.lr, r.beta1, r.beta2, r.eps, r.weight_decay, r.kappa) == (2e-3, 0.8, 0.99, 1e-7, 0.05, 1.0)
    assert r.grad_accum == 8 and r.logical_batch_size == 64 and r.warning is None


def test_optimizer_gets_per_group_multipliers() -> None:
    def groups(model: torch.nn.Module, *, lr: float, eps: float, weight_decay: float) -> list[dict]:
        return [{"params": [model.weight], "lr": lr * 0.5, "eps": eps * 2, "weight_decay": weight_decay},
                {"params": [model.bias], "lr": lr, "eps": eps, "weight_decay": 0.0}]

    model = torch.nn.Linear(2, 2)
    r = resolve_optim(OptimConfig(mode="accumulate", adamw=AdamWBase(lr=1e-2, eps=1e-8, beta1=0.5, beta2=0.6)),
                      batch_size=8, seq_len=4, total_steps=1, grad_accum=1)
    opt = build_optimizer(model, r, groups_fn=groups)
    assert [g["lr"] for g in opt.param_groups] == [5e-3, 1e-2]
    assert [g["eps"] for g in opt.param_groups] == [2e-8, 1e-8]
    assert opt.param_groups[0]["betas"] == (0.5, 0.6)


def test_clip_gradients_returns_the_norm_before_clipping() -> None:
    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.tensor([3.0, 4.0, 0.0, 0.0])
    assert float(clip_gradients([p], 1.0)) == pytest.approx(5.0)
    assert float(p.grad.norm()) == pytest.approx(1.0, rel=1e-5)
    p.grad = torch.tensor([3.0, 4.0, 0.0, 0.0])
    assert float(clip_gradients([p], None)) == pytest.approx(5.0) and float(p.grad.norm()) == pytest.approx(5.0)
