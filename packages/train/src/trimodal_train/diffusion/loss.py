"""The masked-diffusion loss: weighted cross-entropy on masked positions, summed per modality, and its NELBO.

Per position ``i`` of a micro-batch: ``l_i = w(t_span(i)) * CE(logits_i, x0_i)`` if ``i`` is masked, else 0,
with the cross-entropy in float32 (logits upcast and autocast disabled, also under bf16 autocast). Per
modality ``m`` (text, image, audio; the span modality of ``i``)::

    nll_sum_m = sum_{i in m} l_i      eligible_m = #{eligible i in m}      masked_m = #{masked i in m}

Normalization. The training objective of one optimizer step is

    J = (sum over ranks, micro-steps and modalities of nll_sum_m) / N,   N = global eligible count

(all modalities, all ranks, all micro-steps of the step: count every micro-batch's ``eligible_BL`` with
:func:`eligible_count` after corrupting and before the first forward, all-reduce the sum). ``J`` is the
Monte Carlo NELBO per data token of the step (``E[J]`` is the NELBO per token of the step's data). DDP and
FSDP average gradients over ranks and accumulation sums them over micro-steps, so each micro-step
backpropagates :func:`backprop_loss` ``= world_size * local_nll_sum / N``, whose gradients, averaged over
ranks and summed over micro-steps, are exactly ``dJ``.

Reporting. Summed :class:`LossSums` of a step (all-reduced; :meth:`LossSums.to_tensor` packs them for one
``all_reduce``) give ``NELBO_m = nll_sum_m / eligible_m`` per token and ``exp(NELBO_m)``
(:func:`nelbo_metrics`; NaN for a modality with no eligible tokens).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from trimodal_core import Modality
from trimodal_train.diffusion.config import MODALITY_NAMES, NUM_MODALITIES
from trimodal_train.diffusion.masking import CorruptedBatch
from trimodal_train.model.readout import SelectedLogits

_IGNORE = -100


@dataclasses.dataclass(frozen=True)
class LossSums:
    """Per-modality sums of one or more micro-batches (``[3]`` tensors in text, image, audio order)."""

    nll_sum_M: torch.Tensor
    """Sum of ``w(t) * CE`` over masked positions (float32 with grad from :func:`loss_sums`; float64 once
    detached)."""
    eligible_M: torch.Tensor
    """Eligible positions (the NELBO denominator)."""
    masked_M: torch.Tensor
    """Masked positions (those in the loss)."""

    def detach(self) -> LossSums:
        """Float64 copies without grad, for accumulating and logging."""
        return LossSums(
            nll_sum_M=self.nll_sum_M.detach().to(torch.float64),
            eligible_M=self.eligible_M.detach().to(torch.float64),
            masked_M=self.masked_M.detach().to(torch.float64),
        )

    def __add__(self, other: LossSums) -> LossSums:
        return LossSums(
            nll_sum_M=self.nll_sum_M + other.nll_sum_M,
            eligible_M=self.eligible_M + other.eligible_M,
            masked_M=self.masked_M + other.masked_M,
        )

    @classmethod
    def zeros(cls, device: torch.device | str = "cpu") -> LossSums:
        z = torch.zeros(NUM_MODALITIES, dtype=torch.float64, device=device)
        return cls(nll_sum_M=z.clone(), eligible_M=z.clone(), masked_M=z.clone())

    def to_tensor(self) -> torch.Tensor:
        """``float64 [3, 3]`` (rows nll_sum, eligible, masked), detached: one ``all_reduce`` sums everything."""
        d = self.detach()
        return torch.stack([d.nll_sum_M, d.eligible_M, d.masked_M])

    @classmethod
    def from_tensor(cls, packed: torch.Tensor) -> LossSums:
        return cls(nll_sum_M=packed[0], eligible_M=packed[1], masked_M=packed[2])


def _per_modality(values_BL: torch.Tensor, span_BL: torch.Tensor) -> torch.Tensor:
    codes = (int(Modality.TEXT), int(Modality.IMAGE), int(Modality.AUDIO))
    return torch.stack([(values_BL * (span_BL == c)).sum() for c in codes])


def loss_sums(logits_BLV: torch.Tensor, corrupted: CorruptedBatch) -> LossSums:
    """Weighted masked cross-entropy of one micro-batch, summed per modality (``nll_sum_M`` keeps the graph)."""
    if logits_BLV.shape[:2] != corrupted.targets_BL.shape:
        raise ValueError(
            f"logits_BLV shape {tuple(logits_BLV.shape)} does not match targets {tuple(corrupted.targets_BL.shape)}"
        )
    num_classes = logits_BLV.shape[-1]
    targets_BL = torch.where(corrupted.masked_BL, corrupted.targets_BL, _IGNORE)
    with torch.autocast(device_type=logits_BLV.device.type, enabled=False):
        # Ignored positions contribute exactly 0 and no gradient, even where their target's logit is -inf;
        # a row of logits that is -inf everywhere would still give NaN gradients (the model never makes one).
        ce_BL = F.cross_entropy(
            logits_BLV.float().reshape(-1, num_classes),
            targets_BL.reshape(-1),
            ignore_index=_IGNORE,
            reduction="none",
        ).reshape(targets_BL.shape)
        nll_BL = ce_BL * corrupted.weight_BL.float()
        span_BL = corrupted.span_modality_BL
        return LossSums(
            nll_sum_M=_per_modality(nll_BL, span_BL),
            eligible_M=_per_modality(corrupted.eligible_BL.to(torch.int64), span_BL),
            masked_M=_per_modality(corrupted.masked_BL.to(torch.int64), span_BL),
        )


def selected_loss_sums(selected: SelectedLogits, corrupted: CorruptedBatch) -> LossSums:
    """:func:`loss_sums` from the readout at selected positions (``model(..., select_BL=masked_BL)``).

    The selection must cover every masked position (others contribute 0); a target outside its group's ids
    (probability 0 under the restricted readout) contributes ``+inf``, as the dense ``-inf`` logit would.
    """
    if selected.shape_BL != tuple(corrupted.targets_BL.shape):
        raise ValueError(f"selected logits of shape {selected.shape_BL} do not match targets "
                         f"{tuple(corrupted.targets_BL.shape)}")
    masked_N = corrupted.masked_BL.reshape(-1)
    weight_N = corrupted.weight_BL.reshape(-1)
    span_N = corrupted.span_modality_BL.reshape(-1).long()
    device = masked_N.device
    nll_M = torch.zeros(NUM_MODALITIES + 1, dtype=torch.float32, device=device)
    covered = torch.zeros((), dtype=torch.int64, device=device)
    with torch.autocast(device_type=device.type, enabled=False):
        for group in selected.groups:
            ce_N = group.target_nll(corrupted.targets_BL, selected.vocab_size)
            keep_N = masked_N[group.index_N]
            covered = covered + keep_N.sum()
            nll_N = torch.where(keep_N, ce_N * weight_N[group.index_N].float(), 0.0)
            nll_M = nll_M.index_add(0, span_N[group.index_N], nll_N)
    if int(covered) != int(masked_N.sum()):
        raise ValueError(f"the selection covers {int(covered)} of {int(masked_N.sum())} masked positions; "
                         "pass select_BL=corrupted.masked_BL")
    span_BL = corrupted.span_modality_BL
    codes = [int(Modality.TEXT), int(Modality.IMAGE), int(Modality.AUDIO)]
    return LossSums(
        nll_sum_M=nll_M[codes],
        eligible_M=_per_modality(corrupted.eligible_BL.to(torch.int64), span_BL),
        masked_M=_per_modality(corrupted.masked_BL.to(torch.int64), span_BL),
    )


def eligible_count(corrupted: CorruptedBatch) -> torch.Tensor:
    """Eligible positions of one micro-batch (int64 scalar on its device): add over micro-steps, all-reduce."""
    return corrupted.eligible_BL.sum()


def backprop_loss(sums: LossSums, *, global_eligible: torch.Tensor | float, world_size: int) -> torch.Tensor:
    """The micro-step's loss to ``backward()``: ``world_size * sum_m nll_sum_m / global_eligible``.

    With gradients averaged over ``world_size`` ranks (DDP/FSDP) and summed over micro-steps, the step's
    gradient is that of the global objective ``J`` (module docstring). ``global_eligible`` is the whole
    step's count; a step with none gives 0 (and zero gradients) instead of NaN.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    total = sums.nll_sum_M.sum()
    denom = torch.as_tensor(global_eligible, dtype=total.dtype, device=total.device).clamp(min=1.0)
    return total * (world_size / denom)


