"""Reward and GRPO, checked analytically."""

from __future__ import annotations

import pytest
import torch

from trimodal_eval.policy import (
    GRPOConfig,
    RewardConfig,
    action_log_prob,
    clipped_ratio,
    group_advantages,
    grpo_loss,
    reward,
    should_skip,
)


def test_multiplicative_reward_values() -> None:
    correct = torch.tensor([True, True, False, True, True])
    cost = torch.tensor([1, 8, 1, 4, 12])
    length = torch.tensor([8, 8, 8, 8, 8])
    r = reward(correct, cost, length, RewardConfig(alpha=1.0))
    torch.testing.assert_close(r, torch.tensor([1.0, 1 / 8, 0.0, 5 / 8, 0.0], dtype=torch.float64))
    r3 = reward(correct, cost, length, RewardConfig(alpha=0.3))
    torch.testing.assert_close(r3[3], torch.tensor((5 / 8) ** 0.3, dtype=torch.float64))
    r0 = reward(correct, cost, length, RewardConfig(alpha=0.0))
    assert r0.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0]  # correctness only, even past L + 1 steps


def test_additive_reward_pays_speed_when_wrong() -> None:
    r = reward(torch.tensor([False, True]), torch.tensor([1, 8]), torch.tensor([8, 8]),
               RewardConfig(alpha=1.0, form="additive"))
    assert r.tolist() == [1.0, 1.0 + 1 / 8]  # a wrong one-step answer scores as much as a slow right one


def test_group_advantages_sum_to_zero_without_std_scaling() -> None:
    torch.manual_seed(0)
    r = torch.rand(24, dtype=torch.float64) * 3
    group = torch.arange(24) % 3
    a = group_advantages(r, group)
    for g in range(3):
        assert abs(float(a[group == g].sum())) < 1e-12
        torch.testing.assert_close(a[group == g], r[group == g] - r[group == g].mean())  # no division by std
    assert should_skip(group_advantages(torch.ones(6, dtype=torch.float64), torch.arange(6) % 2), GRPOConfig())
    assert not should_skip(a, GRPOConfig())


def test_clipping_bounds_the_ratio_and_stops_the_gradient_outside() -> None:
    old = torch.zeros(4)
    new = torch.tensor([-2.0, -0.1, 0.1, 2.0], requires_grad=True)
    assert clipped_ratio(new, old, 0.5).tolist() == pytest.approx([0.5, float(torch.exp(torch.tensor(-0.1))),
                                                                   float(torch.exp(torch.tensor(0.1))), 1.5])
    adv = torch.tensor([1.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    loss = grpo_loss(new, old, adv, torch.arange(4), clip=0.5)
    loss.backward()
    # positive advantage: the ratio above 1 + eps is clipped (no gradient); below 1 - eps min keeps rho
    assert new.grad is not None
    assert new.grad[3] == 0 and new.grad[0] != 0 and new.grad[1] != 0


def test_loss_is_the_mean_over_each_trajectorys_steps() -> None:
    # episode 0 has 3 steps, episode 1 has 1: at ratio 1 the loss is -(mean A over episodes)
    new = torch.zeros(4, requires_grad=True)
    adv = torch.tensor([1.0, -3.0], dtype=torch.float64)
    row = torch.tensor([0, 0, 0, 1])
    loss = grpo_loss(new, torch.zeros(4), adv, row, clip=0.5)
    assert float(loss.detach()) == pytest.approx(-(1.0 - 3.0) / 2)
    loss.backward()
    assert new.grad.tolist() == pytest.approx([-1 / 6, -1 / 6, -1 / 6, 3 / 2])


def test_action_log_prob_is_a_bernoulli_over_candidates_only() -> None:
    logits = torch.tensor([[0.0, 2.0, -1.0, 5.0]])
    cand = torch.tensor([[True, True, True, False]])
    act = torch.tensor([[True, False, True, True]])
    tau = 0.5
    p = torch.sigmoid(logits / tau)
    want = torch.log(p[0, 0]) + torch.log(1 - p[0, 1]) + torch.log(p[0, 2])
    torch.testing.assert_close(action_log_prob(logits, cand, act, tau=tau)[0], want)
