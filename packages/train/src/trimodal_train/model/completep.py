"""CompleteP parameterization: init scales, forward multipliers and per-group AdamW hyperparameters.

Hyperparameters (``lr``, ``eps``, ``weight_decay``, ``init_std``) are tuned once at a base shape
(``base_d_model``, ``base_n_layers``) and transfer to a model of width ``d`` and depth ``L`` through
``m_d = d / base_d_model`` and ``m_L = L / base_n_layers``. Sources: CompleteP (Dey et al. 2025, arXiv
2505.01618, and its reference implementation) [2nd]; the per-module corrections of "Completed
Hyperparameter Transfer" (arXiv 2512.22382) as relayed in shared/paper.md [2nd]; the rest [ours].

Forward multipliers:

* every residual branch: ``x <- x + m_L^-alpha * F(RMSNorm(x))``, ``alpha = residual_alpha`` in ``[1/2, 1]``
  [2nd: CompleteP is alpha = 1, depth-muP alpha = 1/2];
* output logits: ``logits = W_out (RMSNorm(h) / m_d)`` (muP readout multiplier) [2nd: CompleteP].

Per parameter kind (``p`` = multiplier applied to the base value; PyTorch AdamW, whose decoupled decay is
``p <- p - lr * wd * p``):

=============  ===============  =========================  ==========================  ===============
kind           init std         lr                         eps                         weight decay
=============  ===============  =========================  ==========================  ===============
embedding      ``s``            ``1``                      ``m_d^-1``                  0
unembedding    ``s``            ``1``                      ``m_d^-1``                  ``wd``
hidden         ``s m_d^-1/2``   ``m_d^-1 m_L^(alpha-1)``   ``m_d^-1 m_L^-alpha``       ``wd m_d``
block_norm     gain 1           ``m_L^(alpha-1)``          ``m_d^-1 m_L^-alpha``       0
qk_norm        gain 1           ``m_L^(alpha-1)``          ``m_L^-alpha``              0
final_norm     gain 1           ``1``                      ``m_d^-1``                  0
=============  ===============  =========================  ==========================  ===============

Why each entry:

* hidden (QKV, attention out, SwiGLU gate/up/down): muP init variance ``1/fan_in`` relative to the base and
  Adam lr ``1/m_d`` keep per-coordinate updates width-independent; the depth factor ``m_L^(alpha-1)`` is
  CompleteP's lr correction [2nd]. Weight decay ``wd * m_d`` keeps ``lr * wd`` independent of width, as
  CompleteP's reference code does [2nd].
* eps: Adam's update is ``g / (sqrt(v) + eps)``; eps must scale like the gradient of its parameter group or
  it silently damps (or stops damping) updates as the model grows. Under muP every activation gradient is
  ``Theta(1/d)`` and inside a residual branch it carries the branch multiplier ``m_L^-alpha``. Hence
  ``m_d^-1 m_L^-alpha`` for hidden matrices and the gains inside branches (CompleteP's global eps rule
  [2nd]); the input embedding is not inside a branch, so it gets ``m_d^-1`` only, without the depth factor
  CompleteP's global rule also applies to it: our reading of the "corrected eps scaling for the input
  embedding" relayed in paper.md [2nd that a correction exists; ours: its form]. The untied unembedding's
  gradient carries the ``1/m_d`` readout multiplier: ``m_d^-1`` [ours, same argument]. The QK-norm gain is
  shared by all heads, whose number grows with width, so its gradient sums ``Theta(m_d)`` terms of size
  ``1/m_d``: eps constant in width, as 2512.22382 is relayed to derive [2nd]; ``m_L^-alpha`` since it is
  inside a branch [ours]. The final norm sits outside the branches: ``m_d^-1`` [ours].
* gains and the embedding are vector-like: Adam lr ``Theta(1)`` in width [2nd: muP]; gains inside branches
  take CompleteP's depth correction ``m_L^(alpha-1)`` [2nd].
* weight decay is off for gains (decaying a multiplicative gain towards 0 changes the function, not its
  complexity) and for the input embedding (rows of rare tokens get no gradient and would only decay)
  [ours, common practice]; the untied output head gets a dense gradient every step and is decayed [ours].

``standard`` parameterization (the baseline of the coordinate check): every matrix ``N(0, init_std^2)``,
gains 1, no residual or readout multiplier, and one lr/eps for every group (weight decay as above).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from torch import nn

from trimodal_train.model.config import ModelConfig


class ParamKind(enum.Enum):
    """Role of a parameter, which decides its init, lr, eps and weight decay."""

    EMBEDDING = "embedding"
    UNEMBEDDING = "unembedding"
    HIDDEN = "hidden"
    BLOCK_NORM = "block_norm"
    QK_NORM = "qk_norm"
    FINAL_NORM = "final_norm"


@dataclasses.dataclass(frozen=True, kw_only=True)
class GroupScales:
    """Multipliers of one parameter kind, relative to the base hyperparameters."""

    init_std: float
    """Init std of matrices (absolute, already multiplied by the base ``init_std``); gains start at 1."""
    lr: float
    eps: float
    weight_decay: float
    """Multiplier of the base weight decay (0 = never decayed)."""


def residual_scale(config: ModelConfig) -> float:
    """Multiplier of every residual branch: ``m_L ** -alpha`` (1 for the standard parameterization)."""
    if config.parameterization == "standard":
        return 1.0
    return config.depth_multiplier ** -config.residual_alpha


def output_scale(config: ModelConfig) -> float:
    """Multiplier of the final hidden state before the readout: ``1 / m_d`` (1 for standard)."""
    if config.parameterization == "standard":
        return 1.0
    return 1.0 / config.width_multiplier


def group_scales(config: ModelConfig, kind: ParamKind) -> GroupScales:
    """Init std and lr/eps/weight-decay multipliers of ``kind`` under ``config.parameterization``."""
    s = config.init_std
    decayed = kind in (ParamKind.HIDDEN, ParamKind.UNEMBEDDING)
    if config.parameterization == "standard":
        return GroupScales(init_std=s, lr=1.0, eps=1.0, weight_decay=1.0 if decayed else 0.0)
    m_d, m_l, alpha = config.width_multiplier, config.depth_multiplier, config.residual_alpha
    if kind == ParamKind.HIDDEN:
        lr = m_d**-1 * m_l ** (alpha - 1)
        return GroupScales(init_std=s * m_d**-0.5, lr=lr, eps=m_d**-1 * m_l**-alpha, weight_decay=m_d)
    if kind in (ParamKind.EMBEDDING, ParamKind.UNEMBEDDING):
        return GroupScales(init_std=s, lr=1.0, eps=m_d**-1, weight_decay=1.0 if decayed else 0.0)
    if kind == ParamKind.BLOCK_NORM:
        return GroupScales(init_std=s, lr=m_l ** (alpha - 1), eps=m_d**-1 * m_l**-alpha, weight_decay=0.0)
    if kind == ParamKind.QK_NORM:
        return GroupScales(init_std=s, lr=m_l ** (alpha - 1), eps=m_l**-alpha, weight_decay=0.0)
    if kind == ParamKind.FINAL_NORM:
        return GroupScales(init_std=s, lr=1.0, eps=m_d**-1, weight_decay=0.0)
    raise AssertionError(f"unhandled parameter kind {kind}")


def parameter_kind(name: str) -> ParamKind:
    """Kind of a :class:`DiffusionTransformer` parameter from its qualified name.

    Unknown names raise, so a parameter added to the model without a rule here fails loudly.
    """
    if name == "embedding.weight":
        return ParamKind.EMBEDDING
    if name == "output.weight":
        return ParamKind.UNEMBEDDING
    if name == "final_norm.weight":
        return ParamKind.FINAL_NORM
    if name.startswith("blocks."):
        leaf = name.split(".", 2)[2]
        if leaf in ("attention.q_norm.weight", "attention.k_norm.weight"):
            return ParamKind.QK_NORM
        if leaf in ("attention_norm.weight", "ffn_norm.weight"):
            return ParamKind.BLOCK_NORM
        if leaf in ("attention.qkv.weight", "attention.out.weight", "ffn.gate_up.weight", "ffn.down.weight"):
            return ParamKind.HIDDEN
    raise ValueError(f"parameter {name!r} has no CompleteP rule (trimodal_train.model.completep.parameter_kind)")


def param_groups(model: nn.Module, *, lr: float, eps: float, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups with per-kind lr, eps and weight decay (see the module docstring).

    ``lr``, ``eps`` and ``weight_decay`` are the base values (tuned at the base shape, after any batch-size
    reparameterization). Each group also carries ``lr_multiplier`` so that an LR schedule can set
    ``group["lr"] = schedule_lr * group["lr_multiplier"]``, and ``name`` (the kind) for logging. Empty groups
    are left out; tied weights appear once.
    """
    config: ModelConfig = model.config  # type: ignore[assignment]
    by_kind: dict[ParamKind, list[nn.Parameter]] = {}
    for name, param in model.named_parameters():  # named_parameters() yields a tied tensor once
        if param.requires_grad:
            by_kind.setdefault(parameter_kind(name), []).append(param)
    groups = []
    for kind in ParamKind:
        if kind not in by_kind:
            continue
        scales = group_scales(config, kind)
        groups.append(
            {
                "params": by_kind[kind],
                "name": kind.value,
                "lr": lr * scales.lr,
                "lr_multiplier": scales.lr,
                "eps": eps * scales.eps,
                "weight_decay": weight_decay * scales.weight_decay,
            }
        )
    return groups
