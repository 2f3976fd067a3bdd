"""Assemble one rank's batch arrays from a :class:`WorkItem`: copies straight out of the memory maps.

The planner already knows where every span's tokens and modality values start in its shard's whole-file
views, so nothing is located here. The token and modality arrays are each written by one
``np.concatenate`` over views of the spans interleaved with views of a padding row (every output element
written once, no prefill; int32 to int64 conversion inside the copy); document ids are one ``np.repeat``.
Creating a view costs well under a microsecond, so this is memcpy speed plus a short Python loop over the
spans (typically 2-4 per row). A fancy-index gather per shard (the same result, used for many very short
spans) avoids even that loop. This runs in the loader's workers.
"""

from __future__ import annotations

import numpy as np

from trimodal_core import Modality
from trimodal_train.data.planner import Segments, WorkItem
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

    Two copy strategies with identical results: spans of at least ``min_mean_span`` tokens on average
    (typical text documents and pairs) are copied as views concatenated into the output, which is
    memcpy-speed; many short spans are gathered with one vectorized fancy index per shard, which avoids a
    Python iteration per span.
    """

    def __init__(
        self, store: ShardStore, *, seq_len: int, pad_id: int, min_mean_span: float = 48.0
    ) -> None:
        self.store = store
        self.seq_len = seq_len
        self.pad_id = pad_id
        self.min_mean_span = min_mean_span
        """Spans of at least this mean length are copied slice by slice, shorter ones gathered."""
        self._pad_tokens = np.full(seq_len, pad_id, dtype=np.int64)
        self._pad_modality = np.full(seq_len, int(Modality.SPECIAL), dtype=np.uint8)

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_pad_tokens", "_pad_modality")}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._pad_tokens = np.full(self.seq_len, self.pad_id, dtype=np.int64)
        self._pad_modality = np.full(self.seq_len, int(Modality.SPECIAL), dtype=np.uint8)

    def __call__(self, item: WorkItem) -> dict[str, object]:
        L = self.seq_len
        B = len(item.row_component)
        seg = item.segments
        doc_ids = np.repeat(item.run_values, item.run_lengths)
        if len(seg.length) and seg.length.mean() >= self.min_mean_span:
            tokens, modality = self._concatenate(seg, item.run_lengths[0::2], B * L)
        else:
            tokens, modality = self._gather(seg, seg.out_row * L + seg.pos, B * L)
        return {
            "step": item.step,
            "tokens_BL": tokens.reshape(B, L),
            "modality_BL": modality.reshape(B, L),
            "document_ids_BL": doc_ids.reshape(B, L),
            "loss_mask_BL": (doc_ids >= 0).reshape(B, L),
            "component_B": item.row_component,
            "resume_state": item.resume_state,
        }

    def _concatenate(self, seg: Segments, gap: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        if int(gap.max()) > len(self._pad_tokens):  # a gap never exceeds a row today; stay correct regardless
            self._pad_tokens = np.full(int(gap.max()), self.pad_id, dtype=np.int64)
            self._pad_modality = np.full(int(gap.max()), int(Modality.SPECIAL), dtype=np.uint8)
        get = self.store.get
        i32 = {s: get(s).i32 for s in np.unique(seg.shard).tolist()}
        u8 = {s: get(s).u8 for s in i32}
        shards, lengths = seg.shard.tolist(), seg.length.tolist()
        tok_parts = [i32[s][t : t + n] for s, t, n in zip(shards, seg.token_at.tolist(), lengths, strict=True)]
        mod_parts = [u8[s][m : m + n] for s, m, n in zip(shards, seg.modality_at.tolist(), lengths, strict=True)]
        # Padding views go in front of the spans they precede (back to front, so indices stay valid).
        padded = np.flatnonzero(gap).tolist()
        for i in reversed(padded):
            g = int(gap[i])
            tok_parts.insert(i, self._pad_tokens[:g])
            mod_parts.insert(i, self._pad_modality[:g])
        tokens = np.empty(size, dtype=np.int64)
        modality = np.empty(size, dtype=np.uint8)
        if tok_parts:
            np.concatenate(tok_parts, out=tokens)
            np.concatenate(mod_parts, out=modality)
        return tokens, modality

    def _gather(self, seg: Segments, dest: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        tokens = np.full(size, self.pad_id, dtype=np.int64)
        modality = np.full(size, int(Modality.SPECIAL), dtype=np.uint8)
        for shard_id in np.unique(seg.shard).tolist():
            sel = np.flatnonzero(seg.shard == shard_id)
            data = self.store.get(shard_id)
            lengths = seg.length[sel]
            dst = _ranges(dest[sel], lengths)
            tokens[dst] = data.i32[_ranges(seg.token_at[sel], lengths)]
            modality[dst] = data.u8[_ranges(seg.modality_at[sel], lengths)]
        return tokens, modality
