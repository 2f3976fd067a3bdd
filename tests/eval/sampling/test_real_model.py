"""The sampler on a tiny random-init ``DiffusionTransformer`` (the real model, ``tiny`` preset).

Checks what only the real model can show: its ``allowed_mask_MV`` and restricted logits compose with the
sampler's vocabulary classes (no id outside a target's class, audio ids in their own codebook), NFE per
row follows the schedule, guidance doubles the calls of conditioned rows, and a ragged batch equals its
rows run one by one (weights in float64, so that padding changes the float32 logits by no more than their
rounding).
"""

from __future__ import annotations

import pytest
import torch

from trimodal_eval.sampling import SamplerConfig, build_sampler, build_vocab_classes, collate


@pytest.fixture(scope="module")
def model(space):
    from trimodal_train.model import MODEL_PRESETS, build_model

    torch.manual_seed(0)
    return build_model(MODEL_PRESETS["tiny"], space).double().eval()


def _rows(space, toys):
    return [toys.text_row(space, [1, 2, 3], 11, seed=10, eot_allowed=True),
            toys.text_row(space, [4], 5, seed=11, suffix=[5, 6, 7]),
            toys.image_row(space, [8, 9, 10, 11, 12], 16, seed=12),
            toys.audio_row(space, [13], 4, seed=14)]


CONFIGS = {
    "confidence": SamplerConfig(steps=8, step_schedule="cosine"),
    "threshold-semi-ar-guided": SamplerConfig(selection="threshold", threshold=0.1, block_length=4,
                                              guidance_scale=1.0),
    "greedy-margin": SamplerConfig(selection="margin", temperature=0.0, steps=6, block_length=8),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_real_model_sampling(space, toys, model, name: str) -> None:
    config = CONFIGS[name]
    rows = _rows(space, toys)
    batch = collate(rows, pad_id=space.pad_id)
    sampler = build_sampler(config, space)
    together = sampler.sample(model, batch)
    classes = build_vocab_classes(space, allowed_mask_MV=model.allowed_mask_MV)
    for b, pos in together.target_BL.nonzero().tolist():
        c = int(batch.class_BL[b, pos])
        assert int(together.tokens_BL[b, pos]) in classes.ids_CW[c, : int(classes.width_C[c])].tolist()
    assert bool((together.tokens_BL[batch.target_BL & ~together.target_BL] == space.pad_id).all())
    for r in range(len(rows)):
        alone = sampler.sample(model, batch.select([r]))
        n = alone.tokens_BL.shape[1]
        assert torch.equal(together.tokens_BL[r, :n], alone.tokens_BL[0]), f"row {r}"
        assert int(together.nfe_B[r]) == int(alone.nfe_B[0])
    if name == "confidence":  # cosine counts of 4..16 tokens in 8 steps; no row may skip a non-empty step
        assert bool((together.nfe_B <= 8).all()) and bool((together.nfe_B + together.nfe_saved_B
                                                            == together.steps_B).all())
    if config.guidance_scale:  # conditioned rows (image, audio) pay two calls per step, text rows one
        assert bool((together.nfe_B[2:] == 2 * together.steps_B[2:]).all())
        assert bool((together.nfe_B[:2] == together.steps_B[:2]).all())