def nelbo_per_token(sums: LossSums) -> torch.Tensor:
    """``float64 [3]``: ``nll_sum_m / eligible_m`` (NaN where a modality has no eligible token)."""
    d = sums.detach()
    return torch.where(d.eligible_M > 0, d.nll_sum_M / d.eligible_M.clamp(min=1.0), torch.nan)


def nelbo_metrics(sums: LossSums) -> dict[str, float]:
    """``nelbo_{text,image,audio}``, ``exp_nelbo_*`` and the all-modality ``nelbo`` / ``exp_nelbo`` of a step."""
    d = sums.detach()
    out: dict[str, float] = {}
    for name, value in zip(MODALITY_NAMES, nelbo_per_token(d).tolist(), strict=True):
        out[f"nelbo_{name}"] = value
        out[f"exp_nelbo_{name}"] = _exp(value)
    eligible = float(d.eligible_M.sum())
    total = float(d.nll_sum_M.sum()) / eligible if eligible > 0 else math.nan
    out["nelbo"] = total
    out["exp_nelbo"] = _exp(total)
    return out


def _exp(value: float) -> float:
    """``exp`` that keeps NaN and saturates to inf instead of raising OverflowError."""
    if math.isnan(value):
        return math.nan
    return math.exp(value) if value < 700 else math.inf
