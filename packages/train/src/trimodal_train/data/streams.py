"""Per-component example streams over memory-mapped shards.

A component's stream is infinite: ordinal ``n`` is example ``n % N`` of epoch ``n // N``. Each epoch
visits the shards in a seeded order, and the resulting example sequence is permuted in consecutive
windows of ``shuffle_buffer`` examples. This *window shuffle* stands in for a classic streaming shuffle
buffer: it mixes examples as locally, but the example at any ordinal is a pure function of
``(seed, component, ordinal)``. That is what lets every rank compute the global batch plan on its own,
lets a resumed run restart from a single integer per component, and makes world-size changes safe.

:class:`ShardStore` opens shards lazily through :class:`trimodal_core.ShardReader` (so a missing or
corrupt shard raises the reader's ``ValueError`` naming the file) and exposes each record batch's
offsets and values as zero-copy numpy views of the memory map.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from trimodal_core import ShardReader, derive_seed


@dataclasses.dataclass(frozen=True)
class ShardData:
    """Zero-copy views of one opened shard, chunked by Arrow record batch."""

    path: Path
    chunk_starts: np.ndarray
    """First row of every record batch, plus the total row count (length ``num_chunks + 1``)."""
    offsets: list[np.ndarray]
    tokens: list[np.ndarray]
    modality: list[np.ndarray]
    lengths: np.ndarray
    """Tokens per row (int64), all record batches concatenated."""
    tasks: frozenset[str]


class ShardStore:
    """Opened shards, by global shard id; opening is lazy, thread-safe, and happens once per process."""

    def __init__(self, paths: list[Path], rows: list[int], fingerprint: str) -> None:
        self.paths = paths
        self.rows = rows
        self.fingerprint = fingerprint
        self._open: dict[int, ShardData] = {}
        self._readers: dict[int, ShardReader] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes reopen shards themselves: memory maps do not travel through pickles.
        return {"paths": self.paths, "rows": self.rows, "fingerprint": self.fingerprint}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["paths"], state["rows"], state["fingerprint"])  # type: ignore[misc]

    def get(self, shard_id: int) -> ShardData:
        data = self._open.get(shard_id)
        if data is not None:
            return data
        with self._lock:
            if shard_id not in self._open:
                self._open[shard_id] = self._load(shard_id)
            return self._open[shard_id]

    def _load(self, shard_id: int) -> ShardData:
        path = self.paths[shard_id]
        reader = ShardReader(path, expected_fingerprint=self.fingerprint)
        offsets, tokens, modality, starts, tasks = [], [], [], [0], set()
        for i in range(reader.num_batches):
            batch = reader.batch(i)
            tok = batch.column("tokens")
            mod = batch.column("modality")
            offsets.append(tok.offsets.to_numpy())
            tokens.append(tok.values.to_numpy())
            modality.append(mod.values.to_numpy())
            if not np.array_equal(offsets[-1], mod.offsets.to_numpy()):
                raise ValueError(f"{path}: record batch {i} has token and modality lists of different lengths")
            tasks.update(pc.unique(batch.column("task")).to_pylist())
            starts.append(starts[-1] + batch.num_rows)
        if starts[-1] != self.rows[shard_id]:
            raise ValueError(f"{path}: {starts[-1]} rows, but its manifest says {self.rows[shard_id]}")
        lengths = np.concatenate([np.diff(o).astype(np.int64) for o in offsets]) if offsets else np.zeros(0, np.int64)
        self._readers[shard_id] = reader  # keeps the memory map open for the views above
        return ShardData(
            path=path,
            chunk_starts=np.asarray(starts, dtype=np.int64),
            offsets=offsets,
            tokens=tokens,
            modality=modality,
            lengths=lengths,
            tasks=frozenset(tasks),
        )

    def close(self) -> None:
        with self._lock:
            self._open.clear()
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()


class ComponentStream:
    """The infinite, seeded example order of one mixture component."""

    def __init__(
        self, name: str, shard_ids: list[int], store: ShardStore, *, seed: int, shuffle_buffer: int
    ) -> None:
        self.name = name
        self.shard_ids = np.asarray(shard_ids, dtype=np.int64)
        self.store = store
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self._rows = np.asarray([store.rows[s] for s in shard_ids], dtype=np.int64)
        self.num_examples = int(self._rows.sum())
        if self.num_examples == 0:
            raise ValueError(f"mixture component {name!r} has no examples")
        self._epochs: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._windows: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def clone(self) -> ComponentStream:
        """The same stream with its own caches (for use from another thread)."""
        return ComponentStream(
            self.name, [int(i) for i in self.shard_ids], self.store, seed=self.seed, shuffle_buffer=self.shuffle_buffer
        )

    def _epoch_order(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        cached = self._epochs.get(epoch)
        if cached is None:
            rng = np.random.default_rng(derive_seed(self.seed, "loader", "shards", self.name, epoch))
            order = rng.permutation(len(self.shard_ids))
            cum = np.concatenate([[0], np.cumsum(self._rows[order])])
            cached = self._epochs[epoch] = (order, cum)
            while len(self._epochs) > 4:
                self._epochs.popitem(last=False)
        return cached

    def _window(self, epoch: int, window: int) -> np.ndarray:
        key = (epoch, window)
        perm = self._windows.get(key)
        if perm is None:
            start = window * self.shuffle_buffer
            size = min(self.shuffle_buffer, self.num_examples - start)
            rng = np.random.default_rng(derive_seed(self.seed, "loader", "window", self.name, epoch, window))
            perm = self._windows[key] = start + rng.permutation(size)
            while len(self._windows) > 16:
                self._windows.popitem(last=False)
        return perm

    def locate(self, ordinals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global shard id and row inside the shard of each stream ordinal."""
        ordinals = np.asarray(ordinals, dtype=np.int64)
        shard = np.empty_like(ordinals)
        row = np.empty_like(ordinals)
        epochs, index = np.divmod(ordinals, self.num_examples)
        for epoch in np.unique(epochs):
            in_epoch = epochs == epoch
            idx = index[in_epoch]
            if self.shuffle_buffer > 1:
                windows = idx // self.shuffle_buffer
                pos = np.empty_like(idx)
                for w in np.unique(windows):
                    sel = windows == w
                    pos[sel] = self._window(int(epoch), int(w))[idx[sel] - w * self.shuffle_buffer]
            else:
                pos = idx
            order, cum = self._epoch_order(int(epoch))
            k = np.searchsorted(cum, pos, side="right") - 1
            shard[in_epoch] = self.shard_ids[order[k]]
            row[in_epoch] = pos - cum[k]
        return shard, row

    def lookup(self, ordinals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Global shard id, row inside the shard and token count of each stream ordinal's example."""
        shard, row = self.locate(ordinals)
        lengths = np.empty(len(shard), dtype=np.int64)
        for s in np.unique(shard):
            sel = shard == s
            lengths[sel] = self.store.get(int(s)).lengths[row[sel]]
        return shard, row, lengths
