"""``DiffusionTransformer``: the bidirectional denoiser over the unified token space, and ``build_model``.

``tokens_BL`` -> embedding -> ``n_layers`` pre-norm blocks -> RMSNorm -> readout -> ``logits_BLV`` (float32):

    h_0 = E[tokens]
    h_{l+1}' = h_l + r * Attn(RMSNorm(h_l))           r = m_L^-alpha (CompleteP) or 1 (standard)
    h_{l+1}  = h_{l+1}' + r * SwiGLU(RMSNorm(h_{l+1}'))
    logits   = W_out (RMSNorm(h_L) * c)                c = 1/m_d (CompleteP) or 1; W_out = E when tied
    logits[b, i, v] = -inf unless allowed_mask_MV[span_modality[b, i], v]

(:mod:`.readout`; with ``select_BL`` only the selected positions' logits, over their modality's ids.)

The network takes no time input (masked diffusion: it sees the mask ratio). The readout runs in the compute
dtype (bf16 under autocast) and the logits are returned as float32.

Meta-device builds (for parameter counts or FSDP2) are supported: ``build_model(..., device="meta")``, then
``model.to_empty(device=...)`` and ``model.init_weights()``, which also recomputes the non-persistent
buffers (RoPE tables and ``allowed_mask_MV``).
"""

from __future__ import annotations

import torch
from torch import nn

from trimodal_core.token_space import Modality, TokenSpace
from trimodal_train.model import completep
from trimodal_train.model.attention import Attention, build_attention_mask
from trimodal_train.model.config import ModelConfig
from trimodal_train.model.layers import Embedding, Linear, RMSNorm, SwiGLU, rope_tables
from trimodal_train.model.logit_masks import DEFAULT_MASKABLE_SPECIALS, allowed_mask_MV
from trimodal_train.model.readout import SelectedLogits, dense_logits, selected_logits


