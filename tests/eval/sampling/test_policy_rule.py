"""A learned unmasking policy plugs in as a ``SelectionRule``: what it sees, what its choices cost.

The toy policy unmasks each candidate with probability ``p`` (a Bernoulli from the step's uniforms), so
some steps select nothing; those steps must reuse the logits (no token changed) instead of calling the
model. A policy that never selects anything is forced forward at ``max_steps``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trimodal_eval.sampling import SamplerConfig, SelectionRule, SelectionState, build_sampler, collate


class BernoulliPolicy:
    name = "toy-policy"
    dynamic = True
    stats: frozenset[str] = frozenset()
    scope = "all"

    def __init__(self, p: float) -> None:
        self.p = p
        self.states: list[SelectionState] = []

    def select(self, state: SelectionState) -> torch.Tensor:
        self.states.append(state)
        return state.candidates_BT & (state.uniform_BT < self.p)


def _case(space, toys):
    rng = np.random.default_rng(1)
    rows = [toys.text_row(space, [1, 2], 10, seed=1), toys.image_row(space, [3, 4], 7, seed=2)]
    return rows, [toys.random_answer(space, r, rng) for r in rows]


def test_policy_sees_the_documented_state_and_reuses_logits(space, toys) -> None:
    rows, answers = _case(space, toys)
    policy = BernoulliPolicy(0.2)
    assert isinstance(policy, SelectionRule)
    oracle = toys.OracleDenoiser(space, answers, prefix=4)
    batch = collate(rows, pad_id=space.pad_id)
    result = build_sampler(SamplerConfig(block_length=4, temperature=0.0), space, rule=policy).sample(oracle, batch)
    assert torch.equal(result.tokens_BL, collate([r.__class__(**{**r.__dict__, "tokens": a})
                                                  for r, a in zip(rows, answers, strict=True)],
                                                 pad_id=space.pad_id).tokens_BL)
    for state in policy.states:
        assert bool((state.candidates_BT <= state.mask_BT).all())
        assert bool((state.mask_BT <= state.valid_BT).all())
        j_T = torch.arange(state.mask_BT.shape[1])
        in_block = (j_T[None] // 4) == state.block_B[:, None]
        assert bool((state.candidates_BT == (state.mask_BT & in_block)).all())
        # the policy sees the whole buffer: top-1 confidence at every masked position, 1 where unmasked
        assert bool((state.top1_BT[state.mask_BT] > 0).all())
        assert bool((state.top1_BT[state.valid_BT & ~state.mask_BT] == 1).all())
        torch.testing.assert_close(state.time_B, state.steps_taken_B / state.length_B)
        assert bool((state.uniform_BT[state.valid_BT] > 0).all())
    # steps that selected nothing cost no model call
    assert torch.equal(result.nfe_B + result.nfe_saved_B, result.steps_B)
    assert int(result.nfe_saved_B.min()) > 0
    assert oracle.rows_seen == int(result.nfe_B.sum())


class Never:
    name, dynamic, stats, scope = "never", True, frozenset(), "block"

    def select(self, state: SelectionState) -> torch.Tensor:
        return torch.zeros_like(state.candidates_BT)


def test_a_policy_that_never_selects_is_forced_at_max_steps(space, toys) -> None:
    rows, answers = _case(space, toys)
    oracle = toys.OracleDenoiser(space, answers, prefix=4)
    config = SamplerConfig(temperature=0.0, max_steps=3)
    result = build_sampler(config, space, rule=Never()).sample(oracle, collate(rows, pad_id=space.pad_id))
    # two idle steps (one call, one reuse), then one forced token per step
    assert result.steps_B.tolist() == [2 + 10, 2 + 7]
    assert result.nfe_B.tolist() == [10, 7] and result.nfe_saved_B.tolist() == [2, 2]


class Outside:
    name, dynamic, stats, scope = "outside", True, frozenset(), "block"

    def select(self, state: SelectionState) -> torch.Tensor:
        return state.valid_BT & ~state.mask_BT | state.candidates_BT


class WrongCount:
    name, dynamic, stats, scope = "wrong-count", False, frozenset(), "block"

    def select(self, state: SelectionState) -> torch.Tensor:
        return state.candidates_BT


@pytest.mark.parametrize("rule", [Outside(), WrongCount()], ids=["outside", "wrong-count"])
def test_a_rule_that_breaks_the_contract_is_an_error(space, toys, rule) -> None:
    rows, answers = _case(space, toys)
    oracle = toys.OracleDenoiser(space, answers, prefix=4)
    with pytest.raises(ValueError, match=rule.name):
        build_sampler(SamplerConfig(steps=5, block_length=4), space, rule=rule).sample(
            oracle, collate(rows, pad_id=space.pad_id))
