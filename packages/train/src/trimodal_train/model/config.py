"""``ModelConfig``: the shape and parameterization of the bidirectional diffusion transformer.

One frozen, keyword-only dataclass holds every architectural choice; :mod:`.presets` names a few of them
(``tiny`` ... ``3b``). The vocabulary size is not part of the config: it comes from the
:class:`trimodal_core.TokenSpace` the model is built for (``build_model(config, token_space)``).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

PARAMETERIZATIONS: tuple[str, ...] = ("completep", "standard")
ATTENTION_BACKENDS: tuple[str, ...] = ("sdpa", "flex")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Shape and parameterization of :class:`~trimodal_train.model.DiffusionTransformer`."""

    d_model: int
    """Width of the residual stream."""
    n_layers: int
    """Number of transformer blocks (each: attention branch + SwiGLU branch)."""
    n_heads: int
    """Attention heads; ``d_model`` must be divisible by it (head dim = ``d_model // n_heads``, even for RoPE)."""
    ffn_hidden: int
    """Hidden width of the SwiGLU feed-forward (gate and up projections each have this many outputs)."""
    max_seq_len: int = 1024
    """Longest sequence the RoPE tables cover; longer inputs raise ``ValueError``."""
    rope_theta: float = 10_000.0
    """RoPE base frequency."""
    norm_eps: float = 1e-6
    """Epsilon of every RMSNorm (pre-norms, QK-norms, final norm)."""
    qk_norm: bool = True
    """RMS-normalize queries and keys per head before RoPE (CompleteP's recipe assumes it)."""
    tie_embeddings: bool = True
    """Share the input embedding table with the output projection ([ours]: saves ``V * d_model`` parameters,
    which dominate small models over a merged tri-modal vocabulary)."""
    restrict_logits: bool = True
    """Give ``-inf`` to ids outside a position's span modality (when ``span_modality_BL`` is passed)."""
    parameterization: Literal["completep", "standard"] = "completep"
    """``completep``: depth- and width-scaled init, residual and output multipliers, per-group lr/eps
    (see :mod:`.completep`); ``standard``: one init std, no multipliers, one lr/eps for every group."""
    residual_alpha: float = 1.0
    """CompleteP depth exponent: residual branches are scaled by ``(n_layers / base_n_layers) ** -alpha``;
    in ``[0.5, 1]`` (1 = CompleteP proper, 0.5 = depth-muP)."""
    base_d_model: int = 256
    """Width of the reference model whose hyperparameters transfer (CompleteP ``m_d = d_model / base_d_model``)."""
    base_n_layers: int = 4
    """Depth of the reference model (CompleteP ``m_L = n_layers / base_n_layers``)."""
    init_std: float = 0.02
    """Init std at the base width (hidden matrices get ``init_std / sqrt(m_d)`` under CompleteP)."""
    attention: Literal["sdpa", "flex"] = "sdpa"
    """Attention kernel: ``sdpa`` (boolean mask from document ids) or ``flex`` (block mask); see
    :mod:`.attention` for the measurement behind the default."""

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "ffn_hidden", "max_seq_len", "base_d_model", "base_n_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"ModelConfig.d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if (self.d_model // self.n_heads) % 2:
            raise ValueError(f"ModelConfig head dim {self.d_model // self.n_heads} must be even for RoPE")
        for name in ("rope_theta", "norm_eps", "init_std"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ModelConfig.{name} must be positive, got {getattr(self, name)!r}")
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"ModelConfig.parameterization must be one of {PARAMETERIZATIONS}, got {self.parameterization!r}"
            )
        if not 0.5 <= self.residual_alpha <= 1.0:
            raise ValueError(f"ModelConfig.residual_alpha must be in [0.5, 1], got {self.residual_alpha!r}")
        if self.attention not in ATTENTION_BACKENDS:
            raise ValueError(f"ModelConfig.attention must be one of {ATTENTION_BACKENDS}, got {self.attention!r}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def width_multiplier(self) -> float:
        """CompleteP ``m_d = d_model / base_d_model``."""
        return self.d_model / self.base_d_model

    @property
    def depth_multiplier(self) -> float:
        """CompleteP ``m_L = n_layers / base_n_layers``."""
        return self.n_layers / self.base_n_layers
