"""One optimizer step of masked-diffusion training, on one rank.

For optimizer step ``s`` with ``G = data.global_batch_size`` rows (all ranks), each rank holds
``B_local = G / world_size`` rows, global rows ``rank * B_local .. rank * B_local + B_local - 1`` (the loader
slices the global batch contiguously by rank), run in ``A`` micro-batches of ``B_local / A`` rows:

1. corrupt every micro-batch first (times ``t[g, m]`` drawn once for the whole global batch from
   ``(seed, s)``, each micro-batch taking its rows by global row index; masks from ``(seed, s, g)``), so the
   global eligible count ``N = sum over ranks and micro-batches`` is all-reduced before the first forward;
2. per micro-batch: forward (bf16 autocast on GPU when enabled; with ``readout="masked"`` the logits of the
   masked positions only, see ``trimodal_train.model.readout``), fp32 loss sums per modality, backward of
   ``world_size * nll_sum / N`` (``diffusion.backprop_loss``); DDP/FSDP2 gradient sync only on the last one;
3. the step's objective ``J = sum nll / N`` and the per-modality sums are all-reduced for logging and the
   non-finite check; clipping and the optimizer update are left to the caller.

Gradients then equal those of ``J`` over the whole global batch, whatever the world size or the micro-batch
split (up to float summation order).
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch

from trimodal_core import TokenSpace
from trimodal_train.data import Batch
from trimodal_train.diffusion import (
    CorruptedBatch,
    DiffusionConfig,
    LossSums,
    backprop_loss,
    corrupt,
    duplicate_rows,
    eligible_count,
    loss_sums,
    sample_times,
    selected_loss_sums,
)
from trimodal_train.distributed import DistContext, all_reduce_sum, no_sync


@dataclasses.dataclass(frozen=True)
class StepOutput:
    """What one optimizer step computed (identical on every rank)."""

    loss: float
    """``J = sum nll / N`` of the whole global batch (NaN when nothing was eligible)."""
    sums: LossSums
    """Per-modality sums of the global batch (float64, all-reduced)."""
    data_tokens: int
    """Non-padding tokens of the global batch."""


@dataclasses.dataclass(frozen=True)
class _Micro:
    corrupted: CorruptedBatch
    document_ids_BL: torch.Tensor


def _to_device(batch: Batch, device: torch.device) -> Batch:
    if device.type == "cpu":
        return batch
    return dataclasses.replace(
        batch, **{f.name: getattr(batch, f.name).to(device, non_blocking=True)
                  for f in dataclasses.fields(batch) if isinstance(getattr(batch, f.name), torch.Tensor)}
    )


def _rows(batch: Batch, start: int, stop: int) -> Batch:
    return dataclasses.replace(
        batch, **{f.name: getattr(batch, f.name)[start:stop]
                  for f in dataclasses.fields(batch) if isinstance(getattr(batch, f.name), torch.Tensor)}
    )


def train_step(
    model: torch.nn.Module,
    batch: Batch,
    *,
    step: int,
    seed: int,
    diffusion: DiffusionConfig,
    token_space: TokenSpace,
    global_batch_size: int,
    grad_accum: int,
    ctx: DistContext,
    autocast_dtype: torch.dtype | None,
    readout: str = "masked",
) -> StepOutput:
    """Forward and backward of one optimizer step (module docstring); gradients are left in ``.grad``."""
    if diffusion.anti_masking:
        batch = duplicate_rows(batch)
    batch = _to_device(batch, ctx.device)
    local = batch.tokens_BL.shape[0]
    if local * ctx.world_size != global_batch_size or local % grad_accum:
        raise ValueError(f"batch of {local} rows on each of {ctx.world_size} ranks does not make "
                         f"global_batch_size={global_batch_size} in {grad_accum} micro-batches")
    micro = local // grad_accum
    first_row = ctx.rank * local
    t_GM = sample_times(diffusion, seed=seed, step=step, num_rows=global_batch_size)
    micros: list[_Micro] = []
    eligible = torch.zeros((), dtype=torch.int64, device=ctx.device)
    for a in range(grad_accum):
        part = _rows(batch, a * micro, (a + 1) * micro)
        offset = first_row + a * micro
        corrupted = corrupt(part, config=diffusion, token_space=token_space, seed=seed, step=step,
                            row_offset=offset, num_global_rows=global_batch_size,
                            t_BM=t_GM[offset : offset + micro])
        eligible += eligible_count(corrupted)
        micros.append(_Micro(corrupted, part.document_ids_BL))
    # Eligible count and data tokens of the whole global batch, before the first forward.
    counts = torch.stack([eligible, batch.loss_mask_BL.sum()]).to(torch.float64)
    all_reduce_sum(counts, ctx)
    global_eligible = counts[0]
    total = LossSums.zeros(ctx.device)
    for a, m in enumerate(micros):
        last = a == grad_accum - 1
        autocast = (torch.autocast(device_type=ctx.device.type, dtype=autocast_dtype)
                    if autocast_dtype is not None else contextlib.nullcontext())
        with no_sync(model, enabled=ctx.distributed and not last):
            # masked: only the masked positions' logits; dense: the plain call (any model with the Denoiser call)
            select = {"select_BL": m.corrupted.masked_BL} if readout == "masked" else {}
            with autocast:
                logits = model(m.corrupted.inputs_BL, document_ids_BL=m.document_ids_BL,
                               span_modality_BL=m.corrupted.span_modality_BL, **select)
            sums = selected_loss_sums(logits, m.corrupted) if select else loss_sums(logits, m.corrupted)
            loss = backprop_loss(sums, global_eligible=global_eligible, world_size=ctx.world_size)
            loss.backward()
        total = total + sums.detach()
    packed = all_reduce_sum(total.to_tensor(), ctx)
    reduced = LossSums.from_tensor(packed)
    eligible_total = float(reduced.eligible_M.sum())
    j = float(reduced.nll_sum_M.sum()) / eligible_total if eligible_total > 0 else float("nan")
    return StepOutput(loss=j, sums=reduced, data_tokens=int(counts[1]))