class Block(nn.Module):
    """One pre-norm block: scaled attention branch, then scaled SwiGLU branch."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.residual_scale = completep.residual_scale(config)
        self.attention_norm = RMSNorm(config.d_model, config.norm_eps)
        self.attention = Attention(config)
        self.ffn_norm = RMSNorm(config.d_model, config.norm_eps)
        self.ffn = SwiGLU(config.d_model, config.ffn_hidden)

    def forward(self, x_BLD: torch.Tensor, rope_2LK: torch.Tensor, mask: object) -> torch.Tensor:
        x_BLD = x_BLD + self.residual_scale * self.attention(self.attention_norm(x_BLD), rope_2LK, mask)
        return x_BLD + self.residual_scale * self.ffn(self.ffn_norm(x_BLD))


class DiffusionTransformer(nn.Module):
    """Bidirectional transformer denoiser; satisfies the eval ``Denoiser`` protocol."""

    rope_2LK: torch.Tensor
    allowed_mask_MV: torch.Tensor
    """Bool ``[4, V]``: ids each span modality may predict (index = ``Modality`` value); public for samplers."""

    def __init__(
        self,
        config: ModelConfig,
        token_space: TokenSpace,
        *,
        maskable_specials: tuple[str, ...] = DEFAULT_MASKABLE_SPECIALS,
    ) -> None:
        super().__init__()
        self.config = config
        self.token_space = token_space
        self.maskable_specials = tuple(maskable_specials)
        self.vocab_size = token_space.vocab_size
        self.output_scale = completep.output_scale(config)
        self.embedding = Embedding(self.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.final_norm = RMSNorm(config.d_model, config.norm_eps)
        self.output = None if config.tie_embeddings else Linear(config.d_model, self.vocab_size)
        self.register_buffer("rope_2LK", torch.empty(2, config.max_seq_len, config.head_dim // 2), persistent=False)
        self.register_buffer(
            "allowed_mask_MV", torch.empty(len(Modality), self.vocab_size, dtype=torch.bool), persistent=False
        )
        if not self.embedding.weight.is_meta:  # meta: nothing to draw; to_empty() then init_weights()
            self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """(Re)initialize every parameter by its CompleteP kind and recompute the buffers."""
        for name, param in self.named_parameters():
            kind = completep.parameter_kind(name)
            if kind in (completep.ParamKind.BLOCK_NORM, completep.ParamKind.QK_NORM, completep.ParamKind.FINAL_NORM):
                nn.init.ones_(param)
            else:
                nn.init.normal_(param, mean=0.0, std=completep.group_scales(self.config, kind).init_std)
        device = self.rope_2LK.device
        cfg = self.config
        self.rope_2LK.copy_(rope_tables(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta, device=device))
        self.allowed_mask_MV.copy_(allowed_mask_MV(self.token_space, self.maskable_specials).to(device))

    def forward(
        self,
        tokens_BL: torch.Tensor,
        *,
        document_ids_BL: torch.Tensor | None = None,
        span_modality_BL: torch.Tensor | None = None,
        select_BL: torch.Tensor | None = None,
    ) -> torch.Tensor | SelectedLogits:
        """Float32 logits ``[B, L, V]`` for every position, or :class:`SelectedLogits` with ``select_BL``.

        Args:
            tokens_BL: int64 global token ids.
            document_ids_BL: int document id per position, ``-1`` on padding; ``None`` = one document per row
                without padding.
            span_modality_BL: ``Modality`` value of each position's span (uint8 or int); with
                ``config.restrict_logits`` a TEXT/IMAGE/AUDIO position gets ``-inf`` outside its modality.
                ``pad`` and ``mask`` are ``-inf`` everywhere regardless.
            select_BL: bool; when given, only these positions' logits, each over its span modality's ids
                (:mod:`.readout`: what the training loss needs, at a fraction of the dense cost).
        """
        length = tokens_BL.shape[1]
        if length > self.config.max_seq_len:
            raise ValueError(f"sequence length {length} exceeds ModelConfig.max_seq_len={self.config.max_seq_len}")
        for name, extra in (("document_ids_BL", document_ids_BL), ("span_modality_BL", span_modality_BL),
                            ("select_BL", select_BL)):
            if extra is not None and extra.shape != tokens_BL.shape:
                raise ValueError(f"{name} has shape {tuple(extra.shape)}, tokens_BL {tuple(tokens_BL.shape)}")
        if (
            self.config.attention == "flex"
            and document_ids_BL is not None
            and tokens_BL.device.type == "cpu"
            and torch.is_grad_enabled()
            and self.embedding.weight.requires_grad
        ):
            raise ValueError(
                "ModelConfig.attention='flex' cannot train on CPU: torch 2.11 has no flex-attention backward on "
                "CPU; use attention='sdpa' (or run flex under torch.no_grad())"
            )
        mask = build_attention_mask(document_ids_BL, self.config.attention)
        h_BLD = self.embedding(tokens_BL)
        for block in self.blocks:
            h_BLD = block(h_BLD, self.rope_2LK, mask)
        h_BLD = self.final_norm(h_BLD) * self.output_scale
        weight_VD = self.embedding.weight if self.output is None else self.output.weight
        if select_BL is not None:
            return selected_logits(h_BLD, weight_VD, self.allowed_mask_MV, span_modality_BL, select_BL,
                                   restrict=self.config.restrict_logits)
        return dense_logits(h_BLD, weight_VD, self.allowed_mask_MV, span_modality_BL,
                            restrict=self.config.restrict_logits)


def build_model(
    config: ModelConfig,
    token_space: TokenSpace,
    *,
    maskable_specials: tuple[str, ...] = DEFAULT_MASKABLE_SPECIALS,
    device: torch.device | str | None = None,
) -> DiffusionTransformer:
    """Build and initialize a model for ``token_space`` (weights drawn from torch's global RNG).

    ``maskable_specials`` must equal ``DiffusionConfig.maskable_specials`` of the run (the trainer and
    ``load_model`` pass it). ``device="meta"`` builds without memory (parameter counts, FSDP2 init).
    """
    if device is None:
        return DiffusionTransformer(config, token_space, maskable_specials=maskable_specials)
    with torch.device(device):
        return DiffusionTransformer(config, token_space, maskable_specials=maskable_specials)
