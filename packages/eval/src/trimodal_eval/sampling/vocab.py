"""Vocabulary classes: which global ids a target position may take, and the restricted logits of each class.

Every target position carries a *class* (``class_BL``, int64); the sampler gathers the logits of the class's
ids only (``W`` = the widest class in the batch, shorter classes padded with ``-inf``; one ``index_select``
per contiguous run of ids), samples an index in that restricted axis and maps it back through ``ids_CW``.
Restriction is therefore exact (no id outside the class can be drawn) and makes sampling cost scale with the
class width, not the whole tri-modal vocabulary.

Classes (ids from the :class:`~trimodal_core.TokenSpace`, intersected with the model's ``allowed_mask_MV``
when it has one):

=================== ==========================================================================
``SPECIAL`` (0)     nothing (never a target)
``TEXT`` (1)        the text range plus the maskable text specials (``eot``): text that may end
``IMAGE`` (2)       the image range
``AUDIO`` (3)       the whole audio range (every codebook)
``TEXT_CONTENT`` (4) the text range only (an infilled middle, or text before a minimum length)
``AUDIO_BOOK + k``  the range of audio codebook ``k`` (the position's own codebook; [ours]: the model's
                    ``allowed_mask_MV`` allows every codebook at every audio position)
=================== ==========================================================================

With ``restrict=False`` every class is "every id except ``pad`` and ``mask``" (for ablations).
"""

from __future__ import annotations

import dataclasses

import torch

from trimodal_core import Modality, TokenSpace

SPECIAL, TEXT, IMAGE, AUDIO, TEXT_CONTENT, AUDIO_BOOK = 0, 1, 2, 3, 4, 5
CLASS_OF_MODALITY = {Modality.TEXT: TEXT, Modality.IMAGE: IMAGE, Modality.AUDIO: AUDIO}


@dataclasses.dataclass(frozen=True, kw_only=True)
class VocabClasses:
    """Id lists of every class, padded to one width."""

    ids_CW: torch.Tensor
    """Global ids of each class (int64), padded with 0."""
    valid_CW: torch.Tensor
    """True on real entries of ``ids_CW``."""
    width_C: torch.Tensor
    """Number of ids of each class (int64)."""
    runs: tuple[tuple[tuple[int, int, int], ...], ...]
    """Per class, its ids as contiguous runs ``(first id, length, offset in the class)``."""

    def to(self, device: torch.device) -> VocabClasses:
        return VocabClasses(ids_CW=self.ids_CW.to(device), valid_CW=self.valid_CW.to(device),
                            width_C=self.width_C.to(device), runs=self.runs)

    def gather(self, sources: list[torch.Tensor], source_n: torch.Tensor, row_n: torch.Tensor,
               class_n: torch.Tensor, width: int) -> torch.Tensor:
        """``[N, width]`` logits of each position's class ids (``-inf`` on padding entries).

        Position ``n`` reads row ``row_n[n]`` of the flat ``[X, V]`` logits ``sources[source_n[n]]``; positions
        must be sorted by (class, source). Each contiguous run of a class's ids is one ``index_select`` into
        a view of the output: one copy of the restricted logits, no full-vocabulary intermediate.
        """
        n = int(row_n.shape[0])
        out_NW = torch.empty(n, width, dtype=torch.float32, device=row_n.device)
        if n == 0:
            return out_NW
        keys = class_n * len(sources) + source_n
        segments, counts = torch.unique_consecutive(keys, return_counts=True)
        start = 0
        for key, count in zip(segments.tolist(), counts.tolist(), strict=True):
            c, s = divmod(key, len(sources))
            if not self.runs[c]:
                raise ValueError(f"vocabulary class {c} has no ids but is a target class")
            rows = row_n[start: start + count]
            block = out_NW[start: start + count]
            for first, length, offset in self.runs[c]:
                torch.index_select(sources[s].narrow(1, first, length), 0, rows, out=block.narrow(1, offset, length))
            filled = int(self.width_C[c])
            if filled < width:
                block[:, filled:] = float("-inf")
            start += count
        return out_NW

    def global_ids(self, class_N: torch.Tensor, index_N: torch.Tensor) -> torch.Tensor:
        """Global ids of restricted indices ``index_N`` of classes ``class_N``."""
        return self.ids_CW[class_N, index_N]


def build_vocab_classes(
    token_space: TokenSpace,
    *,
    allowed_mask_MV: torch.Tensor | None = None,
    maskable_specials: tuple[str, ...] = ("eot",),
    restrict: bool = True,
) -> VocabClasses:
    """The classes of the module table for ``token_space`` (the model's ``allowed_mask_MV`` narrows them)."""
    v = token_space.vocab_size
    if allowed_mask_MV is not None and tuple(allowed_mask_MV.shape) != (4, v):
        raise ValueError(f"allowed_mask_MV has shape {tuple(allowed_mask_MV.shape)}, expected (4, {v})")

    def span(start: int, stop: int) -> torch.Tensor:
        mask = torch.zeros(v, dtype=torch.bool)
        mask[start:stop] = True
        return mask

    text = span(*token_space.id_range(Modality.TEXT))
    text_with_end = text.clone()
    if "eot" in maskable_specials:
        text_with_end[token_space.special_id("eot")] = True
    num_books = token_space.config.audio_num_codebooks
    masks = [torch.zeros(v, dtype=torch.bool), text_with_end, span(*token_space.id_range(Modality.IMAGE)),
             span(*token_space.id_range(Modality.AUDIO)), text]
    masks += [span(*token_space.id_range(Modality.AUDIO, codebook=k)) for k in range(num_books)]
    if allowed_mask_MV is not None:
        allowed = allowed_mask_MV.to("cpu", torch.bool)
        of = [Modality.SPECIAL, Modality.TEXT, Modality.IMAGE, Modality.AUDIO, Modality.TEXT]
        of += [Modality.AUDIO] * num_books
        masks = [m & allowed[int(mod)] if i else m for i, (m, mod) in enumerate(zip(masks, of, strict=True))]
    if not restrict:
        everything = torch.ones(v, dtype=torch.bool)
        everything[[token_space.pad_id, token_space.mask_id]] = False
        masks = [masks[0]] + [everything] * (len(masks) - 1)
    width = max(int(m.sum()) for m in masks)
    ids_CW = torch.zeros(len(masks), width, dtype=torch.int64)
    valid_CW = torch.zeros(len(masks), width, dtype=torch.bool)
    for c, m in enumerate(masks):
        ids = m.nonzero().squeeze(-1)
        ids_CW[c, : len(ids)] = ids
        valid_CW[c, : len(ids)] = True
    return VocabClasses(ids_CW=ids_CW, valid_CW=valid_CW, width_C=valid_CW.sum(-1),
                        runs=tuple(_runs(m.nonzero().squeeze(-1).tolist()) for m in masks))


def _runs(ids: list[int]) -> tuple[tuple[int, int, int], ...]:
    """Sorted ids as ``(first, length, offset)`` runs of consecutive values."""
    runs: list[tuple[int, int, int]] = []
    for offset, i in enumerate(ids):
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, runs[-1][2])
        else:
            runs.append((i, 1, offset))
    return tuple(runs)
