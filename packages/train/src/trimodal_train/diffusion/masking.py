"""``corrupt``: the forward (masking) process of absorbing-state diffusion on one rank's micro-batch.

Per row ``b`` (global row ``g``) and modality ``m`` there is one time ``t[b, m]`` (``time_sampling.py``).
Position ``i`` with span modality ``m_i`` (``spans.py``) is *eligible* when ``m_i`` is not SPECIAL and the
position is not padding; an eligible position is *masked* (input replaced by ``mask``, in the loss) when

    ``u[g, i] < s_m(t[b, m_i])``,  ``s_m = 1 - alpha_m``  (each modality with its own schedule),

and its loss weight is ``w_m(t[b, m_i])``. ``u[g, :]`` are ``L + 1`` float64 uniforms from a CPU
``torch.Generator`` seeded by ``derive_seed(seed, "diffusion/mask", step, g)``: entry 0 decides condition
dropout, entries ``1..L`` the positions; the same on any device and world size.

Condition dropout (``condition="dropout"``, training). A pair row's condition span (``spans.condition_span``)
is dropped with probability ``condition_dropout`` (``u[g, 0] < p``): its eligible positions become ``mask`` in
the input and leave the loss *and* the eligible count. ``condition="visible"`` keeps every condition
visible and out of the loss (conditional ELBO of the target span); ``"masked"`` drops every condition
(unconditional ELBO of the target span).

Anti-masking (``anti_masking=True``) [ours]. Rows come in pairs ``(2k, 2k + 1)`` of the *same* example (global
row ``2k`` is even). The leader ``2k`` is masked as above at ``t`` (drawn in ``[eps, t_max]``); the partner
uses the leader's uniforms and is masked at exactly the leader's *unmasked* eligible positions
(``u >= s(t)``), i.e. at mask probability ``alpha(t)``, time ``t' = time_of_mask_prob(alpha(t))``
(``1 - t`` for the linear schedule), with weight ``-alpha'(t) / alpha(t)`` (``schedules.py``); condition
dropout is decided once per pair. Feeding it: set the loader's ``global_batch_size`` to half the step's row
count and pass every rank's batch through :func:`duplicate_rows` (each row repeated in place,
``[a, a, b, b, ..]``) before splitting it into micro-batches, so the row counts given to
:func:`global_row_offset` and ``num_global_rows`` are those of the duplicated batch (micro-batches must hold
an even number of rows); ``corrupt`` checks that partners are identical.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Protocol

import torch

from trimodal_core import Modality, TokenSpace, derive_seed
from trimodal_train.diffusion.config import DiffusionConfig
from trimodal_train.diffusion.spans import condition_span, span_modality
from trimodal_train.diffusion.time_sampling import sample_times

ConditionMode = Literal["dropout", "visible", "masked"]


class TokenBatch(Protocol):
    """What :func:`corrupt` reads (``trimodal_train.data.Batch`` satisfies it)."""

    tokens_BL: torch.Tensor
    modality_BL: torch.Tensor
    loss_mask_BL: torch.Tensor


@dataclasses.dataclass(frozen=True)
class CorruptedBatch:
    """The model input and loss targets of one micro-batch (all on the batch's device)."""

    inputs_BL: torch.Tensor
    """Token ids fed to the model (int64): ``mask`` at masked and at dropped-condition positions."""
    targets_BL: torch.Tensor
    """Clean token ids (int64)."""
    masked_BL: torch.Tensor
    """Positions in the loss (bool): masked and eligible."""
    eligible_BL: torch.Tensor
    """Positions counted in the NELBO denominator (bool): span modality not SPECIAL, not padding, not a
    dropped or visible-by-mode condition."""
    weight_BL: torch.Tensor
    """Loss weight per position (float32): ``w(t_span)`` where masked, 0 elsewhere."""
    span_modality_BL: torch.Tensor
    """Span :class:`Modality` per position (uint8), the model's ``span_modality_BL``."""
    t_BM: torch.Tensor
    """Time per row and modality actually used (float64; a partner row's is its complement time ``t'``)."""
    condition_dropped_B: torch.Tensor
    """Rows whose condition span was dropped (bool)."""


def duplicate_rows(batch: TokenBatch) -> TokenBatch:
    """Every row of a batch repeated in place (``[a, b] -> [a, a, b, b]``), every ``*_B*`` tensor alike.

    Works on :class:`trimodal_train.data.Batch` (or any dataclass whose tensor fields have rows first).
    """
    changes = {}
    for field in dataclasses.fields(batch):  # type: ignore[arg-type]
        value = getattr(batch, field.name)
        if isinstance(value, torch.Tensor) and value.ndim >= 1:
            changes[field.name] = value.repeat_interleave(2, dim=0)
    return dataclasses.replace(batch, **changes)  # type: ignore[type-var]


def modality_presence(batch: TokenBatch, *, config: DiffusionConfig, token_space: TokenSpace) -> torch.Tensor:
    """``bool [B, 3]``: rows holding an eligible position of each modality (before condition handling).

    Depends on the tokens only; gather it over the step's micro-batches and ranks in global row order and
    pass it to :func:`corrupt` as ``present_GM`` to stratify each modality over the rows that hold it.
    """
    span_BL = span_modality(batch.tokens_BL, batch.modality_BL, token_space, config.maskable_specials)
    span_BL = torch.where(batch.loss_mask_BL.to(torch.bool), span_BL, 0)
    codes = (int(Modality.TEXT), int(Modality.IMAGE), int(Modality.AUDIO))
    return torch.stack([(span_BL == c).any(dim=1) for c in codes], dim=1)


def _row_uniforms(seed: int, step: int, rows: list[int], length: int) -> torch.Tensor:
    out = torch.empty(len(rows), length + 1, dtype=torch.float64)
    for i, row in enumerate(rows):
        gen = torch.Generator(device="cpu").manual_seed(derive_seed(seed, "diffusion/mask", step, row))
        torch.rand(length + 1, generator=gen, dtype=torch.float64, out=out[i])
    return out


def corrupt(
    batch: TokenBatch,
    *,
    config: DiffusionConfig,
    token_space: TokenSpace,
    seed: int,
    step: int,
    row_offset: int = 0,
    num_global_rows: int | None = None,
    t_BM: torch.Tensor | None = None,
    condition: ConditionMode = "dropout",
    present_GM: torch.Tensor | None = None,
) -> CorruptedBatch:
    """Mask one micro-batch (module docstring).

    Args:
        batch: the rank's rows (``tokens_BL``, ``modality_BL``, ``loss_mask_BL``).
        config: the objective's choices.
        token_space: ids of ``mask``, task and boundary tokens.
        seed: root seed of the run.
        step: optimizer step (all micro-steps of a step share it).
        row_offset: global row of ``batch``'s first row (``time_sampling.global_row_offset``).
        num_global_rows: rows of the whole optimizer step ``G``, all ranks and micro-batches (default: this
            batch's rows).
        t_BM: explicit times ``[B, 3]`` instead of the step's sampled ones (leader times under anti-masking),
            e.g. for evaluation at fixed ``t``.
        condition: ``dropout`` (training), ``visible`` or ``masked`` (see module docstring).
        present_GM: optional ``bool [num_global_rows, 3]``, :func:`modality_presence` of the whole step in global
            row order (identical on every rank): stratify each modality over the rows that hold it.
    """
    tokens_BL = batch.tokens_BL
    device = tokens_BL.device
    num_rows, length = tokens_BL.shape
    total = num_rows if num_global_rows is None else num_global_rows
    if row_offset < 0 or row_offset + num_rows > total:
        raise ValueError(f"rows [{row_offset}, {row_offset + num_rows}) do not fit num_global_rows={total}")
    if condition not in ("dropout", "visible", "masked"):
        raise ValueError(f"condition: unknown mode {condition!r}; use dropout, visible or masked")
    anti = config.anti_masking
    if anti:
        if num_rows % 2 or row_offset % 2:
            raise ValueError(
                f"anti_masking needs pairs of rows: got {num_rows} rows at global row {row_offset} (both must be even)"
            )
        if not torch.equal(tokens_BL[0::2], tokens_BL[1::2]):
            raise ValueError("anti_masking: rows 2k and 2k+1 differ; feed batches through duplicate_rows()")

    span_BL = span_modality(tokens_BL, batch.modality_BL, token_space, config.maskable_specials)
    eligible_BL = (span_BL != Modality.SPECIAL) & batch.loss_mask_BL.to(torch.bool)

    # Uniforms of the leader of each row (itself, or row 2k for the partner 2k+1).
    rows = range(row_offset, row_offset + num_rows)
    leaders = list(rows[0::2]) if anti else list(rows)
    u_RL1 = _row_uniforms(seed, step, leaders, length)
    u_BL1 = (u_RL1.repeat_interleave(2, dim=0) if anti else u_RL1).to(device)

    cond_BL = condition_span(tokens_BL, span_BL, token_space, config.condition_tasks) & eligible_BL
    has_cond_B = cond_BL.any(dim=1)
    if condition == "dropout":
        dropped_B = has_cond_B & (u_BL1[:, 0] < config.condition_dropout)
    elif condition == "masked":
        dropped_B = has_cond_B
    else:
        dropped_B = torch.zeros_like(has_cond_B)
    hidden_BL = cond_BL & dropped_B[:, None]
    if condition == "visible":
        eligible_BL = eligible_BL & ~cond_BL
    else:
        eligible_BL = eligible_BL & ~hidden_BL

    if t_BM is None:
        t_GM = sample_times(config, seed=seed, step=step, num_rows=total, present_GM=present_GM)
        t_BM = t_GM[row_offset : row_offset + num_rows]
    t_BM = torch.as_tensor(t_BM, dtype=torch.float64).to("cpu")
    if t_BM.shape != (num_rows, 3):
        raise ValueError(f"t_BM must have shape [{num_rows}, 3], got {tuple(t_BM.shape)}")
    if anti:  # the partner's time follows from its leader's
        t_BM = t_BM[0::2].repeat_interleave(2, dim=0)
    schedules = config.build_schedules()
    s_BM = torch.stack([sch.mask_prob(t_BM[:, m]) for m, sch in enumerate(schedules)], dim=1)
    w_BM = torch.stack([sch.weight(t_BM[:, m]) for m, sch in enumerate(schedules)], dim=1)
    used_t_BM = t_BM.clone()
    partner_B = torch.zeros(num_rows, dtype=torch.bool)
    if anti:
        partner_B[1::2] = True
        wc_BM = torch.stack([sch.complement_weight(t_BM[:, m]) for m, sch in enumerate(schedules)], dim=1)
        tc_BM = torch.stack([sch.time_of_mask_prob(1.0 - s_BM[:, m]) for m, sch in enumerate(schedules)], dim=1)
        w_BM = torch.where(partner_B[:, None], wc_BM, w_BM)
        used_t_BM = torch.where(partner_B[:, None], tc_BM, used_t_BM)

    # Per-position mask probability and weight by span modality (column 0 = SPECIAL, never eligible).
    zero = torch.zeros(num_rows, 1, dtype=torch.float64)
    idx_BL = span_BL.long()
    s_BL = torch.cat([zero, s_BM], dim=1).to(device).gather(1, idx_BL)
    w_BL = torch.cat([zero, w_BM], dim=1).to(device).gather(1, idx_BL)
    below_BL = u_BL1[:, 1:] < s_BL
    hit_BL = torch.where(partner_B.to(device)[:, None], ~below_BL, below_BL)
    masked_BL = eligible_BL & hit_BL

    inputs_BL = torch.where(masked_BL | hidden_BL, token_space.mask_id, tokens_BL)
    weight_BL = torch.where(masked_BL, w_BL, 0.0).to(torch.float32)
    return CorruptedBatch(
        inputs_BL=inputs_BL,
        targets_BL=tokens_BL,
        masked_BL=masked_BL,
        eligible_BL=eligible_BL,
        weight_BL=weight_BL,
        span_modality_BL=span_BL,
        t_BM=used_t_BM.to(device),
        condition_dropped_B=dropped_B,
    )
