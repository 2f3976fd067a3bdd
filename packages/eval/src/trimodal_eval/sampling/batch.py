"""What the sampler samples: prompt rows with their target positions, and their padded batch.

A :class:`PromptRow` is one formatted sequence (``trimodal_tokenizers.sequence`` layout) whose *target*
positions are to be generated (they hold ``mask``), with per-position span modality (the model's
``span_modality_BL``), vocabulary class (``vocab.py``) and the condition span that classifier-free guidance
masks. Rows may differ in length, in condition length and in target length: :func:`collate` pads them
(``pad`` tokens, document id ``-1``, span ``SPECIAL``) into a :class:`SamplingBatch` and the sampler keeps
per-row spans, steps and counts, never batch averages.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from trimodal_core import Modality


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class PromptRow:
    """One prompt (1-D arrays of the same length)."""

    tokens: np.ndarray
    """Global ids (int64); ``mask`` at target positions."""
    span_modality: np.ndarray
    """Span :class:`~trimodal_core.Modality` per position (uint8)."""
    target: np.ndarray
    """Positions to generate (bool)."""
    vocab_class: np.ndarray
    """Vocabulary class per position (int64, ``vocab.py``; read at target positions)."""
    condition: np.ndarray
    """Condition span positions (bool): replaced by ``mask`` in the unconditional input of guidance."""
    seed: int = 0
    """Row seed: the row's samples depend on (sampler seed, this seed) only."""

    def __post_init__(self) -> None:
        n = len(self.tokens)
        for name in ("span_modality", "target", "vocab_class", "condition"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"PromptRow.{name} has {len(getattr(self, name))} entries, tokens has {n}")
        if np.any(self.target & self.condition):
            raise ValueError("PromptRow: a position is both target and condition")
        if np.any(self.target & (self.span_modality == Modality.SPECIAL)):
            raise ValueError("PromptRow: a target position has span modality SPECIAL")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SamplingBatch:
    """Padded prompt rows (all ``[B, L]`` tensors on one device)."""

    tokens_BL: torch.Tensor
    """int64 ids; ``mask`` at targets, ``pad`` on padding."""
    span_modality_BL: torch.Tensor
    """uint8 span modality (``SPECIAL`` on padding)."""
    document_ids_BL: torch.Tensor
    """int32: 0 on a row's tokens, -1 on padding."""
    target_BL: torch.Tensor
    """bool: positions to generate."""
    class_BL: torch.Tensor
    """int64 vocabulary class."""
    condition_BL: torch.Tensor
    """bool: condition span (guidance masks it)."""
    row_seed_B: torch.Tensor
    """int64 per-row seeds."""

    @property
    def batch_size(self) -> int:
        return int(self.tokens_BL.shape[0])

    def to(self, device: torch.device | str) -> SamplingBatch:
        return SamplingBatch(**{f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)})

    def select(self, rows: list[int]) -> SamplingBatch:
        """The given rows, trimmed to their longest real length (for running rows one by one)."""
        index = torch.as_tensor(rows, dtype=torch.int64, device=self.tokens_BL.device)
        length = int(((self.document_ids_BL[index] >= 0).sum(-1)).max()) if rows else 0
        return SamplingBatch(**{
            f.name: getattr(self, f.name)[index][:, :length] if f.name != "row_seed_B" else self.row_seed_B[index]
            for f in dataclasses.fields(self)
        })


def collate(rows: list[PromptRow], *, pad_id: int, device: torch.device | str = "cpu") -> SamplingBatch:
    """Left-aligned, right-padded batch of ``rows``."""
    if not rows:
        raise ValueError("collate: no rows")
    b, length = len(rows), max(len(r.tokens) for r in rows)
    tokens = np.full((b, length), pad_id, dtype=np.int64)
    span = np.zeros((b, length), dtype=np.uint8)
    docs = np.full((b, length), -1, dtype=np.int32)
    target = np.zeros((b, length), dtype=bool)
    klass = np.zeros((b, length), dtype=np.int64)
    cond = np.zeros((b, length), dtype=bool)
    for i, r in enumerate(rows):
        n = len(r.tokens)
        tokens[i, :n], span[i, :n], docs[i, :n] = r.tokens, r.span_modality, 0
        target[i, :n], klass[i, :n], cond[i, :n] = r.target, r.vocab_class, r.condition
    return SamplingBatch(
        tokens_BL=torch.from_numpy(tokens).to(device),
        span_modality_BL=torch.from_numpy(span).to(device),
        document_ids_BL=torch.from_numpy(docs).to(device),
        target_BL=torch.from_numpy(target).to(device),
        class_BL=torch.from_numpy(klass).to(device),
        condition_BL=torch.from_numpy(cond).to(device),
        row_seed_B=torch.tensor([r.seed for r in rows], dtype=torch.int64, device=device),
    )
