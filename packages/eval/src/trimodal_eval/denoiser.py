"""The model interface every sampler and likelihood estimate is written against.

A denoiser maps a partially masked token sequence to per-position logits over the whole vocabulary. It takes
no time input: masked diffusion models see the mask ratio in the input itself, so the same input always gives
the same logits (samplers rely on that to reuse logits when no token changed).
``trimodal_train.model.DiffusionTransformer`` satisfies the protocol; tests use tiny oracle or
known-distribution denoisers.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Denoiser(Protocol):
    """``(tokens_BL, document_ids_BL, span_modality_BL) -> logits_BLV`` (float32)."""

    def __call__(
        self,
        tokens_BL: torch.Tensor,
        *,
        document_ids_BL: torch.Tensor | None = None,
        span_modality_BL: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``[B, L, V]`` for int64 ``tokens_BL``.

        Args:
            tokens_BL: global token ids; ``mask`` marks positions to predict, ``pad`` is padding.
            document_ids_BL: int32 document id per position (attention stays inside a document; ``-1`` is
                padding, never attended to).
            span_modality_BL: uint8 :class:`~trimodal_core.Modality` of the span each position belongs to;
                with it the model gives ``-inf`` to ids outside that modality.
        """
        ...


def allowed_mask_of(denoiser: object) -> torch.Tensor | None:
    """The denoiser's ``allowed_mask_MV`` (bool ``[4, V]``: ids each span modality may emit), if it has one."""
    mask = getattr(denoiser, "allowed_mask_MV", None)
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.ndim != 2 or mask.shape[0] != 4:
        raise TypeError(f"denoiser.allowed_mask_MV must be a bool tensor [4, V], got {type(mask).__name__}")
    return mask
