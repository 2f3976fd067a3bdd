"""AdamW for the trainer: the SDE batch-size reparameterization or plain gradient accumulation, LR schedule,
per-group CompleteP multipliers and gradient clipping.

Modes (``OptimConfig.mode``):

* ``sde``: ``adamw`` holds hyperparameters tuned at ``B_base = adamw.batch_size`` sequences and
  ``D_base = adamw.tokens`` tokens. The run's physical batch ``B`` (``data.global_batch_size``) and horizon
  ``D = L * B * S`` go through :func:`trimodal_train.batch_scaling.scale_adamw`:
  ``kappa = (D_base / D)^gamma * B / B_base``, ``lr = lr_base sqrt(kappa)``, ``beta_i = beta_i_base^kappa``,
  ``eps = eps_base / sqrt(kappa)``, ``wd`` per ``weight_decay_rule`` (default ``per_token``:
  ``wd_base sqrt(kappa)``). Logged with kappa, the logical batch ``B / kappa`` and the logical step
  ``kappa * s``; a warning when ``B > B_crit = D / (L * S_crit)``.
* ``accumulate``: ``adamw``'s lr, betas, eps and weight decay are used as given: they are meant for the target
  batch ``data.global_batch_size``, which is reached by summing the gradients of
  ``global_batch_size / (world_size * micro_batch_size)`` micro-batches per step (kappa = 1).

Both modes accumulate when a rank's rows do not fit one micro-batch; the modes differ in whether the
hyperparameters are transferred. Per-parameter-group lr and eps multipliers come from
``trimodal_train.model.completep.param_groups`` (the LR schedule multiplies every group's peak alike).
Gradient clipping: total L2 norm over all parameters (``clip_grad_norm_``, DTensor-aware under FSDP2).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any, Literal

import torch

from trimodal_train.batch_scaling import AdamWBase, WeightDecayRule, scale_adamw
from trimodal_train.lr_schedule import LRScheduleConfig

log = logging.getLogger(__name__)
OptimMode = Literal["sde", "accumulate"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """The optimizer: AdamW hyperparameters, how they are transferred, the schedule and clipping."""

    mode: OptimMode = "sde"
    """``sde``: derive lr, betas, eps, wd from ``adamw`` (tuned at its batch_size/tokens) for this run's batch
    and horizon; ``accumulate``: use ``adamw`` as given for the target batch (plain gradient accumulation)."""
    adamw: AdamWBase = dataclasses.field(default_factory=AdamWBase)
    """Base hyperparameters (``sde``) or the hyperparameters themselves (``accumulate``)."""
    gamma: float = 0.44
    """Horizon exponent of kappa (relayed as about 0.44 [2nd]; a measured quantity)."""
    critical_steps: int | None = 1000
    """``S_crit``: fewest optimizer steps that still approximate the SDE; a run whose batch exceeds
    ``B_crit = D / (L * S_crit)`` logs a warning. None disables the check. [ours]"""
    weight_decay_rule: WeightDecayRule = "per_token"
    """``sde`` mode: ``per_token`` (``wd * sqrt(kappa)``, the relayed rule), ``per_step`` (``lr * wd`` constant)
    or ``fixed``."""
    grad_clip: float | None = 1.0
    """Clip the total gradient L2 norm to this value (None: no clipping, the norm is still logged)."""
    schedule: LRScheduleConfig = dataclasses.field(default_factory=LRScheduleConfig)
    """Learning-rate schedule over the run's optimizer steps."""
    foreach: bool | None = None
    """``torch.optim.AdamW(foreach=...)``; None lets torch choose."""

    def __post_init__(self) -> None:
        if self.mode not in ("sde", "accumulate"):
            raise ValueError(f"OptimConfig.mode must be 'sde' or 'accumulate', got {self.mode!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"OptimConfig.grad_clip must be positive or None, got {self.grad_clip!r}")
        if self.critical_steps is not None and self.critical_steps < 1:
            raise ValueError(f"OptimConfig.critical_steps must be positive or None, got {self.critical_steps!r}")
        if not self.gamma >= 0:
            raise ValueError(f"OptimConfig.gamma must be >= 0, got {self.gamma!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResolvedOptim:
    """The hyperparameters the run actually uses, with the batch bookkeeping that goes into the logs."""

    mode: OptimMode
    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    kappa: float
    """1 in ``accumulate`` mode."""
    batch_size: int
    """Physical batch: sequences per optimizer step (all ranks and micro-steps)."""
    grad_accum: int
    """Micro-steps per optimizer step on each rank."""
    logical_batch_size: float
    """``B / kappa``."""
    total_steps: int
    logical_steps: float
    """``kappa * total_steps``."""
    tokens: float
    """Horizon ``D = L * B * S`` (token slots, padding included)."""
    critical_batch_size: float | None
    warning: str | None

    def logical_step(self, step: int) -> float:
        """The logical (SDE-time) step reached after ``step`` physical steps."""
        return self.kappa * step

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def resolve_optim(
    config: OptimConfig, *, batch_size: int, seq_len: int, total_steps: int, grad_accum: int
) -> ResolvedOptim:
    """The run's AdamW hyperparameters for a physical ``batch_size`` over ``total_steps`` steps."""
    tokens = float(seq_len) * batch_size * total_steps
    base = config.adamw
    if config.mode == "accumulate":
        return ResolvedOptim(
            mode="accumulate", lr=base.lr, beta1=base.beta1, beta2=base.beta2, eps=base.eps,
            weight_decay=base.weight_decay, kappa=1.0, batch_size=batch_size, grad_accum=grad_accum,
            logical_batch_size=float(batch_size), total_steps=total_steps, logical_steps=float(total_steps),
            tokens=tokens, critical_batch_size=None, warning=None,
        )
    scaled = scale_adamw(
        base, batch_size=batch_size, tokens=tokens, seq_len=seq_len, gamma=config.gamma,
        min_steps=config.critical_steps, weight_decay_rule=config.weight_decay_rule,
    )
    return ResolvedOptim(
        mode="sde", lr=scaled.lr, beta1=scaled.beta1, beta2=scaled.beta2, eps=scaled.eps,
        weight_decay=scaled.weight_decay, kappa=scaled.kappa, batch_size=batch_size, grad_accum=grad_accum,
        logical_batch_size=scaled.logical_batch_size, total_steps=total_steps,
        logical_steps=scaled.kappa * total_steps, tokens=tokens, critical_batch_size=scaled.critical_batch_size,
        warning=scaled.warning,
    )


GroupsFn = Callable[..., list[dict[str, Any]]]


def _completep_groups(model: torch.nn.Module, lr: float, eps: float, weight_decay: float) -> list[dict[str, Any]]:
    from trimodal_train.model.completep import param_groups

    return param_groups(model, lr=lr, eps=eps, weight_decay=weight_decay)


def build_optimizer(
    model: torch.nn.Module, resolved: ResolvedOptim, *, foreach: bool | None = None,
    groups_fn: GroupsFn | None = None,
) -> torch.optim.AdamW:
    """AdamW over ``groups_fn(model, lr, eps, weight_decay)`` (default: the CompleteP parameter groups)."""
    groups = (groups_fn or _completep_groups)(model, lr=resolved.lr, eps=resolved.eps,
                                              weight_decay=resolved.weight_decay)
    return torch.optim.AdamW(groups, lr=resolved.lr, betas=(resolved.beta1, resolved.beta2), eps=resolved.eps,
                             weight_decay=resolved.weight_decay, foreach=foreach)


def clip_gradients(parameters: Iterable[torch.nn.Parameter], max_norm: float | None) -> torch.Tensor:
    """Total gradient L2 norm before clipping (clipped in place to ``max_norm`` when given)."""
    params = [p for p in parameters if p.grad is not None]
    if max_norm is None:
        return torch.nn.utils.get_total_norm([p.grad for p in params])
    return torch.nn.utils.clip_grad_norm_(params, max_norm)


def log_resolved(resolved: ResolvedOptim) -> None:
    """One info line with the derived hyperparameters (and the critical-batch warning, if any)."""
    log.info(
        "optimizer (%s): lr=%.4g betas=(%.6g, %.6g) eps=%.4g wd=%.4g kappa=%.4g batch=%d (accum %d) "
        "logical batch=%.4g logical steps=%.4g horizon=%.4g tokens",
        resolved.mode, resolved.lr, resolved.beta1, resolved.beta2, resolved.eps, resolved.weight_decay,
        resolved.kappa, resolved.batch_size, resolved.grad_accum, resolved.logical_batch_size,
        resolved.logical_steps, resolved.tokens,
    )
    if resolved.warning:
        log.warning("SDE reparameterization: %s", resolved.warning)
