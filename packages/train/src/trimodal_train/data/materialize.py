"""Assemble one rank's batch arrays from a :class:`WorkItem`: vectorized gathers from the memory maps.

Spans are located in the shards' whole-file views (vectorized per shard), then copied into preallocated
rows filled with the pad id: slice by slice when spans are long, with one fancy-index gather per shard when
they are short. This runs in the loader's workers.
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
    """Callable turning work items into dicts of numpy arrays (picklable for worker processes).

    Two copy strategies with identical results: long spans (typical text documents and pairs) are copied
    one slice assignment each, which is memcpy-speed; many short spans are gathered with one vectorized
    fancy index per shard, which avoids a Python iteration per span.
    """

    def __init__(
        self, store: ShardStore, *, seq_len: int, pad_id: int, document_attention: bool, min_mean_span: float = 48.0
    ) -> None:
        self.store = store
        self.seq_len = seq_len
        self.pad_id = pad_id
        self.document_attention = document_attention
        self.min_mean_span = min_mean_span
        """Spans of at least this mean length are copied slice by slice, shorter ones gathered."""

    def __call__(self, item: WorkItem) -> dict[str, object]:
        L = self.seq_len
        B = len(item.row_component)
        seg = item.segments
        tokens = np.full(B * L, self.pad_id, dtype=np.int64)
        modality = np.full(B * L, int(Modality.SPECIAL), dtype=np.uint8)
        doc_ids = np.full(B * L, -1, dtype=np.int32)
        lengths = seg.stop - seg.start
        dest = seg.out_row * L + seg.pos
        # Document number within each row: spans are sorted by (row, pos).
        index = np.arange(len(seg.out_row))
        row_first = np.concatenate([[True], seg.out_row[1:] != seg.out_row[:-1]])
        doc_of_seg = index - np.maximum.accumulate(np.where(row_first, index, 0))
        if not self.document_attention:
            doc_of_seg = np.zeros_like(doc_of_seg)
        token_src = np.empty(len(index), dtype=np.int64)
        modality_src = np.empty(len(index), dtype=np.int64)
        for shard_id in np.unique(seg.shard):
            sel = np.flatnonzero(seg.shard == shard_id)
            data = self.store.get(int(shard_id))
            chunk, row_start = data.row_starts(seg.row[sel])
            token_src[sel] = data.tokens_at[chunk] + row_start + seg.start[sel]
            modality_src[sel] = data.modality_at[chunk] + row_start + seg.start[sel]
        if len(index) and lengths.mean() >= self.min_mean_span:
            shard_of_seg = [self.store.get(s) for s in seg.shard.tolist()]
            for data, d, n, t, m, k in zip(shard_of_seg, dest.tolist(), lengths.tolist(), token_src.tolist(),
                                           modality_src.tolist(), doc_of_seg.tolist(), strict=True):
                tokens[d : d + n] = data.i32[t : t + n]
                modality[d : d + n] = data.u8[m : m + n]
                doc_ids[d : d + n] = k
        elif len(index):
            doc_ids[_ranges(dest, lengths)] = np.repeat(doc_of_seg, lengths).astype(np.int32)
            for shard_id in np.unique(seg.shard):
                sel = np.flatnonzero(seg.shard == shard_id)
                data = self.store.get(int(shard_id))
                dst = _ranges(dest[sel], lengths[sel])
                tokens[dst] = data.i32[_ranges(token_src[sel], lengths[sel])]
                modality[dst] = data.u8[_ranges(modality_src[sel], lengths[sel])]
        return {
            "step": item.step,
            "tokens_BL": tokens.reshape(B, L),
            "modality_BL": modality.reshape(B, L),
            "document_ids_BL": doc_ids.reshape(B, L),
            "loss_mask_BL": (doc_ids >= 0).reshape(B, L),
            "component_B": item.row_component,
            "resume_state": item.resume_state,
        }
