"""Assemble one rank's batch arrays from a :class:`WorkItem`: copies straight out of the memory maps.

The planner already knows where every span's tokens and modality values start in its shard's whole-file
views, so nothing is located here. The outputs are allocated once per batch (no prefill) and written by the
compiled loops of :mod:`~trimodal_train.data.copy_kernel`: one call writes padding, document ids and the
loss mask from the planner's runs, then one call copies every span from its shard (int32 to int64 inside the
copy; the shards are reached through the store's :class:`~trimodal_train.data.shard_table.ShardTable`, so a
globally shuffled batch that touches dozens of shards still costs one call). Every output element is written
once; the cost is memory bandwidth plus a few microseconds of calls, not a fixed cost per span as with numpy
views. This runs in the loader's workers.
"""

from __future__ import annotations

import numpy as np

from trimodal_core import Modality
from trimodal_train.data.copy_kernel import copy_spans, fill_runs
from trimodal_train.data.planner import WorkItem
from trimodal_train.data.streams import ShardStore

_PAD_MODALITY = int(Modality.SPECIAL)


class BatchAssembler:
    """Callable turning work items into dicts of numpy arrays (picklable for worker processes)."""

    def __init__(self, store: ShardStore, *, seq_len: int, pad_id: int) -> None:
        self.store = store
        self.seq_len = seq_len
        self.pad_id = pad_id

    def __call__(self, item: WorkItem) -> dict[str, object]:
        L = self.seq_len
        B = len(item.row_component)
        size = B * L
        seg = item.segments
        tokens = np.empty(size, dtype=np.int64)
        modality = np.empty(size, dtype=np.uint8)
        doc_ids = np.empty(size, dtype=np.int32)
        loss_mask = np.empty(size, dtype=np.bool_)
        fill_runs(item.run_values, item.run_lengths, self.pad_id, _PAD_MODALITY, tokens, modality, doc_ids,
                  loss_mask)
        table = self.store.table()  # held while the kernel reads through its addresses
        copy_spans(seg.shard, seg.out_row, seg.pos, seg.length, seg.token_at, seg.modality_at, L, table.i32_addr,
                   table.i32_len, table.u8_addr, table.u8_len, tokens, modality)
        return {
            "step": item.step,
            "tokens_BL": tokens.reshape(B, L),
            "modality_BL": modality.reshape(B, L),
            "document_ids_BL": doc_ids.reshape(B, L),
            "loss_mask_BL": loss_mask.reshape(B, L),
            "component_B": item.row_component,
            "resume_state": item.resume_state,
        }
