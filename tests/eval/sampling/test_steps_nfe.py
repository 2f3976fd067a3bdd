"""Step schedules and model-call counts (NFE) per row, for every schedule, threshold and factor.

Expected counts are computed here from the formulas (independently of ``steps.py``): a scheduled row calls
the model once per step that unmasks something, and a block's steps after its last token are not taken.
Under the threshold rule the oracle's confidences depend only on the position, so a block takes one step
for all positions above the threshold plus one step per position below it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trimodal_eval.sampling import SamplerConfig, build_sampler, collate, split_steps, step_counts
from trimodal_eval.sampling.steps import mask_ratio

GAMMA = {
    "equal": None,
    "cosine": lambda r: math.cos(math.pi * r / 2),
    "arccos": lambda r: 2 / math.pi * math.acos(r),
    "noise": lambda r: 1 - r,  # the linear training schedule run backwards
}


def _expected_counts(n: int, steps: int, schedule: str) -> list[int]:
    if schedule == "equal":
        return [n // steps + (i < n % steps) for i in range(steps)]
    gamma = GAMMA[schedule]
    masked = [n] + [math.floor(n * gamma(i / steps) + 1e-9) for i in range(1, steps)] + [0]
    return [masked[i] - masked[i + 1] for i in range(steps)]


@pytest.mark.parametrize("schedule", list(GAMMA))
@pytest.mark.parametrize(("n", "steps"), [(16, 16), (16, 5), (7, 12), (1, 1), (33, 8)])
def test_step_counts(schedule: str, n: int, steps: int) -> None:
    gamma = None if schedule == "equal" else mask_ratio(schedule)
    counts = step_counts(n, steps, gamma)
    assert counts == _expected_counts(n, steps, schedule)
    assert sum(counts) == n and len(counts) == steps and min(counts) >= 0


def test_cosine_and_arccos_shapes() -> None:
    cos, arc = step_counts(64, 8, mask_ratio("cosine")), step_counts(64, 8, mask_ratio("arccos"))
    # both unmask few tokens first and many last; arccos starts faster and ends steeper
    assert cos[0] < cos[-1] and arc[0] < arc[-1]
    assert arc[0] > cos[0] and arc[-1] > cos[-1]
    # the cosine training schedule gives the MaskGIT cosine curve
    assert step_counts(64, 8, mask_ratio("noise", noise_schedule="cosine")) == cos


def test_split_steps() -> None:
    assert split_steps(8, [4, 4, 4, 4]) == [2, 2, 2, 2]
    assert split_steps(10, [32, 32, 8]) == [4, 5, 1] or split_steps(10, [32, 32, 8]) == [5, 4, 1]
    assert sum(split_steps(10, [32, 32, 8])) == 10
    assert split_steps(2, [4, 4, 4]) == [1, 1, 1]  # at least one step per block


def _ragged(space, toys, n_targets=(9, 4, 13), *, conditioned: bool = False):
    rng = np.random.default_rng(0)
    if conditioned:  # text-to-image rows (guidance needs a condition)
        rows = [toys.image_row(space, [i, i + 1], n, seed=i) for i, n in enumerate(n_targets)]
    else:
        rows = [toys.text_row(space, [i, i + 1], n, seed=i) for i, n in enumerate(n_targets)]
    return rows, [toys.random_answer(space, r, rng) for r in rows]


@pytest.mark.parametrize("schedule", list(GAMMA))
@pytest.mark.parametrize(("steps", "block"), [(None, None), (6, None), (6, 4), (20, 4), (3, None)])
@pytest.mark.parametrize("guidance", [0.0, 1.5])
def test_nfe_per_row_for_every_schedule(space, toys, schedule: str, steps: int | None, block: int | None,
                                        guidance: float) -> None:
    n_targets = (9, 4, 13)
    rows, answers = _ragged(space, toys, n_targets, conditioned=bool(guidance))
    oracle = toys.OracleDenoiser(space, answers, prefix=4)
    config = SamplerConfig(selection="confidence", step_schedule=schedule, steps=steps, block_length=block,
                           temperature=0.0, guidance_scale=guidance)
    result = build_sampler(config, space).sample(oracle, collate(rows, pad_id=space.pad_id))
    per_call = 2 if guidance else 1
    for r, n in enumerate(n_targets):
        size = block or n
        sizes = [min(size, n - s) for s in range(0, n, size)]
        per_block = split_steps(n if steps is None else steps, sizes)
        counts = []
        for b, s in zip(sizes, per_block, strict=True):
            c = _expected_counts(b, s, schedule)
            counts += c[: max(i for i, k in enumerate(c) if k) + 1]  # a block ends with its last token
        assert int(result.steps_B[r]) == len(counts)
        assert int(result.nfe_B[r]) == per_call * sum(c > 0 for c in counts)
        assert int(result.nfe_saved_B[r]) == per_call * sum(c == 0 for c in counts)
    assert oracle.rows_seen == int(result.nfe_B.sum())


def _oracle_confidence(space, rows) -> list[np.ndarray]:
    """The oracle's confidence at each target position (its gap depends on the sequence position only)."""
    out = []
    for row in rows:
        pos = np.flatnonzero(row.target)
        gap = 2.0 + (7 * pos) % 11
        out.append(1.0 / (1.0 + (space.config.text_vocab_size - 1) * np.exp(-gap)))
    return out


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.7, 0.9, 0.99])
@pytest.mark.parametrize("block", [None, 4])
def test_nfe_for_every_threshold(space, toys, threshold: float, block: int | None) -> None:
    rows, answers = _ragged(space, toys)
    oracle = toys.OracleDenoiser(space, answers, prefix=4)
    config = SamplerConfig(selection="threshold", threshold=threshold, block_length=block, temperature=0.0)
    result = build_sampler(config, space).sample(oracle, collate(rows, pad_id=space.pad_id))
    for r, conf in enumerate(_oracle_confidence(space, rows)):
        size = block or len(conf)
        expected = 0
        for start in range(0, len(conf), size):
            c = conf[start: start + size]
            above = int((c > threshold).sum())
            expected += (1 if above else 0) + (len(c) - above)
        assert int(result.nfe_B[r]) == int(result.steps_B[r]) == expected
        assert int(result.nfe_saved_B[r]) == 0


