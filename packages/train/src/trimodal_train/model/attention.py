"""Bidirectional multi-head self-attention limited to each position's document.

Packed text rows hold several documents; pair rows hold one example and padding. ``document_ids_BL`` gives
each position its document (``-1`` on padding) and a query may attend to a key only when both carry the same
id: ``allowed[b, q, k] = doc[b, q] == doc[b, k]``. Real tokens therefore never see padding, and padding
queries see only padding, so no query row is ever fully masked (no NaN from an all ``-inf`` softmax) while
padding outputs stay finite and never reach a real token. ``document_ids_BL=None`` means one document per
row and no padding (full attention, the fastest kernels).

Per head (head dim ``h``): ``q, k = RoPE(RMSNorm(q)), RoPE(RMSNorm(k))`` (QK-norm, optional), then
``softmax(q k^T / sqrt(h) + mask) v``. The scale stays ``1/sqrt(h)`` under CompleteP as well: the presets
grow width by adding heads at a fixed head dim, where muP's ``1/h`` and ``1/sqrt(h)`` differ only by a
constant [ours].

Kernels (``ModelConfig.attention``), measured by ``bench/bench_attention.py`` (bench/RESULTS.md; CPU, 2
cores, batch 4, 8 heads of 64, packed documents of mean length 128):

* ``sdpa`` (default): ``F.scaled_dot_product_attention`` with a boolean ``[B, 1, L, L]`` mask. On CPU it
  trains and infers with the fused CPU kernel. An additive float mask ran at the same speed (0.90-1.08x of
  boolean, within the noise of a loaded machine) and takes 4x the memory in float32, so the mask is boolean.
  On CUDA a mask selects the memory-efficient kernel (flash takes no mask) and ``document_ids_BL=None`` the
  flash kernel; there, the dense mask costs the full ``L^2`` work of every row.
* ``flex``: ``torch.nn.attention.flex_attention`` (compiled) with a block mask from the document ids. Its
  CPU forward ran at 1.16x (L=512) and 0.93x (L=1024) the time of SDPA's, and ``create_block_mask`` took
  87-187 ms per step against 1-4 ms for the boolean mask. In torch 2.11 it has **no backward on CPU**
  (training with it there raises ``ValueError``). On GPU it skips fully masked blocks, so for long rows
  packed with many short documents it is expected to beat the dense-mask memory-efficient kernel (about
  ``L / mean document length`` less attention work); not measured here, no GPU was lent.

Why ``sdpa`` is the default: it is the only kernel that trains on every device we test on (CI is CPU-only),
needs no compilation, is exact for our masks and was as fast as flex on CPU. Switch a GPU run with long
packed rows to ``flex`` with one field, after measuring it with the bench script on that GPU.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trimodal_train.model.config import ModelConfig
from trimodal_train.model.layers import Linear, RMSNorm, apply_rope


def document_mask_B1LL(document_ids_BL: torch.Tensor) -> torch.Tensor:
    """Boolean SDPA mask: True where query and key share a document id (padding ``-1`` only sees padding)."""
    return (document_ids_BL[:, :, None] == document_ids_BL[:, None, :]).unsqueeze(1)


@functools.cache
def _compiled_flex_attention() -> Any:
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def document_block_mask(document_ids_BL: torch.Tensor) -> Any:
    """Flex-attention ``BlockMask`` with the same rule as :func:`document_mask_B1LL`."""
    from torch.nn.attention.flex_attention import create_block_mask

    doc_BL = document_ids_BL

    def same_document(b: torch.Tensor, h: torch.Tensor, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return doc_BL[b, q] == doc_BL[b, k]

    batch, length = doc_BL.shape
    return create_block_mask(same_document, batch, None, length, length, device=doc_BL.device)


def build_attention_mask(document_ids_BL: torch.Tensor | None, backend: str) -> Any:
    """The mask object one forward pass shares across its layers (``None`` = full attention)."""
    if document_ids_BL is None:
        return None
    if backend == "flex":
        return document_block_mask(document_ids_BL)
    return document_mask_B1LL(document_ids_BL)


class Attention(nn.Module):
    """Fused-QKV attention with optional QK-norm and RoPE."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.head_dim = config.head_dim
        self.backend = config.attention
        self.qkv = Linear(config.d_model, 3 * config.d_model)
        self.out = Linear(config.d_model, config.d_model)
        self.q_norm = RMSNorm(self.head_dim, config.norm_eps) if config.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim, config.norm_eps) if config.qk_norm else None

    def forward(self, x_BLD: torch.Tensor, rope_2LK: torch.Tensor, mask: Any) -> torch.Tensor:
        batch, length, width = x_BLD.shape
        qkv_BL3HK = self.qkv(x_BLD).view(batch, length, 3, self.n_heads, self.head_dim)
        q_BHLK, k_BHLK, v_BHLK = qkv_BL3HK.permute(2, 0, 3, 1, 4).unbind(0)
        if self.q_norm is not None and self.k_norm is not None:
            q_BHLK, k_BHLK = self.q_norm(q_BHLK), self.k_norm(k_BHLK)
        q_BHLK, k_BHLK = apply_rope(q_BHLK, rope_2LK), apply_rope(k_BHLK, rope_2LK)
        scale = 1.0 / math.sqrt(self.head_dim)
        if self.backend == "flex" and mask is not None:
            if v_BHLK.dtype != q_BHLK.dtype:  # RoPE returns the input dtype; v may differ under autocast
                v_BHLK = v_BHLK.to(q_BHLK.dtype)
            y_BHLK = _compiled_flex_attention()(q_BHLK, k_BHLK, v_BHLK.contiguous(), block_mask=mask, scale=scale)
        else:
            y_BHLK = F.scaled_dot_product_attention(q_BHLK, k_BHLK, v_BHLK, attn_mask=mask, scale=scale)
        return self.out(y_BHLK.transpose(1, 2).reshape(batch, length, width))
