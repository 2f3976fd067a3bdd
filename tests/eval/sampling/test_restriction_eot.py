"""Restriction never yields an id outside the target's vocabulary class; text stops at ``eot``.

The adversarial denoiser gives every id *outside* a position's class a logit 8 above the ids inside, so
an unrestricted sampler picks them almost always (checked: ``restrict=False`` does). The ``eot`` tests use
an oracle whose answer ends early: the text must be the answer up to ``eot`` and padding after it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trimodal_eval.sampling import SamplerConfig, build_sampler, build_vocab_classes, collate
from trimodal_eval.sampling.vocab import AUDIO_BOOK, IMAGE, TEXT, TEXT_CONTENT


class Adversary:
    """Logit 8 on every id outside the class the test expects at each position, 0 inside."""

    def __init__(self, space, inside_LV: torch.Tensor, allowed_mask_MV: torch.Tensor | None = None) -> None:
        self.inside_LV = inside_LV
        if allowed_mask_MV is not None:
            self.allowed_mask_MV = allowed_mask_MV

    def __call__(self, tokens_BL, *, document_ids_BL=None, span_modality_BL=None):
        b, length = tokens_BL.shape
        return torch.where(self.inside_LV[:length], 0.0, 8.0).expand(b, length, -1).clone()


def _rows(space, toys):
    return [toys.text_row(space, [1, 2], 6, eot_allowed=True, seed=1), toys.text_row(space, [3], 6, seed=2),
            toys.image_row(space, [4], 8, seed=3), toys.audio_row(space, [5], 4, seed=4)]


def _allowed_sets(space, batch, classes):
    """Per (row, position): the set of ids its class allows."""
    out = {}
    for b, pos in batch.target_BL.nonzero().tolist():
        c = int(batch.class_BL[b, pos])
        out[(b, pos)] = set(classes.ids_CW[c, : int(classes.width_C[c])].tolist())
    return out


@pytest.mark.parametrize("selection", ["confidence", "random", "threshold"])
def test_restriction_never_leaves_the_class(space, toys, selection: str) -> None:
    rows = _rows(space, toys)
    batch = collate(rows, pad_id=space.pad_id)
    classes = build_vocab_classes(space)
    allowed = _allowed_sets(space, batch, classes)
    # each row gets its own adversary (inside = its own classes); run rows together through a per-row switch
    for restrict in (True, False):
        outside = 0
        for r in range(len(rows)):
            one = batch.select([r])
            inside = torch.zeros(one.tokens_BL.shape[1], space.vocab_size, dtype=torch.bool)
            for pos in one.target_BL[0].nonzero().squeeze(-1).tolist():
                inside[pos, sorted(allowed[(r, pos)])] = True
            config = SamplerConfig(selection=selection, restrict=restrict, steps=4, seed=r, truncate_at_eot=False)
            result = build_sampler(config, space).sample(Adversary(space, inside), one)
            for pos in one.target_BL[0].nonzero().squeeze(-1).tolist():
                token = int(result.tokens_BL[0, pos])
                assert token not in (space.mask_id, space.pad_id)
                outside += token not in allowed[(r, pos)]
        if restrict:
            assert outside == 0
        else:
            assert outside > 20  # without restriction the adversary wins: the check has teeth


def test_class_ids(space) -> None:
    classes = build_vocab_classes(space)
    ids = {c: set(classes.ids_CW[c, : int(classes.width_C[c])].tolist()) for c in range(classes.ids_CW.shape[0])}
    text = set(range(*space.id_range("text")))
    assert ids[TEXT_CONTENT] == text and ids[TEXT] == text | {space.special_id("eot")}
    assert ids[IMAGE] == set(range(*space.id_range("image")))
    for k in range(2):
        assert ids[AUDIO_BOOK + k] == set(range(*space.id_range("audio", codebook=k)))
    # the model's allowed_mask_MV narrows the classes
    allowed = torch.ones(4, space.vocab_size, dtype=torch.bool)
    allowed[1, space.text_offset + 3] = False
    narrowed = build_vocab_classes(space, allowed_mask_MV=allowed)
    assert space.text_offset + 3 not in narrowed.ids_CW[TEXT, : int(narrowed.width_C[TEXT])].tolist()


def _eot_case(space, toys, end_at: int):
    rng = np.random.default_rng(0)
    row = toys.text_row(space, [7, 8], 12, eot_allowed=True, seed=9)
    answer = toys.random_answer(space, row, rng)
    first = int(np.flatnonzero(row.target)[0])
    answer[first + end_at] = space.special_id("eot")
    return row, answer, first


@pytest.mark.parametrize("block", [None, 4])
@pytest.mark.parametrize("selection", ["confidence", "random", "threshold"])
def test_text_stops_at_eot(space, toys, block: int | None, selection: str) -> None:
    row, answer, first = _eot_case(space, toys, end_at=5)
    batch = collate([row], pad_id=space.pad_id)
    oracle = toys.OracleDenoiser(space, [answer], prefix=4)
    config = SamplerConfig(selection=selection, block_length=block, temperature=0.0)
    result = build_sampler(config, space).sample(oracle, batch)
    tokens = result.tokens_BL[0]
    stop = first + 5
    assert torch.equal(tokens[: stop + 1], torch.as_tensor(answer[: stop + 1]))
    assert bool((tokens[stop + 1:] == space.pad_id).all())
    assert int(result.target_BL.sum()) == 6 and not bool(result.target_BL[0, stop + 1:].any())
    if block == 4:  # the third block (after the eot's block) is never run
        assert int(result.steps_B[0]) <= 8
    kept = build_sampler(config.replace(truncate_at_eot=False), space).sample(
        toys.OracleDenoiser(space, [answer], prefix=4), batch)
    assert torch.equal(kept.tokens_BL[0], torch.as_tensor(answer))


def test_text_content_class_never_ends(space, toys) -> None:
    """An infilled middle (class TEXT_CONTENT) cannot take eot even when the model wants it most."""
    for eot_allowed in (False, True):
        row = toys.text_row(space, [1], 5, suffix=[2, 3], eot_allowed=eot_allowed)
        not_eot = torch.ones(len(row.tokens), space.vocab_size, dtype=torch.bool)
        not_eot[:, space.special_id("eot")] = False  # the adversary's logit 8 goes to eot
        result = build_sampler(SamplerConfig(steps=5, truncate_at_eot=False), space).sample(
            Adversary(space, not_eot), collate([row], pad_id=space.pad_id))
        ends = space.special_id("eot") in result.tokens_BL[0, 3:-2].tolist()
        assert ends == eot_allowed
