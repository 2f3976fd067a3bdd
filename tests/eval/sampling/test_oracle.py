"""An oracle denoiser makes every sampler, in every mode, return the target exactly.

Modes: each step schedule x each selection rule x (semi-AR blocks of 4 | full diffusion) x (greedy with a
position-dependent confidence | temperature 1 and guidance w = 2 with a certain oracle), on one ragged
batch mixing text rows of different prompt and target lengths, a text-to-image row and a text-to-speech
row (per-codebook classes). The oracle asserts at every call that no visible target token is ever wrong.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from trimodal_eval.sampling import SELECTION_RULES, STEP_SCHEDULES, SamplerConfig, build_sampler, collate


def _batch(space, toys, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = [
        toys.text_row(space, [1, 2], 9, seed=1),
        toys.text_row(space, [3, 4, 5, 6], 4, seed=2),
        toys.text_row(space, [7, 8], 13, seed=3, suffix=[9, 10]),
        toys.image_row(space, [11, 12, 13], 10, seed=4),
        toys.audio_row(space, [14, 15], 3, seed=5),
    ]
    answers = [toys.random_answer(space, r, rng) for r in rows]
    return rows, answers


@pytest.mark.parametrize(("schedule", "rule", "block"), list(itertools.product(STEP_SCHEDULES, SELECTION_RULES,
                                                                                [4, None])))
@pytest.mark.parametrize("sharp", [False, True], ids=["greedy", "temperature1"])
def test_oracle_returns_target(space, toys, schedule: str, rule: str, block: int | None, sharp: bool) -> None:
    rows, answers = _batch(space, toys)
    oracle = toys.OracleDenoiser(space, answers, prefix=4, sharp=sharp)
    config = SamplerConfig(selection=rule, step_schedule=schedule, block_length=block, steps=7,
                           temperature=1.0 if sharp else 0.0, guidance_scale=2.0 if sharp else 0.0, seed=3)
    batch = collate(rows, pad_id=space.pad_id)
    result = build_sampler(config, space).sample(oracle, batch)
    expected = collate([r.__class__(**{**r.__dict__, "tokens": a}) for r, a in zip(rows, answers, strict=True)],
                       pad_id=space.pad_id).tokens_BL
    assert torch.equal(result.tokens_BL, expected)
    assert torch.equal(result.target_BL, batch.target_BL)
    assert bool((result.nfe_B >= 1).all()) and oracle.calls >= 1
