"""Assemble one rank's batch arrays from a :class:`WorkItem`: vectorized gathers from the memory maps.

Spans are grouped by Arrow record batch and copied with one fancy-index gather per record batch (no
per-token Python), into preallocated rows filled with the pad id. This runs in the loader's workers.
"""

from __future__ import annotations

import numpy as np

from trimodal_core import Modality
from trimodal_train.data.planner import WorkItem
from trimodal_train.data.streams import ShardStore


def _ranges(begins: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(b, b + n)`` for every (b, n), without a Python loop."""
    keep = lengths > 0
    b, n = begins[keep], lengths[keep]
    total = int(n.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    steps = np.ones(total, dtype=np.int64)
    steps[0] = b[0]
    # At each span's first element, jump from the previous span's last element to this span's begin.
    steps[np.cumsum(n)[:-1]] = b[1:] - (b[:-1] + n[:-1] - 1)
    return np.cumsum(steps)


class BatchAssembler:
    """Callable turning work items into dicts of numpy arrays (picklable for worker processes)."""

    def __init__(self, store: ShardStore, *, seq_len: int, pad_id: int, document_attention: bool) -> None:
        self.store = store
        self.seq_len = seq_len
        self.pad_id = pad_id
        self.document_attention = document_attention

    def __call__(self, item: WorkItem) -> dict[str, object]:
        L = self.seq_len
        B = len(item.row_component)
        seg = item.segments
        tokens = np.full(B * L, self.pad_id, dtype=np.int64)
        modality = np.full(B * L, int(Modality.SPECIAL), dtype=np.uint8)
        doc_ids = np.full(B * L, -1, dtype=np.int32)
        lengths = seg.stop - seg.start
        dest_begin = seg.out_row * L + seg.pos
        if len(seg.out_row):
            # Document number within each row: spans are sorted by (row, pos).
            row_start = np.concatenate([[True], seg.out_row[1:] != seg.out_row[:-1]])
            idx = np.arange(len(seg.out_row))
            doc_of_seg = idx - np.maximum.accumulate(np.where(row_start, idx, 0))
            if not self.document_attention:
                doc_of_seg = np.zeros_like(doc_of_seg)
            doc_ids[_ranges(dest_begin, lengths)] = np.repeat(doc_of_seg, lengths).astype(np.int32)
        for shard_id in np.unique(seg.shard):
            sel = np.flatnonzero(seg.shard == shard_id)
            data = self.store.get(int(shard_id))
            chunk, row_start = data.row_starts(seg.row[sel])
            first = row_start + seg.start[sel]
            dst = _ranges(dest_begin[sel], lengths[sel])
            tokens[dst] = data.i32[_ranges(data.tokens_at[chunk] + first, lengths[sel])]
            modality[dst] = data.u8[_ranges(data.modality_at[chunk] + first, lengths[sel])]
        return {
            "step": item.step,
            "tokens_BL": tokens.reshape(B, L),
            "modality_BL": modality.reshape(B, L),
            "document_ids_BL": doc_ids.reshape(B, L),
            "loss_mask_BL": (doc_ids >= 0).reshape(B, L),
            "component_B": item.row_component,
            "resume_state": item.resume_state,
        }
