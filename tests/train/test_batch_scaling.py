from __future__ import annotations

import math

import pytest

from trimodal_train.batch_scaling import AdamWBase, scale_adamw


def test_base_run_is_a_fixed_point() -> None:
    base = AdamWBase()
    out = scale_adamw(base, batch_size=base.batch_size, tokens=base.tokens, seq_len=1024)
    assert out.kappa == pytest.approx(1.0)
    assert (out.lr, out.beta1, out.beta2, out.eps, out.weight_decay) == pytest.approx(
        (base.lr, base.beta1, base.beta2, base.eps, base.weight_decay)
    )


def test_formulas_match_the_reparameterization() -> None:
    base = AdamWBase(lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1, batch_size=256, tokens=1e10)
    out = scale_adamw(base, batch_size=1024, tokens=4e10, seq_len=2048, gamma=0.44)
    kappa = (1e10 / 4e10) ** 0.44 * 4
    assert out.kappa == pytest.approx(kappa)
    assert out.lr == pytest.approx(1e-3 * math.sqrt(kappa))
    assert out.beta1 == pytest.approx(0.9**kappa) and out.beta2 == pytest.approx(0.99**kappa)
    assert out.eps == pytest.approx(1e-8 / math.sqrt(kappa))
    assert out.weight_decay == pytest.approx(0.1 * math.sqrt(kappa))  # default rule: decay per token constant
    assert out.lr * out.weight_decay == pytest.approx(kappa * base.lr * base.weight_decay)
    assert out.steps == int(4e10 // (2048 * 1024))
    assert out.logical_batch_size == pytest.approx(1024 / kappa)
    assert out.logical_steps == pytest.approx(kappa * out.steps)
    # D = L * B~ * S~: the logical run covers the same tokens.
    assert 2048 * out.logical_batch_size * out.logical_steps == pytest.approx(2048 * 1024 * out.steps)


def test_weight_decay_rules() -> None:
    base = AdamWBase(lr=1e-3, weight_decay=0.1, batch_size=256, tokens=1e10)
    args = dict(batch_size=1024, tokens=1e10, seq_len=1024, gamma=0.0)  # kappa = 4
    per_token = scale_adamw(base, **args)
    per_step = scale_adamw(base, **args, weight_decay_rule="per_step")
    fixed = scale_adamw(base, **args, weight_decay_rule="fixed")
    assert per_token.kappa == pytest.approx(4.0)
    # per token: lr * wd * steps (the total decay over a fixed horizon) is unchanged at gamma = 0
    steps_ratio = per_token.steps / scale_adamw(base, batch_size=256, tokens=1e10, seq_len=1024).steps
    assert per_token.lr * per_token.weight_decay * steps_ratio == pytest.approx(base.lr * base.weight_decay, rel=1e-3)
    assert per_step.lr * per_step.weight_decay == pytest.approx(base.lr * base.weight_decay)
    assert fixed.weight_decay == base.weight_decay
    with pytest.raises(ValueError, match="weight_decay_rule"):
        scale_adamw(base, **args, weight_decay_rule="bogus")  # type: ignore[arg-type]


def test_critical_batch_warning() -> None:
    base = AdamWBase()
    ok = scale_adamw(base, batch_size=64, tokens=1e9, seq_len=1024, min_steps=10_000)
    assert ok.critical_batch_size == pytest.approx(1e9 / (1024 * 10_000)) and ok.warning is None
    bad = scale_adamw(base, batch_size=512, tokens=1e9, seq_len=1024, min_steps=10_000)
    assert bad.warning is not None and "critical batch" in bad.warning


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="beta1"):
        AdamWBase(beta1=1.0)
    with pytest.raises(ValueError, match="positive"):
        scale_adamw(AdamWBase(), batch_size=0, tokens=1e9, seq_len=1024)
