"""The batch the trainer consumes: one rank's rows of one global step, as torch tensors."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch


@dataclasses.dataclass(frozen=True)
class Batch:
    """One rank's share of a global batch. Shapes: B = rows on this rank, L = ``seq_len``."""

    step: int
    """Index of the global batch this slice belongs to (0-based)."""
    tokens_BL: torch.Tensor
    """Global token ids (int64); padding is the pad id."""
    modality_BL: torch.Tensor
    """Per-token :class:`trimodal_core.Modality` (uint8); padding is SPECIAL."""
    loss_mask_BL: torch.Tensor
    """True on real tokens, False on padding (bool)."""
    document_ids_BL: torch.Tensor
    """Document number inside the row (int32, 0, 1, ... for packed text; 0 for pairs); -1 on padding."""
    component_B: torch.Tensor
    """Mixture component index of each row (int64), into ``MixtureLoader.component_names``."""

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> Batch:
        # Arrays are built in numpy by the workers; from_numpy shares their memory (no torch ops here).
        return cls(
            step=int(arrays["step"]),
            tokens_BL=torch.from_numpy(arrays["tokens_BL"]),
            modality_BL=torch.from_numpy(arrays["modality_BL"]),
            loss_mask_BL=torch.from_numpy(arrays["loss_mask_BL"]),
            document_ids_BL=torch.from_numpy(arrays["document_ids_BL"]),
            component_B=torch.from_numpy(arrays["component_B"]),
        )

    @property
    def num_tokens(self) -> int:
        """Real (non-padding) tokens in this slice."""
        mask = self.loss_mask_BL
        # numpy on CPU: a torch reduction may wake an OpenMP pool, which is slow on small, busy machines.
        return int(np.count_nonzero(mask.numpy())) if mask.device.type == "cpu" else int(mask.sum())
