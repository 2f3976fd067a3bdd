"""The policy network: the stated shape gives about 331k parameters; zero-init adaLN makes the block the
identity; padding never changes a real position's logit; the output bias starts at -2."""

from __future__ import annotations

import torch

from trimodal_eval.policy import PolicyModelConfig, build_policy, count_parameters


def test_parameter_count_matches_the_formula_and_the_paper() -> None:
    net = build_policy()
    d, f, h = 128, 128, 512
    formula = 2 * d + 2 * d + 2 * (f * d + d) + (3 * d * d + 3 * d + d * d + d) + (2 * d * h + h + d) \
        + (6 * d * d + 6 * d) + 2 * d + d + 1
    assert count_parameters(net) == formula == 330_753
    assert abs(count_parameters(net) - 331_000) < 1_000  # shared/paper.md: "about 331k"


def test_zero_init_adaln_block_is_the_identity_and_logits_start_near_the_bias() -> None:
    torch.manual_seed(0)
    net = build_policy(seed=3)
    x = torch.randn(2, 7, 128)
    cond = torch.randn(2, 7, 128)
    valid = torch.ones(2, 7, dtype=torch.bool)
    assert torch.equal(net.block(x, cond, valid), x)
    top1 = torch.rand(2, 7)
    logits = net(top1, top1 < 0.5, torch.tensor([0.0, 0.4]), valid)
    assert logits.shape == (2, 7) and logits.dtype == torch.float32
    # at init: out(LN(W_in c + b_in)) + (-2); the LN output has unit scale, the head is small
    assert float(net.out.bias.detach()) == -2.0
    # the time and mask inputs do not move the logits yet (gates are 0)
    assert torch.equal(logits, net(top1, torch.zeros_like(valid), torch.tensor([1.0, 2.0]), valid))


def test_padding_is_invisible_and_training_moves_the_gates() -> None:
    net = build_policy(PolicyModelConfig(width=32, ffn_hidden=64, time_frequencies=16), seed=1)
    with torch.no_grad():  # break the identity so attention matters
        net.block.ada[1].weight.normal_(0, 0.2)
        net.block.ada[1].bias.normal_(0, 0.2)
    top1, mask = torch.rand(1, 5), torch.tensor([[True, False, True, True, False]])
    t = torch.tensor([0.2])
    short = net(top1, mask, t, torch.ones(1, 5, dtype=torch.bool))
    padded_top1 = torch.cat([top1, torch.rand(1, 3)], -1)
    padded_mask = torch.cat([mask, torch.ones(1, 3, dtype=torch.bool)], -1)
    valid = torch.tensor([[True] * 5 + [False] * 3])
    long = net(padded_top1, padded_mask, t, valid)
    torch.testing.assert_close(long[:, :5], short, rtol=1e-5, atol=1e-5)
    assert bool(torch.isinf(long[:, 5:]).all())
    # the mask state now changes the logits (the conditioning path is live)
    assert not torch.allclose(short, net(top1, ~mask, t, torch.ones(1, 5, dtype=torch.bool)))
