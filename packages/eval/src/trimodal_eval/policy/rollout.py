"""The MDP of the policy: a frozen base model decoding greedily, the policy choosing what to unmask.

An episode is one sampler run (``trimodal_eval.sampling``, temperature 0: each unmasked position takes the
base model's argmax token and keeps it) on a task prompt ``[text] [bot] prompt M...M [eot]`` whose ``L``
masked positions are the answer. State at step ``k``: the mask, the top-1 confidence at every masked
position and ``t = k / L``; action: the unmasked set (``rule.py``). :func:`rollout` returns the
trajectories: every step's record with the row it belongs to, the steps and model calls (NFE) of each row,
its final tokens, decoded answer and the judge's verdict. Rows are independent (the sampler keeps per-row
seeds and counts), so a GRPO group is simply ``G`` rows of one prompt with different row seeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from trimodal_core import Modality, TokenSpace
from trimodal_eval.denoiser import Denoiser
from trimodal_eval.policy.rule import PolicyRule, StepRecord
from trimodal_eval.policy.tasks import Example, correct, decode, encode
from trimodal_eval.sampling import PromptRow, SamplerConfig, SampleResult, SelectionRule, build_sampler, collate
from trimodal_eval.sampling.vocab import TEXT_CONTENT


def prompt_row(example: Example, space: TokenSpace, *, seed: int) -> PromptRow:
    """``[text] [bot] prompt M*L [eot]`` with the ``L`` answer positions as targets (text content only)."""
    prompt, n = encode(example.prompt), len(example.answer)
    tokens = np.array([space.task_id("text"), space.special_id("bot"), *(space.text_offset + prompt),
                       *([space.mask_id] * n), space.special_id("eot")], dtype=np.int64)
    span = np.full(len(tokens), int(Modality.TEXT), dtype=np.uint8)
    span[:2] = Modality.SPECIAL
    target = np.zeros(len(tokens), dtype=bool)
    target[2 + len(prompt): 2 + len(prompt) + n] = True
    return PromptRow(tokens=tokens, span_modality=span, target=target,
                     vocab_class=np.where(target, TEXT_CONTENT, 0).astype(np.int64),
                     condition=np.zeros(len(tokens), dtype=bool), seed=seed)


def answers(result: SampleResult, space: TokenSpace) -> list[str]:
    """The generated answer of each row, decoded."""
    return [decode(result.tokens_BL[b][result.target_BL[b]].cpu().numpy() - space.text_offset)
            for b in range(result.tokens_BL.shape[0])]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Episodes:
    """Finished episodes of one batch of rows (``B`` rows)."""

    records: list[StepRecord]
    """Every policy decision (empty for a heuristic rule)."""
    steps_B: torch.Tensor
    """Steps per row (int64; the companion's NFE, one forward per step)."""
    nfe_B: torch.Tensor
    """Base-model calls per row (int64; steps that unmasked nothing reuse the logits)."""
    length_B: torch.Tensor
    """Answer length ``L`` per row (int64)."""
    correct_B: torch.Tensor
    """The judge's verdict (bool)."""
    answers: list[str]
    tokens_BL: torch.Tensor


def run_episodes(rule: SelectionRule, denoiser: Denoiser, examples: Sequence[Example], *, seeds: Sequence[int],
                 space: TokenSpace, sampler: SamplerConfig) -> Episodes:
    """One episode per (example, seed) pair under ``rule`` (greedy base model: ``sampler.temperature`` = 0)."""
    if len(seeds) != len(examples):
        raise ValueError(f"run_episodes: {len(seeds)} seeds for {len(examples)} examples")
    if sampler.temperature != 0:
        raise ValueError("SamplerConfig.temperature must be 0: the environment decodes greedily")
    batch = collate([prompt_row(e, space, seed=s) for e, s in zip(examples, seeds, strict=True)],
                    pad_id=space.pad_id)
    result = build_sampler(sampler, space, rule=rule).sample(denoiser, batch)
    texts = answers(result, space)
    verdicts = torch.tensor([correct(t, e) for t, e in zip(texts, examples, strict=True)], dtype=torch.bool)
    records = list(rule.records) if isinstance(rule, PolicyRule) else []
    return Episodes(records=records, steps_B=result.steps_B.cpu(), nfe_B=result.nfe_B.cpu(),
                    length_B=batch.target_BL.sum(-1).cpu(), correct_B=verdicts, answers=texts,
                    tokens_BL=result.tokens_BL.cpu())


def rollout(policy: PolicyRule, denoiser: Denoiser, examples: Sequence[Example], *, group_size: int,
            seeds: Sequence[int], space: TokenSpace, sampler: SamplerConfig) -> Episodes:
    """``group_size`` episodes of each example (row ``g * len(examples) + i`` is rollout ``g`` of example
    ``i``; ``seeds`` holds one seed per row), the policy in training mode (records kept)."""
    if not policy.train:
        raise ValueError("rollout needs a PolicyRule with train=True (it records the actions)")
    policy.records.clear()
    rows = [e for _ in range(group_size) for e in examples]
    return run_episodes(policy, denoiser, rows, seeds=seeds, space=space, sampler=sampler)


def stack_records(records: list[StepRecord]) -> dict[str, torch.Tensor]:
    """All decisions of an episode batch as flat ``[N, ...]`` tensors (``row_N``: the row of each)."""
    keys = ("top1_BT", "mask_BT", "valid_BT", "time_B", "candidates_BT", "action_BT", "log_prob_B")
    out = {k: torch.cat([getattr(r, k) for r in records]) for k in keys}
    out["row_N"] = torch.cat([r.rows_B for r in records])
    out["step_N"] = torch.cat([r.steps_B for r in records])
    return out
