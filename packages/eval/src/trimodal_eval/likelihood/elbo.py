"""Monte Carlo ELBO per modality: NELBO per token and exp(NELBO), with bootstrap intervals over examples.

For a row ``x`` and modality ``m`` the training objective's estimator is

    ``nll_m(x) = E_t [ sum_{i masked, span m} w_m(t) * -log p(x_i | x_t) ]``,  ``NELBO_m = sum_x nll_m / sum_x n_m``

with ``n_m`` the row's eligible positions of modality ``m`` (``trimodal_train.diffusion``: content tokens and
maskable specials, never padding). Each row gets ``K = num_t_samples`` times per modality, stratified:
``t_k = eps + (1 - eps) * (k + u) / K`` with one uniform ``u`` per (row, modality), so every row covers the
whole time range (lower variance than ``K`` independent draws); masks are drawn by
``trimodal_train.diffusion.corrupt`` seeded by (seed, sample k, row), so an estimate is a pure function of the
seed and the rows. The interval is a percentile bootstrap over rows of the ratio ``sum nll / sum n`` (rows
resampled, ``K`` samples kept together). ``exp`` of the endpoints bounds exp(NELBO).

``condition`` selects what is estimated on pair rows: ``joint`` (every span noised, as in training without
dropout), ``visible`` (the condition span clean and out of the sums: the conditional NELBO of the target span,
e.g. image given caption) or ``masked`` (condition fully masked: the unconditional NELBO of the target).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

from trimodal_core import Modality, TokenSpace, derive_seed
from trimodal_eval.denoiser import Denoiser
from trimodal_eval.likelihood.rows import EvalRows
from trimodal_train.diffusion import MODALITY_NAMES, CorruptedBatch, DiffusionConfig, corrupt
from trimodal_train.model import DiffusionTransformer, SelectedLogits

ElboCondition = Literal["joint", "visible", "masked"]
_CODES = (int(Modality.TEXT), int(Modality.IMAGE), int(Modality.AUDIO))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ElboConfig:
    """How the ELBO is estimated."""

    num_t_samples: int = 8
    """Times per row and modality (stratified over [eps, 1])."""
    batch_size: int = 16
    """Rows per denoiser call."""
    seed: int = 0
    """Seed of times and masks."""
    num_bootstrap: int = 1000
    """Bootstrap resamples of rows for the intervals."""
    confidence: float = 0.95
    """Coverage of the intervals."""

    def __post_init__(self) -> None:
        for name in ("num_t_samples", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"ElboConfig.{name} must be positive, got {getattr(self, name)!r}")
        if self.num_bootstrap < 0:
            raise ValueError(f"ElboConfig.num_bootstrap must be >= 0, got {self.num_bootstrap!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"ElboConfig.confidence must be in (0, 1), got {self.confidence!r}")


@dataclasses.dataclass(frozen=True)
class RowSums:
    """Per-row sums averaged over the ``K`` time samples: ``nll_RM`` and eligible counts ``n_RM`` (float64)."""

    nll_RM: np.ndarray
    n_RM: np.ndarray


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A ratio estimate with its bootstrap interval."""

    value: float
    low: float
    high: float
    tokens: float
    rows: int

    def as_dict(self) -> dict[str, float | int | list[float]]:
        exp = _safe_exp
        return {"nelbo": self.value, "ci": [self.low, self.high], "exp_nelbo": exp(self.value),
                "exp_ci": [exp(self.low), exp(self.high)], "tokens": self.tokens, "rows": self.rows}


def _safe_exp(value: float) -> float:
    return math.exp(value) if value < 700 else math.inf


def position_nll(logits_BLV: torch.Tensor, corrupted: CorruptedBatch) -> torch.Tensor:
    """``w(t) * -log p(x0_i)`` at masked positions, 0 elsewhere (float64 ``[B, L]``; log-softmax in fp32)."""
    logp_BLV = torch.log_softmax(logits_BLV.float(), dim=-1)
    picked_BL = logp_BLV.gather(-1, corrupted.targets_BL.unsqueeze(-1)).squeeze(-1).double()
    masked = corrupted.masked_BL
    # A masked target the model gives zero probability contributes +inf, which is the honest NELBO.
    return torch.where(masked, -picked_BL * corrupted.weight_BL.double(), torch.zeros_like(picked_BL))


def selected_position_nll(selected: SelectedLogits, corrupted: CorruptedBatch) -> torch.Tensor:
    """:func:`position_nll` from the readout at the masked positions (``model(..., select_BL=masked_BL)``)."""
    masked_N = corrupted.masked_BL.reshape(-1)
    weight_N = corrupted.weight_BL.reshape(-1).double()
    out_N = torch.zeros(masked_N.numel(), dtype=torch.float64, device=masked_N.device)
    for group in selected.groups:
        nll_N = group.target_nll(corrupted.targets_BL, selected.vocab_size).double()
        keep_N = masked_N[group.index_N]
        out_N[group.index_N] = torch.where(keep_N, nll_N * weight_N[group.index_N], 0.0)
    return out_N.reshape(corrupted.masked_BL.shape)


def masked_nll(model: Denoiser, corrupted: CorruptedBatch, document_ids_BL: torch.Tensor,
               device: str | torch.device) -> torch.Tensor:
    """``position_nll`` of one corrupted batch under ``model`` (float64 ``[B, L]`` on the model's device).

    A :class:`~trimodal_train.model.DiffusionTransformer` is read out at the masked positions only, each over
    its span modality's ids (the same values up to float summation order, a fraction of the cost); any other
    denoiser gives dense logits.
    """
    inputs = corrupted.inputs_BL.to(device)
    kwargs = {"document_ids_BL": document_ids_BL.to(device), "span_modality_BL": corrupted.span_modality_BL.to(device)}
    if isinstance(model, DiffusionTransformer):
        selected = model(inputs, select_BL=corrupted.masked_BL.to(device), **kwargs)
        return selected_position_nll(selected, _to(corrupted, inputs.device))
    logits = model(inputs, **kwargs)
    return position_nll(logits, _to(corrupted, logits.device))


