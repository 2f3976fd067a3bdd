"""The condition gap: how much worse the target span is predicted when its condition belongs to another example.

For pair rows of one task (t2i: image given caption, t2s: audio given transcript, i2t, s2t) the conditional
NELBO per target token is measured twice with **common random numbers**:

* matched: the row as it is, condition visible (``condition="visible"``);
* shuffled: the same target span, with identical masks, times and weights, after another example's condition
  block (a seeded derangement of the rows: no row keeps its own condition).

``gap = (sum_x nll_shuffled(x) - sum_x nll_matched(x)) / sum_x n_target(x)`` in nats per target token, with a
paired percentile bootstrap over rows. Because the target's masks are copied, a model that ignores its
condition gives exactly 0; a model that uses it gives a positive gap. At small scale this is the honest test
of cross-modal learning: a low NELBO alone can come from the target's own statistics.

A shuffled row that no longer fits in ``seq_len`` (a longer condition) is left out of both sums and counted.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from trimodal_core import Modality, TokenSpace, derive_seed
from trimodal_eval.denoiser import Denoiser
from trimodal_eval.likelihood.elbo import (
    ElboConfig,
    Estimate,
    corrupt_rows,
    masked_nll,
    per_modality,
    ratio_estimate,
)
from trimodal_eval.likelihood.rows import EvalRows
from trimodal_train.diffusion import CorruptedBatch, DiffusionConfig, condition_span


@dataclasses.dataclass(frozen=True)
class ConditionGap:
    task: str
    matched: Estimate
    """Conditional NELBO per target token, own condition."""
    shuffled: Estimate
    """The same with another example's condition."""
    gap: Estimate
    """``shuffled - matched`` per target token, paired bootstrap interval."""
    skipped: int
    """Rows left out because the shuffled row did not fit."""

    def as_dict(self) -> dict[str, object]:
        return {"task": self.task, "matched": self.matched.as_dict(), "shuffled": self.shuffled.as_dict(),
                "gap": self.gap.value, "gap_ci": [self.gap.low, self.gap.high], "rows": self.gap.rows,
                "target_tokens": self.gap.tokens, "skipped": self.skipped}


