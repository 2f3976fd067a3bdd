"""The readout from the final hidden states to logits: dense ``[B, L, V]``, or only where the loss needs them.

Dense (what samplers and likelihood estimates use)::

    logits[b, i, v] = <h[b, i], W[v]>          -inf unless allowed_mask_MV[span_modality[b, i], v]

Selected (what training uses, ``RunConfig.readout="masked"``): the masked-diffusion loss reads the logits of
masked positions only, and with ``restrict_logits`` a position's softmax runs over the ids its span modality
allows (every other id has logit ``-inf``, so probability exactly 0). For a selection ``S`` of positions
(the masked ones), grouped by span modality ``m`` with allowed ids ``A_m`` (ascending)::

    logits_m[n, k] = <h[S_m[n]], W[A_m[k]]>     n < |S_m|, k < |A_m|

``log_softmax(logits_m)[n, k]`` equals the dense ``log_softmax(logits)[S_m[n], A_m[k]]`` (the ``-inf``
entries add ``exp(-inf) = 0`` to the normalizer), so the loss and its gradients are those of the dense
readout up to float summation order, at ``|S_m| * |A_m|`` instead of ``B * L * V`` multiply-adds. In the
demo's training batches about 21% of the positions are masked and a text position needs 4,097 of 5,898 ids,
an image position 240 (4.2x less CPU per step than dense there: ``bench/bench_trainer_step.py``). Without
``restrict_logits`` (or without span modalities) every selected position is one group over all ids but ``pad``
and ``mask``.

An empty selection still returns one (empty) group, so the output weight stays in the autograd graph and
DDP sees a gradient for it.
"""

from __future__ import annotations

import dataclasses

import torch

from trimodal_core.token_space import Modality


@dataclasses.dataclass(frozen=True)
class LogitGroup:
    """Logits of the selected positions of one span modality over that modality's ids."""

    modality: int
    """``Modality`` value of the group's span (``SPECIAL`` when logits are not restricted)."""
    index_N: torch.Tensor
    """int64 flat positions ``b * L + i`` of the group's rows, ascending."""
    ids_V: torch.Tensor
    """int64 global ids the columns stand for, ascending."""
    logits_NV: torch.Tensor
    """float32 ``[len(index_N), len(ids_V)]``."""

    def columns(self, ids_N: torch.Tensor, vocab_size: int) -> torch.Tensor:
        """int64 column of each global id in ``ids_N`` (``-1`` where the group has no column for it)."""
        column_V = torch.full((vocab_size,), -1, dtype=torch.long, device=ids_N.device)
        column_V[self.ids_V] = torch.arange(self.ids_V.numel(), device=ids_N.device)
        return column_V[ids_N]

    def targets(self, targets_BL: torch.Tensor, vocab_size: int) -> torch.Tensor:
        """The group's rows' targets as columns (``-1``: a target the group cannot predict)."""
        return self.columns(targets_BL.reshape(-1)[self.index_N], vocab_size)

    def target_nll(self, targets_BL: torch.Tensor, vocab_size: int) -> torch.Tensor:
        """float32 ``-log p(target)`` of the group's rows (``+inf`` for a target it gives probability 0)."""
        column_N = self.targets(targets_BL, vocab_size)
        ce_N = torch.nn.functional.cross_entropy(self.logits_NV.float(), column_N.clamp(min=0), reduction="none")
        return torch.where(column_N >= 0, ce_N, torch.inf)


@dataclasses.dataclass(frozen=True)
class SelectedLogits:
    """The readout at selected positions (module docstring); ``groups`` partition the selection."""

    groups: tuple[LogitGroup, ...]
    shape_BL: tuple[int, int]
    vocab_size: int

    @property
    def num_positions(self) -> int:
        return sum(int(g.index_N.numel()) for g in self.groups)


def dense_logits(h_BLD: torch.Tensor, weight_VD: torch.Tensor, allowed_MV: torch.Tensor,
                 span_modality_BL: torch.Tensor | None, *, restrict: bool) -> torch.Tensor:
    """Float32 ``[B, L, V]`` logits, ``-inf`` outside each position's allowed ids."""
    logits_BLV = torch.nn.functional.linear(h_BLD, weight_VD).float()
    if restrict and span_modality_BL is not None:
        allowed = allowed_MV[span_modality_BL.long()]  # [B, L, V]; long: uint8 would index as bool
    else:
        allowed = allowed_MV[Modality.SPECIAL]  # [V]: only pad and mask removed
    return logits_BLV.masked_fill(~allowed, float("-inf"))


def selected_logits(h_BLD: torch.Tensor, weight_VD: torch.Tensor, allowed_MV: torch.Tensor,
                    span_modality_BL: torch.Tensor | None, select_BL: torch.Tensor, *,
                    restrict: bool) -> SelectedLogits:
    """Logits of the positions where ``select_BL`` is True, per span modality over its allowed ids."""
    if select_BL.shape != h_BLD.shape[:2]:
        raise ValueError(f"select_BL has shape {tuple(select_BL.shape)}, hidden states {tuple(h_BLD.shape[:2])}")
    if select_BL.dtype != torch.bool:
        raise ValueError(f"select_BL must be a bool tensor, got {select_BL.dtype}")
    B, L, D = h_BLD.shape
    h_ND = h_BLD.reshape(B * L, D)
    select_N = select_BL.reshape(-1)
    if restrict and span_modality_BL is not None:
        codes_N = span_modality_BL.reshape(-1).long()
        modalities = [int(m) for m in Modality]
    else:
        codes_N = torch.full_like(select_N, int(Modality.SPECIAL), dtype=torch.long)
        modalities = [int(Modality.SPECIAL)]
    groups: list[LogitGroup] = []
    for m in modalities:
        index_N = torch.nonzero(select_N & (codes_N == m)).squeeze(1)
        if index_N.numel() == 0:
            continue
        groups.append(_group(m, index_N, h_ND, weight_VD, allowed_MV))
    if not groups:  # keep the readout weight in the graph (zero gradient), for DDP
        empty = torch.zeros(0, dtype=torch.long, device=h_BLD.device)
        groups.append(_group(int(Modality.SPECIAL), empty, h_ND, weight_VD, allowed_MV))
    return SelectedLogits(groups=tuple(groups), shape_BL=(B, L), vocab_size=int(weight_VD.shape[0]))


def _group(modality: int, index_N: torch.Tensor, h_ND: torch.Tensor, weight_VD: torch.Tensor,
           allowed_MV: torch.Tensor) -> LogitGroup:
    ids_V = torch.nonzero(allowed_MV[modality]).squeeze(1)
    logits_NV = torch.nn.functional.linear(h_ND[index_N], weight_VD[ids_V]).float()
    return LogitGroup(modality=modality, index_N=index_N, ids_V=ids_V, logits_NV=logits_NV)
