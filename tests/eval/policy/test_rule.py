"""The policy plugs into the sampler like any selection rule: Bernoulli actions inside the current block,
forced top-logit in evaluation, the speed knob, and recorded log-probabilities that GRPO can recompute."""

from __future__ import annotations

import numpy as np
import torch

from trimodal_eval.policy import (
    PolicyModelConfig,
    PolicyRule,
    TaskConfig,
    action_log_prob,
    build_examples,
    build_policy,
    prompt_row,
    run_episodes,
    stack_records,
    task_token_space,
)
from trimodal_eval.policy.tasks import encode
from trimodal_eval.sampling import SamplerConfig, SelectionRule, build_sampler, collate

SPACE = task_token_space()
TASK = TaskConfig(task="copy", length=6)


class CopyOracle:
    """Knows the ``copy`` answer (the prompt span): logit 0 on it, a position-dependent gap elsewhere."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, tokens_BL, *, document_ids_BL=None, span_modality_BL=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        b, n = tokens_BL.shape
        logits = torch.full((b, n, SPACE.vocab_size), -3.0)
        logits += torch.linspace(0, -2, n)[None, :, None]
        for r in range(b):
            row = tokens_BL[r].tolist()
            sep = row.index(SPACE.text_offset + int(encode(">")[0]))
            span = row[2:sep]
            for j, tok in enumerate(span):
                if sep + 1 + j < n:
                    logits[r, sep + 1 + j, tok] = 0.0
        logits[..., SPACE.mask_id] = float("-inf")
        logits[..., SPACE.pad_id] = float("-inf")
        return logits


def _policy(seed: int = 0):  # type: ignore[no-untyped-def]
    return build_policy(PolicyModelConfig(width=32, ffn_hidden=64, time_frequencies=16), seed=seed)


def test_evaluation_mode_unmasks_every_step_and_beta_speeds_it_up() -> None:
    examples = build_examples(TASK, 12, split="test")
    net = _policy()
    sampler = SamplerConfig(temperature=0.0)
    steps = {}
    for beta in (1.0, 8.0):
        rule = PolicyRule(net, beta=beta)
        assert isinstance(rule, SelectionRule)
        ep = run_episodes(rule, CopyOracle(), examples, seeds=list(range(12)), space=SPACE, sampler=sampler)
        assert bool(ep.correct_B.all())  # the oracle is right everywhere, whatever the order
        assert torch.equal(ep.steps_B, ep.nfe_B)  # forced: no empty step
        assert bool((ep.steps_B <= 6).all())
        steps[beta] = float(ep.steps_B.double().mean())
    assert steps[8.0] < steps[1.0]


def test_training_mode_records_log_probs_that_recompute_exactly() -> None:
    examples = build_examples(TASK, 6, split="train")
    net = _policy(seed=2)
    rule = PolicyRule(net, tau=0.5, train=True, force=False)
    ep = run_episodes(rule, CopyOracle(), examples, seeds=list(range(6)), space=SPACE,
                      sampler=SamplerConfig(temperature=0.0, block_length=3))
    data = stack_records(ep.records)
    assert int(data["row_N"].bincount(minlength=6).sum()) == int(ep.steps_B.sum())
    assert bool((data["action_BT"] <= data["candidates_BT"]).all())
    # semi-AR: the candidates are inside one block of 3
    j_T = torch.arange(data["candidates_BT"].shape[1])
    for cand in data["candidates_BT"]:
        blocks = (j_T[cand] // 3).unique()
        assert blocks.numel() <= 1
    logits = net(data["top1_BT"], data["mask_BT"], data["time_B"], data["valid_BT"])
    again = action_log_prob(logits, data["candidates_BT"], data["action_BT"], tau=0.5)
    torch.testing.assert_close(again, data["log_prob_B"])
    assert bool((data["log_prob_B"] < 0).all())
    # unforced training may select nothing at a step: those steps cost no model call
    assert bool((ep.nfe_B <= ep.steps_B).all()) and int((ep.steps_B - ep.nfe_B).sum()) > 0


def test_same_row_seed_same_episode_in_any_batch() -> None:
    examples = build_examples(TASK, 4, split="test")
    net = _policy(seed=5)
    rows = [prompt_row(e, SPACE, seed=100 + i) for i, e in enumerate(examples)]
    sampler = build_sampler(SamplerConfig(temperature=0.0), SPACE, rule=PolicyRule(net))
    together = sampler.sample(CopyOracle(), collate(rows, pad_id=SPACE.pad_id))
    alone = sampler.sample(CopyOracle(), collate(rows[2:3], pad_id=SPACE.pad_id))
    assert together.steps_B[2] == alone.steps_B[0]
    n = int(alone.tokens_BL.shape[1])
    assert np.array_equal(together.tokens_BL[2, :n].numpy(), alone.tokens_BL[0].numpy())