def derangement(n: int, seed: int) -> np.ndarray:
    """A seeded permutation of ``range(n)`` with no fixed point (``n >= 2``)."""
    if n < 2:
        raise ValueError(f"shuffling conditions needs at least 2 rows, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    out = np.empty(n, dtype=np.int64)
    out[order] = np.roll(order, 1)  # a single cycle through a random order: nobody maps to itself
    return out


def _condition_end(cond_L: torch.Tensor) -> int:
    """Index just past a pair row's condition block (its end boundary token included)."""
    return int(torch.nonzero(cond_L).max()) + 2


def _splice(own: CorruptedBatch, i: int, other_tokens: torch.Tensor, other_modality: torch.Tensor,
            own_end: int, other_end: int, length: int, own_real: int, pad_id: int) -> dict[str, torch.Tensor] | None:
    """Row ``i`` of ``own`` with its condition block replaced by ``other``'s (positions 1..end)."""
    target_len = own_real - own_end
    new_len = other_end + target_len
    if new_len > length:
        return None

    def build(head: torch.Tensor, tail: torch.Tensor, fill: float | int | bool, dtype: torch.dtype) -> torch.Tensor:
        out = torch.full((length,), fill, dtype=dtype)
        out[:other_end] = head
        out[other_end:new_len] = tail
        return out

    return {
        "inputs": build(other_tokens[:other_end], own.inputs_BL[i, own_end:own_real], pad_id, torch.int64),
        "targets": build(other_tokens[:other_end], own.targets_BL[i, own_end:own_real], pad_id, torch.int64),
        "masked": build(torch.zeros(other_end, dtype=torch.bool), own.masked_BL[i, own_end:own_real], False,
                        torch.bool),
        "weight": build(torch.zeros(other_end), own.weight_BL[i, own_end:own_real].float(), 0.0, torch.float32),
        "span": build(other_modality[:other_end], own.span_modality_BL[i, own_end:own_real],
                      int(Modality.SPECIAL), torch.uint8),
        "docs": build(torch.zeros(other_end, dtype=torch.int32), torch.zeros(target_len, dtype=torch.int32), -1,
                      torch.int32),
    }


@torch.no_grad()
def condition_gap(model: Denoiser, rows: EvalRows, task: str, *, diffusion: DiffusionConfig,
                  token_space: TokenSpace, config: ElboConfig, device: str | torch.device = "cpu") -> ConditionGap:
    """The condition gap of ``task``'s rows (module docstring)."""
    picked = [i for i, t in enumerate(rows.tasks) if t == task]
    if len(picked) < 2:
        raise ValueError(f"condition gap of {task!r} needs at least 2 rows of that task, got {len(picked)}")
    sub = rows.select(picked)
    num, length = sub.tokens_BL.shape
    perm = derangement(num, derive_seed(config.seed, "eval/condition_gap", task))
    pad = token_space.pad_id
    matched = np.zeros(num)
    shuffled = np.zeros(num)
    target_n = np.zeros(num)
    fits = np.ones(num, dtype=bool)
    for k in range(config.num_t_samples):
        corrupted = corrupt_rows(sub, diffusion=diffusion, token_space=token_space, seed=config.seed, sample=k,
                                 num_samples=config.num_t_samples, row_offset=0, condition="visible")
        cond_BL = condition_span(sub.tokens_BL, corrupted.span_modality_BL, token_space, diffusion.condition_tasks)
        ends = [_condition_end(cond_BL[i]) for i in range(num)]
        reals = sub.loss_mask_BL.sum(dim=1).tolist()
        for start in range(0, num, config.batch_size):
            idx = list(range(start, min(start + config.batch_size, num)))
            spliced = []
            for i in idx:
                j = int(perm[i])
                part = _splice(corrupted, i, sub.tokens_BL[j], corrupted.span_modality_BL[j], ends[i], ends[j],
                               length, int(reals[i]), pad)
                if part is None:
                    fits[i] = False
                    part = {"inputs": corrupted.inputs_BL[i], "targets": corrupted.targets_BL[i],
                            "masked": corrupted.masked_BL[i], "weight": corrupted.weight_BL[i].float(),
                            "span": corrupted.span_modality_BL[i], "docs": sub.document_ids_BL[i]}
                spliced.append(part)
            own = dataclasses.replace(corrupted, inputs_BL=corrupted.inputs_BL[idx],
                                      targets_BL=corrupted.targets_BL[idx], masked_BL=corrupted.masked_BL[idx],
                                      weight_BL=corrupted.weight_BL[idx],
                                      span_modality_BL=corrupted.span_modality_BL[idx])
            other = dataclasses.replace(
                own, inputs_BL=torch.stack([p["inputs"] for p in spliced]),
                targets_BL=torch.stack([p["targets"] for p in spliced]),
                masked_BL=torch.stack([p["masked"] for p in spliced]),
                weight_BL=torch.stack([p["weight"] for p in spliced]),
                span_modality_BL=torch.stack([p["span"] for p in spliced]))
            docs_other = torch.stack([p["docs"] for p in spliced])
            for batch, docs, out in ((own, sub.document_ids_BL[idx], matched), (other, docs_other, shuffled)):
                out[idx] += masked_nll(model, batch, docs, device).sum(dim=1).cpu().numpy()
            target_n[idx] += per_modality(corrupted.eligible_BL[idx].double(),
                                          corrupted.span_modality_BL[idx]).sum(axis=1)
    matched, shuffled, target_n = (x / config.num_t_samples for x in (matched, shuffled, target_n))
    keep = fits
    return ConditionGap(
        task=task,
        matched=ratio_estimate(matched[keep], target_n[keep], config, salt=f"{task}/matched"),
        shuffled=ratio_estimate(shuffled[keep], target_n[keep], config, salt=f"{task}/shuffled"),
        gap=ratio_estimate(shuffled[keep] - matched[keep], target_n[keep], config, salt=f"{task}/gap"),
        skipped=int((~keep).sum()),
    )
