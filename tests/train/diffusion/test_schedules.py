"""Schedules: the closed-form weights against a numerical derivative, endpoints, inverses, configs."""

from __future__ import annotations

import math

import pytest
import torch

from trimodal_train.diffusion import SCHEDULES, DiffusionConfig, ScheduleConfig, build_schedule

CONFIGS = [
    ScheduleConfig(name="linear"),
    ScheduleConfig(name="cosine"),
    ScheduleConfig(name="polynomial", k=2.0),
    ScheduleConfig(name="polynomial", k=0.5),
    ScheduleConfig(name="loglinear", eps=1e-2),
]
IDS = [f"{c.name}-k{c.k}" if c.name == "polynomial" else c.name for c in CONFIGS]
T = torch.linspace(0.01, 0.99, 197, dtype=torch.float64)


def test_registry_names() -> None:
    assert set(SCHEDULES) == {"linear", "cosine", "polynomial", "loglinear"}


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_weight_is_minus_numerical_derivative_over_mask_prob(config: ScheduleConfig) -> None:
    sch = build_schedule(config)
    h = 1e-6
    numeric_dalpha = (sch.alpha(T + h) - sch.alpha(T - h)) / (2 * h)
    torch.testing.assert_close(sch.dalpha(T), numeric_dalpha, rtol=1e-7, atol=1e-9)
    expected = -numeric_dalpha / (1.0 - sch.alpha(T))
    torch.testing.assert_close(sch.weight(T), expected, rtol=1e-7, atol=0.0)
    torch.testing.assert_close(sch.mask_prob(T), 1.0 - sch.alpha(T), rtol=0.0, atol=1e-15)


def test_closed_forms_from_the_paper() -> None:
    t = torch.tensor([0.1, 0.25, 0.5, 0.8], dtype=torch.float64)
    torch.testing.assert_close(build_schedule(ScheduleConfig(name="linear")).weight(t), 1.0 / t)
    cos = build_schedule(ScheduleConfig(name="cosine"))
    torch.testing.assert_close(cos.alpha(t), 1.0 - torch.cos(math.pi / 2 * (1.0 - t)))
    torch.testing.assert_close(cos.weight(t), (math.pi / 2) * torch.tan(math.pi / 2 * (1.0 - t)))
    torch.testing.assert_close(build_schedule(ScheduleConfig(name="polynomial", k=3.0)).weight(t), 3.0 / t)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_endpoints_and_monotone(config: ScheduleConfig) -> None:
    sch = build_schedule(config)
    ends = sch.alpha(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert ends[0].item() == pytest.approx(1.0, abs=1e-12)
    expected_end = config.eps if config.name == "loglinear" else 0.0
    assert ends[1].item() == pytest.approx(expected_end, abs=1e-12)
    assert bool((sch.alpha(T).diff() < 0).all())
    assert bool((sch.weight(T) > 0).all())


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_inverse_and_complement(config: ScheduleConfig) -> None:
    sch = build_schedule(config)
    lo, hi = sch.time_range()
    assert (lo, hi) == (config.eps, 1.0)
    t = torch.linspace(0.05, 0.9, 50, dtype=torch.float64)
    torch.testing.assert_close(sch.time_of_mask_prob(sch.mask_prob(t)), t, rtol=1e-9, atol=1e-12)
    # The partner's time t' has mask probability alpha(t); its weight is w(t') |dt'/dt|.
    t_c = sch.time_of_mask_prob(sch.alpha(t))
    torch.testing.assert_close(sch.mask_prob(t_c), sch.alpha(t), rtol=1e-9, atol=1e-12)
    h = 1e-6
    jac = (sch.time_of_mask_prob(sch.alpha(t + h)) - sch.time_of_mask_prob(sch.alpha(t - h))).abs() / (2 * h)
    torch.testing.assert_close(sch.complement_weight(t), sch.weight(t_c) * jac, rtol=1e-5, atol=0.0)
    # Anti-masking range: the partner's mask probability never drops below that at eps.
    lo, hi = sch.time_range(anti_masking=True)
    assert lo == config.eps and hi <= 1.0
    s_eps = sch.mask_prob(torch.tensor(lo, dtype=torch.float64))
    assert sch.alpha(torch.tensor(hi, dtype=torch.float64)).item() >= s_eps.item() - 1e-12


def test_linear_partner_time_is_one_minus_t() -> None:
    sch = build_schedule(ScheduleConfig(name="linear", eps=1e-3))
    t = torch.tensor([0.001, 0.3, 0.999], dtype=torch.float64)
    torch.testing.assert_close(sch.time_of_mask_prob(sch.alpha(t)), 1.0 - t)
    torch.testing.assert_close(sch.complement_weight(t), 1.0 / (1.0 - t))
    assert sch.time_range(anti_masking=True) == pytest.approx((1e-3, 1.0 - 1e-3))


def test_dtypes() -> None:
    sch = build_schedule(ScheduleConfig(name="cosine"))
    assert sch.weight(torch.tensor([0.5], dtype=torch.float32)).dtype == torch.float32
    assert sch.weight(torch.tensor([0.5], dtype=torch.bfloat16)).dtype == torch.float32
    assert sch.weight(torch.tensor([0.5], dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"name": "sigmoid"}, "name"), ({"eps": 0.0}, "eps"), ({"eps": 0.7}, "eps"), ({"k": -1.0}, "k")],
)
def test_schedule_config_errors(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"ScheduleConfig.{field}"):
        ScheduleConfig(**kwargs)


def test_diffusion_config_resolves_and_validates() -> None:
    cfg = DiffusionConfig(schedules={"image": {"name": "cosine"}})
    assert cfg.schedules["image"] == ScheduleConfig(name="cosine")
    assert cfg.schedules["text"] == ScheduleConfig() and cfg.schedules["audio"] == ScheduleConfig()
    assert [s.name for s in cfg.build_schedules()] == ["linear", "cosine", "linear"]
    with pytest.raises(ValueError, match="unknown modalities"):
        DiffusionConfig(schedules={"video": ScheduleConfig()})
    with pytest.raises(ValueError, match="schedules\\['text'\\]"):
        DiffusionConfig(schedules={"text": {"nmae": "linear"}})
    with pytest.raises(ValueError, match="time_sampling"):
        DiffusionConfig(time_sampling="sobol")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="condition_dropout"):
        DiffusionConfig(condition_dropout=1.5)
    with pytest.raises(ValueError, match="maskable_specials"):
        DiffusionConfig(maskable_specials=("eos",))
