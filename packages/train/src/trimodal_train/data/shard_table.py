"""Every opened shard's memory-mapped views in one table, so one compiled call can reach rows of any shard.

With the global shuffle a block of 4,096 stream ordinals, and a batch, hold examples of many shards (up to
one per example). Looking rows up or copying spans with one call per shard would cost a fixed ~1-10 us per
shard, and numba cannot take a list of arrays cheaply (a ``numba.typed.List`` costs ~35 us to unbox on every
call). So :class:`ShardTable` stores, per shard, the base address and length of its whole-file ``i32`` and
``u8`` views (int64 arrays) plus the record-batch tables of every shard concatenated; kernels rebuild a
shard's view with ``numba.carray`` at its address and check every index range against its length before
reading. Lifetime: the table holds references to the views it points into (and so to their memory maps), and
callers keep the table while a kernel runs, so no address outlives its mapping.

Row lookup (:func:`row_sources`), for shard ``s`` and row ``r``: record batch ``c`` = the last one whose first
row is ``<= r``; ``at = offsets_at[c] + r - chunk_starts[c]``; the row's tokens begin at ``tokens_at[c] +
i32[at]``, its modality values at ``modality_at[c] + i32[at]``, and it has ``i32[at + 1] - i32[at]`` tokens
(the same formulas as ``ShardData.sources``, for all shards in one pass).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic


@intrinsic
def as_pointer(typingctx, address, dtype):  # type: ignore[no-untyped-def]
    """``address`` (an integer) as a typed pointer, for ``numba.carray`` (compiled code only)."""
    target = dtype.dtype if isinstance(dtype, types.DTypeSpec) else dtype.instance_type
    signature = types.CPointer(target)(address, dtype)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        return builder.inttoptr(args[0], context.get_value_type(sig.return_type))

    return signature, codegen


@dataclasses.dataclass(frozen=True)
class ShardTable:
    """Addresses and record-batch tables of shards ``0 .. S-1`` (see the module docstring)."""

    i32_addr: np.ndarray
    i32_len: np.ndarray
    u8_addr: np.ndarray
    u8_len: np.ndarray
    chunk_base: np.ndarray
    """Shard ``s``'s record batches are entries ``chunk_base[s] .. chunk_base[s + 1] - 1`` of the arrays below;
    each shard has one entry more than it has record batches (its row count, closing ``chunk_starts``)."""
    chunk_starts: np.ndarray
    offsets_at: np.ndarray
    tokens_at: np.ndarray
    modality_at: np.ndarray
    views: tuple[np.ndarray, ...]
    """The views the addresses point into, kept alive with the table."""

    @staticmethod
    def build(
        i32: Sequence[np.ndarray], u8: Sequence[np.ndarray], chunk_starts: Sequence[np.ndarray],
        offsets_at: Sequence[np.ndarray], tokens_at: Sequence[np.ndarray], modality_at: Sequence[np.ndarray],
    ) -> ShardTable:
        """From per-shard views and record-batch tables (``chunk_starts[s]`` has one entry more than the others)."""
        sizes = [len(c) for c in chunk_starts]
        base = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=base[1:])

        def padded(parts: Sequence[np.ndarray]) -> np.ndarray:
            return np.concatenate([np.append(np.asarray(p, dtype=np.int64), 0) for p in parts]) if parts else \
                np.zeros(0, dtype=np.int64)

        views = (*i32, *u8)
        for view, dtype in [(v, np.int32) for v in i32] + [(v, np.uint8) for v in u8]:
            if view.dtype != dtype or not view.flags.c_contiguous:
                raise ValueError("ShardTable: views must be contiguous int32 (i32) and uint8 (u8) arrays")
        return ShardTable(
            i32_addr=np.array([v.ctypes.data for v in i32], dtype=np.int64),
            i32_len=np.array([len(v) for v in i32], dtype=np.int64),
            u8_addr=np.array([v.ctypes.data for v in u8], dtype=np.int64),
            u8_len=np.array([len(v) for v in u8], dtype=np.int64),
            chunk_base=base,
            chunk_starts=np.concatenate([np.asarray(c, dtype=np.int64) for c in chunk_starts]) if sizes else
            np.zeros(0, dtype=np.int64),
            offsets_at=padded(offsets_at),
            tokens_at=padded(tokens_at),
            modality_at=padded(modality_at),
            views=views,
        )

    def sources(self, shard: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token count of each (shard, row), and where its tokens (in ``i32``) and modality values (in ``u8``)
        begin; one compiled pass over all rows, whatever shards they are in."""
        return row_sources(np.ascontiguousarray(shard, dtype=np.int64), np.ascontiguousarray(row, dtype=np.int64),
                           self.i32_addr, self.i32_len, self.chunk_base, self.chunk_starts, self.offsets_at,
                           self.tokens_at, self.modality_at)


@numba.njit(cache=True, nogil=True)
def row_sources(
    shard: np.ndarray, row: np.ndarray, i32_addr: np.ndarray, i32_len: np.ndarray, chunk_base: np.ndarray,
    chunk_starts: np.ndarray, offsets_at: np.ndarray, tokens_at: np.ndarray, modality_at: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = shard.shape[0]
    length = np.empty(n, dtype=np.int64)
    token_at = np.empty(n, dtype=np.int64)
    mod_at = np.empty(n, dtype=np.int64)
    for i in range(n):
        s = shard[i]
        if s < 0 or s >= i32_addr.shape[0]:
            raise IndexError("row_sources: no such shard")
        lo, hi = chunk_base[s], chunk_base[s + 1]
        r = row[i]
        if r < 0 or r >= chunk_starts[hi - 1]:
            raise IndexError("row_sources: row outside its shard")
        c = lo + np.searchsorted(chunk_starts[lo:hi], r, side="right") - 1
        at = offsets_at[c] + r - chunk_starts[c]
        if at < 0 or at + 1 >= i32_len[s]:
            raise IndexError("row_sources: offsets outside the shard file")
        view = numba.carray(as_pointer(i32_addr[s], np.int32), (i32_len[s],))
        first = np.int64(view[at])
        length[i] = np.int64(view[at + 1]) - first
        token_at[i] = tokens_at[c] + first
        mod_at[i] = modality_at[c] + first
    return length, token_at, mod_at
