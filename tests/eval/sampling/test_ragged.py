"""A ragged batch gives every row exactly what running it alone gives: tokens, steps and NFE.

Rows differ in task, prompt length, condition length and target length (text continuation with a
possible ``eot``, infilling with a suffix, text-to-image, text-to-speech); the denoiser's logits depend on
every visible token (``HashDenoiser``), sampling is stochastic (temperature 1), so any leak between rows
(shared randomness, batch-averaged counts, a shared block pointer) changes some row.
"""

from __future__ import annotations

import pytest
import torch

from trimodal_eval.sampling import SamplerConfig, build_sampler, collate


def _rows(space, toys):
    return [
        toys.text_row(space, [1, 2, 3], 11, seed=10, eot_allowed=True),
        toys.text_row(space, [4], 5, seed=11, suffix=[5, 6, 7]),
        toys.image_row(space, [8, 9, 10, 11, 12], 16, seed=12),
        toys.text_row(space, [13, 14, 15, 16, 17, 18], 23, seed=13, eot_allowed=True),
        toys.audio_row(space, [19], 4, seed=14),
        toys.image_row(space, [20], 16, seed=15),
    ]


CONFIGS = {
    "confidence-full": SamplerConfig(selection="confidence", steps=8, step_schedule="cosine"),
    "random-semi-ar": SamplerConfig(selection="random", block_length=4, steps=9),
    "entropy-topk": SamplerConfig(selection="entropy", steps=6, top_k=5, temperature=0.8),
    "margin-topp": SamplerConfig(selection="margin", block_length=5, top_p=0.9, step_schedule="arccos", steps=12),
    "threshold": SamplerConfig(selection="threshold", threshold=0.2, block_length=6),
    "factor-guided": SamplerConfig(selection="factor", factor=2.0, guidance_scale=1.5, guidance_schedule="decay"),
    "noise-guided": SamplerConfig(step_schedule="noise", steps=10, guidance_scale=2.0, reuse_logits=False),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_ragged_batch_equals_rows_one_by_one(space, toys, name: str) -> None:
    rows = _rows(space, toys)
    batch = collate(rows, pad_id=space.pad_id)
    sampler = build_sampler(CONFIGS[name].replace(seed=3), space)
    together = sampler.sample(toys.HashDenoiser(space), batch)
    for r in range(len(rows)):
        alone = sampler.sample(toys.HashDenoiser(space), batch.select([r]))
        n = alone.tokens_BL.shape[1]
        assert torch.equal(together.tokens_BL[r, :n], alone.tokens_BL[0]), f"row {r}"
        assert bool((together.tokens_BL[r, n:] == space.pad_id).all())
        assert int(together.nfe_B[r]) == int(alone.nfe_B[0]) and int(together.steps_B[r]) == int(alone.steps_B[0])
        assert int(together.nfe_saved_B[r]) == int(alone.nfe_saved_B[0])
    if CONFIGS[name].selection in ("threshold", "factor"):  # rows really differ in cost
        assert len(set(together.steps_B.tolist())) > 1
    if name == "random-semi-ar":  # two text rows end early on a sampled eot
        assert int(together.target_BL[[0, 3]].sum()) < int(batch.target_BL[[0, 3]].sum())
    if CONFIGS[name].guidance_scale:  # only rows with a condition pay for an unconditional call
        assert bool((together.nfe_B[[1]] <= together.steps_B[[1]]).all())