def per_modality(values_BL: torch.Tensor, span_BL: torch.Tensor) -> np.ndarray:
    """Row sums of ``values_BL`` per span modality: float64 ``[B, 3]`` (text, image, audio)."""
    return torch.stack([(values_BL * (span_BL == c)).sum(dim=1) for c in _CODES], dim=1).double().cpu().numpy()


def stratified_times(seed: int, rows: range, k: int, num_samples: int, eps: tuple[float, ...]) -> torch.Tensor:
    """``t [len(rows), 3]`` of sample ``k``: ``eps + (1 - eps) * (k + u) / K`` with ``u`` fixed per (row, modality)."""
    out = torch.empty(len(rows), 3, dtype=torch.float64)
    for i, row in enumerate(rows):
        gen = torch.Generator().manual_seed(derive_seed(seed, "eval/elbo/t", row))
        u = torch.rand(3, generator=gen, dtype=torch.float64)
        out[i] = (k + u) / num_samples
    lo = torch.tensor(eps, dtype=torch.float64)
    return lo + (1 - lo) * out


def corrupt_rows(rows: EvalRows, *, diffusion: DiffusionConfig, token_space: TokenSpace, seed: int, sample: int,
                 num_samples: int, row_offset: int, condition: ElboCondition) -> CorruptedBatch:
    """Sample ``sample`` of ``num_samples`` of the rows' masking (see :func:`stratified_times`)."""
    config = dataclasses.replace(diffusion, condition_dropout=0.0, anti_masking=False)
    eps = tuple(float(config.schedules[n].eps) for n in MODALITY_NAMES)
    span = range(row_offset, row_offset + rows.num_rows)
    t_BM = stratified_times(seed, span, sample, num_samples, eps)
    mode = "dropout" if condition == "joint" else condition
    return corrupt(rows, config=config, token_space=token_space, seed=derive_seed(seed, "eval/elbo/mask"),
                   step=sample, row_offset=row_offset, num_global_rows=row_offset + rows.num_rows, t_BM=t_BM,
                   condition=mode)


@torch.no_grad()
def row_sums(model: Denoiser, rows: EvalRows, *, diffusion: DiffusionConfig, token_space: TokenSpace,
             config: ElboConfig, condition: ElboCondition = "joint", device: str | torch.device = "cpu",
             on_batch: Callable[[int], None] | None = None) -> RowSums:
    """Per-row NELBO sums and eligible counts, averaged over ``config.num_t_samples`` times."""
    num = rows.num_rows
    nll = np.zeros((num, 3))
    count = np.zeros((num, 3))
    for start in range(0, num, config.batch_size):
        part = rows.select(list(range(start, min(start + config.batch_size, num))))
        for k in range(config.num_t_samples):
            corrupted = corrupt_rows(part, diffusion=diffusion, token_space=token_space, seed=config.seed,
                                     sample=k, num_samples=config.num_t_samples, row_offset=start,
                                     condition=condition)
            nll_BL = masked_nll(model, corrupted, part.document_ids_BL, device)
            span = corrupted.span_modality_BL.to(nll_BL.device)
            nll[start:start + part.num_rows] += per_modality(nll_BL, span)
            count[start:start + part.num_rows] += per_modality(corrupted.eligible_BL.to(nll_BL.device).double(), span)
        if on_batch is not None:
            on_batch(part.num_rows)
    return RowSums(nll_RM=nll / config.num_t_samples, n_RM=count / config.num_t_samples)


def _to(corrupted: CorruptedBatch, device: torch.device) -> CorruptedBatch:
    if corrupted.targets_BL.device == device:
        return corrupted
    return dataclasses.replace(corrupted, targets_BL=corrupted.targets_BL.to(device),
                               masked_BL=corrupted.masked_BL.to(device), weight_BL=corrupted.weight_BL.to(device))


def ratio_estimate(numerator_R: np.ndarray, denominator_R: np.ndarray, config: ElboConfig, *,
                   salt: str = "") -> Estimate:
    """``sum num / sum den`` over rows with ``den > 0`` and its percentile bootstrap interval."""
    keep = denominator_R > 0
    num, den = numerator_R[keep], denominator_R[keep]
    if den.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0.0, 0)
    value = float(num.sum() / den.sum())
    low = high = value
    if config.num_bootstrap and den.size > 1:
        rng = np.random.default_rng(derive_seed(config.seed, "eval/bootstrap", salt))
        idx = rng.integers(0, den.size, size=(config.num_bootstrap, den.size))
        boots = num[idx].sum(axis=1) / den[idx].sum(axis=1)
        tail = (1 - config.confidence) / 2 * 100
        low, high = (float(x) for x in np.percentile(boots, [tail, 100 - tail]))
    return Estimate(value, low, high, float(den.sum()), int(den.size))


def modality_estimates(sums: RowSums, config: ElboConfig) -> dict[str, Estimate]:
    """NELBO per token per modality (modalities without tokens are left out)."""
    out = {}
    for m, name in enumerate(MODALITY_NAMES):
        estimate = ratio_estimate(sums.nll_RM[:, m], sums.n_RM[:, m], config, salt=name)
        if estimate.rows:
            out[name] = estimate
    return out
