"""The compiled assembly (copy_kernel) equals the previous numpy assembly bit for bit.

``numpy_assemble`` below is the loader's assembly before the kernel (commit a041d8c, ``materialize.py``), kept
here as the reference: tokens and modality as one ``np.concatenate`` of span views and padding views, or as
one fancy-index gather per shard; document ids by ``np.repeat`` of the planner's runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trimodal_core import Modality
from trimodal_train.data import LoaderConfig, WeightPoint, build_loader
from trimodal_train.data.copy_kernel import copy_spans, fill_runs
from trimodal_train.data.planner import WorkItem
from trimodal_train.data.shard_table import ShardTable
from trimodal_train.data.streams import ShardStore

MakeMixture = Callable[..., Path]
BASE = LoaderConfig(seq_len=64, global_batch_size=8, seed=3, shuffle_buffer=16, prefetch=0)
KEYS = ("tokens_BL", "modality_BL", "document_ids_BL", "loss_mask_BL", "component_B")


def _ranges(begins: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    keep = lengths > 0
    b, n = begins[keep], lengths[keep]
    total = int(n.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    steps = np.ones(total, dtype=np.int64)
    steps[0] = b[0]
    steps[np.cumsum(n)[:-1]] = b[1:] - (b[:-1] + n[:-1] - 1)
    return np.cumsum(steps)


def numpy_assemble(store: ShardStore, item: WorkItem, L: int, pad_id: int, gather: bool) -> dict[str, np.ndarray]:
    B = len(item.row_component)
    seg = item.segments
    size = B * L
    doc_ids = np.repeat(item.run_values, item.run_lengths)
    if gather:
        dest = seg.out_row * L + seg.pos
        tokens = np.full(size, pad_id, dtype=np.int64)
        modality = np.full(size, int(Modality.SPECIAL), dtype=np.uint8)
        for shard_id in np.unique(seg.shard).tolist():
            sel = np.flatnonzero(seg.shard == shard_id)
            data = store.get(shard_id)
            dst = _ranges(dest[sel], seg.length[sel])
            tokens[dst] = data.i32[_ranges(seg.token_at[sel], seg.length[sel])]
            modality[dst] = data.u8[_ranges(seg.modality_at[sel], seg.length[sel])]
    else:
        gap = item.run_lengths[0::2]
        tok_parts = [store.get(s).i32[t : t + n] for s, t, n in
                     zip(seg.shard.tolist(), seg.token_at.tolist(), seg.length.tolist(), strict=True)]
        mod_parts = [store.get(s).u8[m : m + n] for s, m, n in
                     zip(seg.shard.tolist(), seg.modality_at.tolist(), seg.length.tolist(), strict=True)]
        for i in reversed(np.flatnonzero(gap).tolist()):
            tok_parts.insert(i, np.full(int(gap[i]), pad_id, dtype=np.int64))
            mod_parts.insert(i, np.full(int(gap[i]), int(Modality.SPECIAL), dtype=np.uint8))
        tokens = np.concatenate(tok_parts).astype(np.int64)
        modality = np.concatenate(mod_parts)
        assert tokens.size == size
    return {"tokens_BL": tokens.reshape(B, L), "modality_BL": modality.reshape(B, L),
            "document_ids_BL": doc_ids.reshape(B, L), "loss_mask_BL": (doc_ids >= 0).reshape(B, L),
            "component_B": item.row_component}


@pytest.mark.parametrize("changes", [
    {},
    {"seq_len": 256},  # many pairs padded, several documents per row
    {"seq_len": 16, "global_batch_size": 3},  # documents spanning rows, pairs truncated
    {"world_size": 4, "rank": 3, "global_batch_size": 8},
    {"split_documents": False, "seq_len": 100},
    {"document_attention": False, "mixing": "stochastic"},
    {"interleave_rows": False, "overlong_pairs": "skip", "seq_len": 50},
    {"pad_id": 7},
    {"weight_schedule": (WeightPoint(step=0, weights={"text": 0.0, "pairs": 1.0}),)},  # pairs only
    {"weight_schedule": (WeightPoint(step=0, weights={"text": 1.0, "pairs": 0.0}),)},  # text only
])
def test_kernel_equals_numpy_assembly(make_mixture: MakeMixture, changes: dict) -> None:
    config = dataclasses.replace(BASE, **changes)
    loader = build_loader(make_mixture(pair_lengths=(20, 90)), config)
    planner, assembler = loader._planner.clone(), loader._assembler
    padded = pairs_seen = False
    for _ in range(12):
        item = planner.next_item()
        got = assembler(item)
        for gather in (False, True):
            want = numpy_assemble(assembler.store, item, config.seq_len, assembler.pad_id, gather)
            for key in KEYS:
                assert got[key].dtype == want[key].dtype, key
                assert got[key].shape == want[key].shape, key
                assert np.array_equal(got[key], want[key]), (item.step, key, gather)
        padded |= not got["loss_mask_BL"].all()
        pairs_seen |= bool((got["component_B"] == 1).any())
        assert got["resume_state"] == item.resume_state
    if config.seq_len >= 64 and pairs_seen:
        assert padded  # the padding branch was exercised (pairs are 20-90 tokens)
    loader.close()


def test_kernel_rejects_spans_outside_shard_or_batch() -> None:
    i32 = np.arange(10, dtype=np.int32)
    u8 = np.arange(40, dtype=np.uint8)
    tokens, modality = np.zeros(8, dtype=np.int64), np.zeros(8, dtype=np.uint8)

    table = ShardTable.build([i32], [u8], [np.array([0, 1])], [np.zeros(1)], [np.zeros(1)], [np.zeros(1)])

    def copy(token_at: int, length: int, pos: int, shard: int = 0) -> None:
        one = np.zeros(1, dtype=np.int64)
        copy_spans(one + shard, one, one + pos, one + length, one + token_at, one, 4, table.i32_addr,
                   table.i32_len, table.u8_addr, table.u8_len, tokens, modality)

    copy(6, 4, 4)  # the last four values of the shard into the last four slots
    assert tokens.tolist() == [0, 0, 0, 0, 6, 7, 8, 9]
    with pytest.raises(IndexError, match="outside its shard"):
        copy(7, 4, 0)  # past the end of the shard
    with pytest.raises(IndexError, match="outside its shard"):
        copy(0, 4, 5)  # past the end of the batch
    with pytest.raises(IndexError, match="outside its shard"):
        copy(0, 4, 0, shard=1)  # no such shard
    doc_ids, mask = np.zeros(8, dtype=np.int32), np.zeros(8, dtype=np.bool_)
    with pytest.raises(IndexError, match="do not tile"):
        fill_runs(np.array([-1, 0, -1], dtype=np.int32), np.array([1, 2, 3], dtype=np.int64), 0, 0, tokens,
                  modality, doc_ids, mask)
