"""Small building blocks of the transformer: RMSNorm, rotary position embeddings and the SwiGLU feed-forward.

Formulas (``x`` one token's vector, ``d`` its width):

* RMSNorm: ``y = g * x / sqrt(mean(x ** 2) + eps)``, computed in float32 and cast back (bf16-safe).
* RoPE ("rotate half" layout): for head dim ``h`` and frequency ``f_j = theta ** (-2j / h)``, ``j < h/2``,
  position ``p`` rotates the pair ``(x_j, x_{j+h/2})`` by the angle ``p * f_j``:
  ``(x_j cos - x_{j+h/2} sin, x_{j+h/2} cos + x_j sin)``. Attention only sees relative positions, so packed
  documents need no per-document position reset (attention never crosses a document boundary).
* SwiGLU: ``FFN(x) = W_down (silu(W_gate x) * (W_up x))``; gate and up share one fused matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Linear(nn.Module):
    """Bias-free ``y = x W^T`` whose weight is left uninitialized (the model's ``init_weights`` draws it).

    ``nn.Linear`` initializes in its constructor, which on the ``meta`` device goes through torch's
    reference ops and imports ``torch._dynamo`` (about a minute on a loaded 2-core machine); the weight is
    re-drawn by the CompleteP rules anyway.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class Embedding(nn.Module):
    """Lookup table ``E[ids]`` left uninitialized, for the same reason as :class:`Linear`."""

    def __init__(self, num_embeddings: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_embeddings, dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


class RMSNorm(nn.Module):
    """Root-mean-square normalization with a learnable gain (initialised to one)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return (y * self.weight.float()).to(x.dtype)


def rope_tables(head_dim: int, max_seq_len: int, theta: float, device: torch.device | None = None) -> torch.Tensor:
    """Cosine and sine tables, stacked as ``[2, max_seq_len, head_dim // 2]`` float32."""
    freqs_K = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim)
    angles_LK = torch.arange(max_seq_len, dtype=torch.float64, device=device)[:, None] * freqs_K[None, :]
    return torch.stack([angles_LK.cos(), angles_LK.sin()]).float()


def apply_rope(x_BHLK: torch.Tensor, tables_2LK: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys ``[B, H, L, head_dim]`` by their position (float32 math, input dtype out)."""
    length = x_BHLK.shape[-2]
    cos_LK, sin_LK = tables_2LK[0, :length], tables_2LK[1, :length]
    x1, x2 = x_BHLK.float().chunk(2, dim=-1)
    out = torch.cat([x1 * cos_LK - x2 * sin_LK, x2 * cos_LK + x1 * sin_LK], dim=-1)
    return out.to(x_BHLK.dtype)


class SwiGLU(nn.Module):
    """Gated feed-forward ``W_down(silu(W_gate x) * W_up x)`` without biases."""

    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.gate_up = Linear(d_model, 2 * hidden)
        self.down = Linear(hidden, d_model)

    def forward(self, x_BLD: torch.Tensor) -> torch.Tensor:
        gate_BLF, up_BLF = self.gate_up(x_BLD).chunk(2, dim=-1)
        return self.down(F.silu(gate_BLF) * up_BLF)
