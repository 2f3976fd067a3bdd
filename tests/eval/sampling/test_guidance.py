"""Classifier-free guidance: scale 0 is the conditional sampler exactly; a positive scale moves toward the condition.

The toy denoiser's one-token target is ``softmax(a * [x = x*])`` over the 16 image ids when the caption is
visible and uniform when it is masked, so guided sampling has the closed form
``P_w(x*) = e^{(1+w) a} / (e^{(1+w) a} + 15)``; 4000 rows per scale are compared with it (chi-square).
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import chi2

from trimodal_eval.sampling import SamplerConfig, build_sampler, collate, guide

STRENGTH, ROWS = 0.5, 4000


def _rows(space, toys, n: int = ROWS):
    return [toys.image_row(space, [3, 4], 1, seed=i) for i in range(n)]


def test_guide_at_zero_is_the_conditional_logits_bit_for_bit() -> None:
    gen = torch.Generator().manual_seed(0)
    cond, uncond = torch.randn(64, 33, generator=gen) * 7, torch.randn(64, 33, generator=gen) * 7
    cond[:, 5], uncond[:, 7] = float("-inf"), float("-inf")
    out = guide(cond, uncond, torch.zeros(64))
    assert torch.equal(out, cond)
    mixed = guide(cond, uncond, torch.tensor([0.0, 2.0]).repeat(32))
    assert torch.equal(mixed[::2], cond[::2]) and not torch.equal(mixed[1::2], cond[1::2])
    assert bool(torch.isneginf(mixed[:, 5]).all()) and bool(torch.isfinite(mixed[:, 7]).all())


def _favourite_count(space, toys, config: SamplerConfig, rows) -> tuple[int, int, object]:
    favourite = space.image_offset + 5
    denoiser = toys.ConditionDenoiser(space, favourite, STRENGTH)
    result = build_sampler(config, space).sample(denoiser, collate(rows, pad_id=space.pad_id))
    generated = result.tokens_BL[result.target_BL]
    assert generated.numel() == len(rows)
    return int((generated == favourite).sum()), denoiser.rows_seen, result


def test_scale_zero_equals_the_conditional_sampler(space, toys) -> None:
    rows = _rows(space, toys, 500)
    base = SamplerConfig(selection="confidence", steps=1, temperature=1.0, seed=1)
    _, seen0, plain = _favourite_count(space, toys, base, rows)
    _, seen_ramp, ramp = _favourite_count(space, toys, base.replace(guidance_scale=3.0, guidance_schedule="ramp"),
                                          rows)
    _, seen_g, guided = _favourite_count(space, toys, base.replace(guidance_scale=3.0), rows)
    # ramp: w(t) = w (1 - t) is 0 at the first (here the only) step: no unconditional input, same tokens
    assert torch.equal(ramp.tokens_BL, plain.tokens_BL) and seen_ramp == seen0 == len(rows)
    assert torch.equal(ramp.nfe_B, plain.nfe_B) and int(plain.nfe_B.max()) == 1
    assert seen_g == 2 * len(rows) and int(guided.nfe_B.min()) == 2
    assert not torch.equal(guided.tokens_BL, plain.tokens_BL)


@pytest.mark.parametrize("schedule", ["constant"])
def test_positive_scale_moves_toward_the_condition(space, toys, schedule: str) -> None:
    rows = _rows(space, toys)
    observed = []
    for w in (0.0, 1.0, 3.0):
        config = SamplerConfig(selection="random", steps=1, temperature=1.0, guidance_scale=w,
                               guidance_schedule=schedule, seed=7)
        hits, _, _ = _favourite_count(space, toys, config, rows)
        e = math.exp((1 + w) * STRENGTH)
        p = e / (e + 15)
        stat = (hits - ROWS * p) ** 2 / (ROWS * p) + (hits - ROWS * p) ** 2 / (ROWS * (1 - p))
        assert chi2.sf(stat, df=1) > 1e-3, (w, hits, ROWS * p)
        observed.append(hits)
    assert observed[0] < observed[1] < observed[2]
