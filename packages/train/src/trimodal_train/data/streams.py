"""Per-component example streams over memory-mapped shards.

A component's stream is infinite: ordinal ``n`` is position ``i = n % N`` of epoch ``e = n // N``. Two orders
(``LoaderConfig.shuffle``):

* ``global`` (default): position ``i`` is example ``perm_e(i)`` of the component's ``N`` examples (its shards
  concatenated in manifest order), ``perm_e`` a seeded pseudo-random permutation of all of them
  (:mod:`~trimodal_train.data.epoch_shuffle`). Every batch draws from the whole component, as a uniform
  shuffle would: shards are written sorted by example id, so consecutive rows share a source.
* ``window``: each epoch visits the shards in a seeded order and permutes the resulting sequence in
  consecutive windows of ``shuffle_buffer`` examples (a stand-in for a streaming shuffle buffer: it mixes as
  locally, so a batch sees a narrow, source-correlated slice; reads stay sequential, which suits storage with
  slow random access). Kept for such storage and to resume runs started before ``global`` existed.

Either way the example at any ordinal is a pure function of ``(seed, component, ordinal)``. That is what lets
every rank compute the global batch plan on its own, lets a resumed run restart from a single integer per
component, and makes world-size changes safe.

:class:`ShardStore` validates shards with :class:`trimodal_core.ShardReader` (so a missing or corrupt
shard raises the reader's ``ValueError`` naming the file), then views each memory-mapped file as flat
numpy arrays and records where every record batch's offsets and values live in it. Hand-written rather
than using ``pyarrow`` per record batch because the loader copies a few spans from many rows of many
record batches per step: knowing each row's element offsets in the file (:meth:`ShardData.sources`, looked
up per block of stream ordinals by :meth:`ComponentStream.span`) makes every span a plain numpy view.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trimodal_core import ShardReader, derive_seed
from trimodal_train.data.epoch_shuffle import epoch_keys, permute
from trimodal_train.data.shard_table import ShardTable

SPAN_BLOCK = 4096
"""Stream ordinals looked up together (see :meth:`ComponentStream.span`)."""


class Span(NamedTuple):
    """Consecutive examples of a stream: global shard id, row in the shard, token count, and where the
    row's tokens (index into the shard's ``i32`` view) and modality values (into ``u8``) begin."""

    shard: np.ndarray
    row: np.ndarray
    length: np.ndarray
    token_at: np.ndarray
    modality_at: np.ndarray


@dataclasses.dataclass(frozen=True)
class ShardData:
    """Zero-copy views of one opened shard.

    ``i32`` and ``u8`` view the whole memory-mapped file; every record batch's token offsets, token values
    and modality values are located in them by element index, so rows of any record batch are gathered
    with one vectorized index per shard instead of one per record batch.
    """

    path: Path
    chunk_starts: np.ndarray
    """First row of every record batch, plus the total row count (length ``num_chunks + 1``)."""
    offsets_at: np.ndarray
    """Index in ``i32`` of each record batch's first list offset (tokens and modality share offsets)."""
    tokens_at: np.ndarray
    """Index in ``i32`` of each record batch's first token value."""
    modality_at: np.ndarray
    """Index in ``u8`` of each record batch's first modality value."""
    i32: np.ndarray
    u8: np.ndarray
    tasks: frozenset[str]

    def lengths(self, rows: np.ndarray) -> np.ndarray:
        """Token count of each row."""
        chunk = np.searchsorted(self.chunk_starts, rows, side="right") - 1
        at = self.offsets_at[chunk] + (rows - self.chunk_starts[chunk])
        return (self.i32[at + 1] - self.i32[at]).astype(np.int64)

    def sources(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token count of each row, and where its tokens (in ``i32``) and modality values (in ``u8``) begin."""
        chunk = np.searchsorted(self.chunk_starts, rows, side="right") - 1
        at = self.offsets_at[chunk] + (rows - self.chunk_starts[chunk])
        first = self.i32[at].astype(np.int64)
        return self.i32[at + 1] - first, self.tokens_at[chunk] + first, self.modality_at[chunk] + first


def _element_index(buffer: pa.Buffer, origin: pa.Buffer, itemsize: int, path: Path) -> int:
    delta = buffer.address - origin.address
    if not (delta >= 0 and delta + buffer.size <= origin.size) or delta % itemsize:
        # Only an uncompressed IPC file keeps its buffers inside (and aligned in) the memory map.
        raise ValueError(f"{path}: column buffers are not zero-copy views of the file (compressed shard?)")
    return delta // itemsize


class ShardStore:
    """Opened shards, by global shard id; opening is lazy, thread-safe, and happens once per process."""

    def __init__(self, paths: list[Path], rows: list[int], fingerprint: str) -> None:
        self.paths = paths
        self.rows = rows
        self.fingerprint = fingerprint
        self._open: dict[int, ShardData] = {}
        self._maps: dict[int, pa.MemoryMappedFile] = {}
        self._table: ShardTable | None = None
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
        # ShardReader validates the file (exists, complete, schema version, fingerprint), naming it on failure.
        with ShardReader(path, expected_fingerprint=self.fingerprint) as reader:
            num_batches = reader.num_batches
        mapped = pa.memory_map(str(path), "r")
        whole = mapped.read_buffer(mapped.size())
        ipc = pa.ipc.open_file(whole)
        starts, offsets_at, tokens_at, modality_at, tasks = [0], [], [], [], set()
        for i in range(num_batches):
            try:
                batch = ipc.get_batch(i)
            except (pa.ArrowInvalid, OSError) as exc:
                raise ValueError(f"{path}: record batch {i} is unreadable: {exc}") from None
            tok, mod = batch.column("tokens"), batch.column("modality")
            if not tok.offsets.equals(mod.offsets):
                raise ValueError(f"{path}: record batch {i} has token and modality lists of different lengths")
            offsets_at.append(_element_index(tok.buffers()[1], whole, 4, path) + tok.offset)
            tokens_at.append(_element_index(tok.buffers()[3], whole, 4, path) + tok.values.offset)
            modality_at.append(_element_index(mod.buffers()[3], whole, 1, path) + mod.values.offset)
            tasks.update(pc.unique(batch.column("task")).to_pylist())
            starts.append(starts[-1] + batch.num_rows)
        if starts[-1] != self.rows[shard_id]:
            raise ValueError(f"{path}: {starts[-1]} rows, but its manifest says {self.rows[shard_id]}")
        self._maps[shard_id] = mapped
        return ShardData(
            path=path,
            chunk_starts=np.asarray(starts, dtype=np.int64),
            offsets_at=np.asarray(offsets_at, dtype=np.int64),
            tokens_at=np.asarray(tokens_at, dtype=np.int64),
            modality_at=np.asarray(modality_at, dtype=np.int64),
            i32=np.frombuffer(whole, dtype=np.int32, count=whole.size // 4),
            u8=np.frombuffer(whole, dtype=np.uint8),
            tasks=frozenset(tasks),
        )

    def table(self) -> ShardTable:
        """Every shard's views in one :class:`ShardTable` (opens all shards the first time; then cached)."""
        table = self._table
        if table is None:
            data = [self.get(i) for i in range(len(self.paths))]
            table = ShardTable.build([d.i32 for d in data], [d.u8 for d in data], [d.chunk_starts for d in data],
                                     [d.offsets_at for d in data], [d.tokens_at for d in data],
                                     [d.modality_at for d in data])
            with self._lock:
                if self._table is None:
                    self._table = table
                table = self._table
        return table

    def all_lengths(self, shard_id: int) -> np.ndarray:
        """Token count of every row of a shard."""
        return self.get(shard_id).lengths(np.arange(self.rows[shard_id], dtype=np.int64))

    def mean_length(self, shard_id: int) -> float:
        """Mean tokens per row of a shard (1.0 for an empty shard), from its first and last list offsets."""
        data = self.get(shard_id)
        total = sum(int(data.i32[at + n] - data.i32[at]) for at, n in
                    zip(data.offsets_at, np.diff(data.chunk_starts), strict=True))
        return max(total / max(self.rows[shard_id], 1), 1.0)

    def close(self) -> None:
        with self._lock:
            self._open.clear()
            self._table = None
            self._maps.clear()  # the maps close when the last view of them is gone


class ComponentStream:
    """The infinite, seeded example order of one mixture component."""

    def __init__(
        self, name: str, shard_ids: list[int], store: ShardStore, *, seed: int, shuffle: str = "global",
        shuffle_buffer: int = 1,
    ) -> None:
        if shuffle not in ("global", "window"):
            raise ValueError(f"LoaderConfig.shuffle must be 'global' or 'window', got {shuffle!r}")
        self.name = name
        self.shard_ids = np.asarray(shard_ids, dtype=np.int64)
        self.store = store
        self.seed = seed
        self.shuffle = shuffle
        self.shuffle_buffer = shuffle_buffer
        self._rows = np.asarray([store.rows[s] for s in shard_ids], dtype=np.int64)
        self.num_examples = int(self._rows.sum())
        if self.num_examples == 0:
            raise ValueError(f"mixture component {name!r} has no examples")
        self.mean_length = float(np.mean([store.mean_length(s) for s in shard_ids]))
        self._manifest_order = (np.arange(len(self.shard_ids)), np.concatenate([[0], np.cumsum(self._rows)]))
        self._epochs: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._keys: OrderedDict[int, np.ndarray] = OrderedDict()
        self._windows: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._blocks: OrderedDict[int, Span] = OrderedDict()

    def clone(self) -> ComponentStream:
        """The same stream with its own caches (for use from another thread)."""
        return ComponentStream(
            self.name, [int(i) for i in self.shard_ids], self.store, seed=self.seed, shuffle=self.shuffle,
            shuffle_buffer=self.shuffle_buffer,
        )

    def _epoch_order(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Shard order of an epoch and the first position of each shard in it (plus the total)."""
        if self.shuffle == "global":  # the permutation spans every shard: their order plays no part
            return self._manifest_order
        cached = self._epochs.get(epoch)
        if cached is None:
            rng = np.random.default_rng(derive_seed(self.seed, "loader", "shards", self.name, epoch))
            order = rng.permutation(len(self.shard_ids))
            cum = np.concatenate([[0], np.cumsum(self._rows[order])])
            cached = self._epochs[epoch] = (order, cum)
            while len(self._epochs) > 4:
                self._epochs.popitem(last=False)
        return cached

    def _epoch_keys(self, epoch: int) -> np.ndarray:
        keys = self._keys.get(epoch)
        if keys is None:
            keys = self._keys[epoch] = epoch_keys(self.seed, self.name, epoch)
            while len(self._keys) > 4:
                self._keys.popitem(last=False)
        return keys

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
            if self.shuffle == "global":
                pos = permute(idx, self.num_examples, self._epoch_keys(int(epoch)))
            elif self.shuffle_buffer > 1:
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

    def span(self, start: int, count: int) -> Span:
        """Everything the planner needs about ordinals ``start .. start + count - 1`` (served from a block cache).

        The planner asks for consecutive ordinals step after step, so locating examples and reading their
        offsets is done once per block of ``SPAN_BLOCK`` ordinals instead of once per step.
        """
        first, last = start // SPAN_BLOCK, (start + count - 1) // SPAN_BLOCK
        parts = [self._block(b) for b in range(first, last + 1)]
        whole = parts[0] if len(parts) == 1 else Span(*(np.concatenate(f) for f in zip(*parts, strict=True)))
        lo = start - first * SPAN_BLOCK
        return Span(*(f[lo : lo + count] for f in whole))

    def _block(self, index: int) -> Span:
        block = self._blocks.get(index)
        if block is None:
            shard, row = self.locate(np.arange(index * SPAN_BLOCK, (index + 1) * SPAN_BLOCK, dtype=np.int64))
            # One compiled pass over the block, whatever shards it spans (a global shuffle: up to SPAN_BLOCK).
            length, token_at, modality_at = self.store.table().sources(shard, row)
            block = self._blocks[index] = Span(shard, row, length, token_at, modality_at)
            while len(self._blocks) > 4:
                self._blocks.popitem(last=False)
        return block
