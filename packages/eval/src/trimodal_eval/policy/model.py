"""The unmasking policy network (arXiv 2512.09106): one adaLN DiT block over the generation buffer.

Inputs per target position ``j`` of a row: the base model's top-1 confidence ``c_j`` (1 at unmasked
positions), the mask indicator ``m_j`` and the row's time ``t = steps_taken / L``. With width ``D``::

    x_j   = W_in c_j + b_in                                    (Linear 1 -> D)
    e     = MLP(sin/cos(t * s * w_k)),  w_k = theta^(-k / (F/2))  (F frequencies, s = time_scale; SiLU MLP)
    cond_j = E[m_j] + e                                        (mask-state embedding plus time)
    (a1, b1, g1, a2, b2, g2) = W_ada SiLU(cond_j) + b_ada      (adaLN, zero-initialized)
    x_j  <- x_j + g1 * Attn(LN(x)(1 + b1) + a1)_j              (2 heads, RoPE on positions j, padding masked)
    x_j  <- x_j + g2 * FFN(LN(x)(1 + b2) + a2)_j               (GELU, hidden 4D)
    logit_j = w_out . LN_out(x_j) + b_out,   b_out = -2 at init

Zero-initialized adaLN makes both gates 0, so at initialization the block is the identity and the logit
depends on the confidence through ``W_in`` and the output head only. Parameters with the defaults
(D = 128, F = 128, FFN 512, two mask states):
``2D`` (input) + ``2D`` (mask embedding) + ``2(FD + D)`` (time MLP, F = D) + ``3D^2 + 3D + D^2 + D``
(attention) + ``2 * 4D^2 + 5D`` (FFN) + ``6D^2 + 6D`` (adaLN) + ``2D`` (output LN) + ``D + 1`` = 330,753
(``shared/paper.md``: about 331k). Choices the paper does not state are [ours]: F = 128, ``s = 1000``
(DiT's time scale), GELU (tanh), LayerNorms without affine inside the block, RoPE theta 10,000.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclasses.dataclass(frozen=True, kw_only=True)
class PolicyModelConfig:
    """Shape of the policy network (defaults: the companion's)."""

    width: int = 128
    """Hidden width ``D``."""
    num_heads: int = 2
    """Attention heads."""
    ffn_hidden: int = 512
    """FFN hidden width."""
    time_frequencies: int = 128
    """Sinusoidal features ``F`` of the time input [ours]."""
    time_scale: float = 1000.0
    """``t`` is multiplied by this before the sinusoids [ours: DiT's timestep range]."""
    rope_theta: float = 10_000.0
    """RoPE base [ours]."""
    output_bias: float = -2.0
    """Initial bias of the output logit (``sigmoid(-2) = 0.12``: few positions per step at first)."""
    norm_eps: float = 1e-6
    """LayerNorm epsilon."""

    def __post_init__(self) -> None:
        for name in ("width", "num_heads", "ffn_hidden", "time_frequencies"):
            if getattr(self, name) < 1:
                raise ValueError(f"PolicyModelConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.width % self.num_heads or (self.width // self.num_heads) % 2:
            raise ValueError(f"PolicyModelConfig.width {self.width} must split into {self.num_heads} even heads")
        if self.time_frequencies % 2:
            raise ValueError(f"PolicyModelConfig.time_frequencies must be even, got {self.time_frequencies}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def time_features(time_B: torch.Tensor, config: PolicyModelConfig) -> torch.Tensor:
    """``[cos(t s w_k), sin(t s w_k)]`` (``[B, F]``, float32)."""
    half = config.time_frequencies // 2
    w_K = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=time_B.device) / half)
    angle_BK = time_B.to(torch.float32)[:, None] * config.time_scale * w_K[None]
    return torch.cat([torch.cos(angle_BK), torch.sin(angle_BK)], dim=-1)


def _rope(x_BHTK: torch.Tensor, theta: float) -> torch.Tensor:
    t, k = x_BHTK.shape[-2], x_BHTK.shape[-1]
    inv_K = theta ** (-torch.arange(0, k, 2, dtype=torch.float32, device=x_BHTK.device) / k)
    angle_TK = torch.arange(t, dtype=torch.float32, device=x_BHTK.device)[:, None] * inv_K[None]
    cos, sin = torch.cos(angle_TK).repeat(1, 2), torch.sin(angle_TK).repeat(1, 2)
    first, second = x_BHTK[..., : k // 2], x_BHTK[..., k // 2:]
    return x_BHTK * cos + torch.cat([-second, first], dim=-1) * sin


class PolicyBlock(nn.Module):
    """The adaLN DiT block (``x`` is ``[B, T, D]``, ``cond`` the per-position conditioning ``[B, T, D]``)."""

    def __init__(self, config: PolicyModelConfig) -> None:
        super().__init__()
        d = config.width
        self.config = config
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=config.norm_eps)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=config.norm_eps)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ffn = nn.Sequential(nn.Linear(d, config.ffn_hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(config.ffn_hidden, d))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x_BTD: torch.Tensor, cond_BTD: torch.Tensor, valid_BT: torch.Tensor) -> torch.Tensor:
        a1, b1, g1, a2, b2, g2 = self.ada(cond_BTD).chunk(6, dim=-1)
        b, t, d = x_BTD.shape
        h = self.config.num_heads
        q, k, v = (self.qkv(self.norm1(x_BTD) * (1 + b1) + a1).view(b, t, 3, h, d // h)
                   .permute(2, 0, 3, 1, 4).unbind(0))
        q, k = _rope(q, self.config.rope_theta), _rope(k, self.config.rope_theta)
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=valid_BT[:, None, None, :])
        x_BTD = x_BTD + g1 * self.proj(attn.transpose(1, 2).reshape(b, t, d))
        return x_BTD + g2 * self.ffn(self.norm2(x_BTD) * (1 + b2) + a2)


class PolicyNetwork(nn.Module):
    """One logit per target position (see the module docstring)."""

    def __init__(self, config: PolicyModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or PolicyModelConfig()
        d = config.width
        self.confidence_in = nn.Linear(1, d)
        self.mask_embedding = nn.Embedding(2, d)
        self.time_mlp = nn.Sequential(nn.Linear(config.time_frequencies, d), nn.SiLU(), nn.Linear(d, d))
        self.block = PolicyBlock(config)
        self.out_norm = nn.LayerNorm(d, eps=config.norm_eps)
        self.out = nn.Linear(d, 1)
        nn.init.constant_(self.out.bias, config.output_bias)

    def forward(self, top1_BT: torch.Tensor, mask_BT: torch.Tensor, time_B: torch.Tensor,
                valid_BT: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, T]`` (float32; ``-inf`` on invalid positions)."""
        valid_BT = valid_BT.clone()
        valid_BT[~valid_BT.any(-1), 0] = True  # an empty row still attends somewhere (its logits are unused)
        x_BTD = self.confidence_in(top1_BT.to(torch.float32)[..., None])
        cond_BTD = self.mask_embedding(mask_BT.to(torch.int64)) + self.time_mlp(
            time_features(time_B, self.config))[:, None, :]
        x_BTD = self.block(x_BTD, cond_BTD, valid_BT)
        logits_BT = self.out(self.out_norm(x_BTD)).squeeze(-1)
        return logits_BT.masked_fill(~valid_BT, float("-inf"))


def build_policy(config: PolicyModelConfig | None = None, *, seed: int = 0) -> PolicyNetwork:
    """A freshly initialized policy (fp32) drawn from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return PolicyNetwork(config).to(torch.float32)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
