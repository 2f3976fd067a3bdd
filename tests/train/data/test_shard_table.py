"""One compiled row lookup over all shards equals the per-shard numpy lookup; bad rows and shards are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trimodal_train.data import LoaderConfig, build_loader

MakeMixture = Callable[..., Path]


def test_table_sources_equal_per_shard_sources(make_mixture: MakeMixture) -> None:
    loader = build_loader(make_mixture(), LoaderConfig(seq_len=64, global_batch_size=8, prefetch=0))
    store = loader._assembler.store
    rng = np.random.default_rng(0)
    shard = rng.integers(0, len(store.paths), 2000)
    row = np.array([rng.integers(0, store.rows[s]) for s in shard])
    got = store.table().sources(shard, row)
    for s in np.unique(shard):
        sel = shard == s
        want = store.get(int(s)).sources(row[sel])
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g[sel], w)
    table = store.table()
    assert table is store.table()  # built once
    with pytest.raises(IndexError, match="row outside its shard"):
        table.sources(np.array([0]), np.array([store.rows[0]]))
    with pytest.raises(IndexError, match="no such shard"):
        table.sources(np.array([len(store.paths)]), np.array([0]))
    loader.close()
    assert store._table is None