@pytest.mark.parametrize("factor", [0.5, 1.0, 2.0, 4.0])
def test_nfe_for_the_factor_rule(space, toys, factor: float) -> None:
    rows, answers = _ragged(space, toys)
    oracle = toys.OracleDenoiser(space, answers, prefix=4)
    config = SamplerConfig(selection="factor", factor=factor, block_length=None, temperature=0.0)
    result = build_sampler(config, space).sample(oracle, collate(rows, pad_id=space.pad_id))
    for r, conf in enumerate(_oracle_confidence(space, rows)):
        remaining, expected = sorted(conf.tolist(), reverse=True), 0
        while remaining:
            n = 1
            while n < len(remaining) and all(remaining[i] >= 1 - factor / (i + 2) for i in range(n + 1)):
                n += 1
            remaining, expected = remaining[n:], expected + 1
        assert int(result.nfe_B[r]) == expected


@pytest.mark.parametrize("schedule", ["cosine", "arccos", "equal"])
def test_logit_reuse_saves_nfe_and_gives_identical_tokens(space, toys, schedule: str) -> None:
    rows, _ = _ragged(space, toys)
    batch = collate(rows, pad_id=space.pad_id)
    out = {}
    for reuse in (True, False):
        denoiser = toys.HashDenoiser(space)
        config = SamplerConfig(selection="confidence", step_schedule=schedule, steps=16, temperature=1.0,
                               reuse_logits=reuse, seed=5)
        out[reuse] = build_sampler(config, space).sample(denoiser, batch)
    assert torch.equal(out[True].tokens_BL, out[False].tokens_BL)
    assert torch.equal(out[False].nfe_B, out[False].steps_B) and int(out[False].nfe_saved_B.sum()) == 0
    assert torch.equal(out[True].nfe_B + out[True].nfe_saved_B, out[False].nfe_B)
    if schedule != "equal":  # equal counts put the empty steps after a block's last token: never taken
        assert int(out[True].nfe_saved_B.min()) > 0
