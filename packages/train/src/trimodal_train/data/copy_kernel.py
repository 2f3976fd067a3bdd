"""Compiled copy loops that write one rank's batch arrays in a single pass.

Hand-written (numba) rather than numpy because the work is many short copies: a batch of 32 x 2048 holds
~70 spans and as many padding runs, and every numpy call on a span (a view, then a concatenate or a
fancy index) costs a fixed 0.3-0.5 us, more than copying the span itself. These loops copy every span's
tokens (int32 -> int64) and modality values straight from the memory-mapped shard into the preallocated
outputs, and write the padding, the document ids and the loss mask run by run: each output element is
written exactly once, at memory speed, with the GIL released (``nogil``) so worker threads overlap.

Compiled on first use and cached next to this file (``cache=True``, numba's ``__pycache__``), so only the
first process on a machine pays the compile (about 4 s for all the loader's kernels on ci-2c); later processes
(worker processes included) load the cached machine code (about 0.7 s, mostly numba's start-up).
"""

from __future__ import annotations

import numba
import numpy as np

from trimodal_train.data.shard_table import as_pointer


@numba.njit(cache=True, nogil=True)
def fill_runs(
    run_values: np.ndarray,
    run_lengths: np.ndarray,
    pad_id: int,
    pad_modality: int,
    tokens: np.ndarray,
    modality: np.ndarray,
    document_ids: np.ndarray,
    loss_mask: np.ndarray,
) -> None:
    """Walk the runs of the flattened batch: a run of value -1 is padding (pad token, ``pad_modality``,
    document id -1, no loss); any other run is a span, whose document id is the value and whose loss mask is
    set (its tokens and modality are left to :func:`copy_spans`)."""
    at = 0
    for r in range(run_values.shape[0]):
        n = run_lengths[r]
        value = run_values[r]
        end = at + n
        if n < 0 or end > tokens.shape[0]:
            raise IndexError("fill_runs: the runs do not tile the batch")
        # Loops over views from index 0: indexing with an offset (a[at + j]) keeps numba's negative-index
        # wraparound in the loop and blocks vectorization (7-10x slower).
        ids = document_ids[at:end]
        mask = loss_mask[at:end]
        for j in range(n):
            ids[j] = value
        if value < 0:
            tok = tokens[at:end]
            mod = modality[at:end]
            for j in range(n):
                tok[j] = pad_id
            for j in range(n):
                mod[j] = pad_modality
            for j in range(n):
                mask[j] = False
        else:
            for j in range(n):
                mask[j] = True
        at = end
    if at != tokens.shape[0]:
        raise IndexError("fill_runs: the runs do not tile the batch")


@numba.njit(cache=True, nogil=True)
def copy_spans(
    seg_shard: np.ndarray,
    out_row: np.ndarray,
    pos: np.ndarray,
    length: np.ndarray,
    token_at: np.ndarray,
    modality_at: np.ndarray,
    seq_len: int,
    i32_addr: np.ndarray,
    i32_len: np.ndarray,
    u8_addr: np.ndarray,
    u8_len: np.ndarray,
    tokens: np.ndarray,
    modality: np.ndarray,
) -> None:
    """Copy every span, from whichever shard it is in (the whole-file ``i32`` and ``u8`` views of a
    :class:`~trimodal_train.data.shard_table.ShardTable`, by address), to its place ``out_row * seq_len + pos``
    of the flat ``tokens`` (widened to int64) and ``modality`` outputs: one call per batch."""
    for i in range(seg_shard.shape[0]):
        s = seg_shard[i]
        dest = out_row[i] * seq_len + pos[i]
        n = length[i]
        src = token_at[i]
        src_mod = modality_at[i]
        # No bounds checks in compiled loops: check each span once (the offsets come from the shard files).
        if (s < 0 or s >= i32_addr.shape[0] or n < 0 or dest < 0 or dest + n > tokens.shape[0] or src < 0
                or src + n > i32_len[s] or src_mod < 0 or src_mod + n > u8_len[s]):
            raise IndexError("copy_spans: a span lies outside its shard or the batch")
        i32 = numba.carray(as_pointer(i32_addr[s], np.int32), (i32_len[s],))
        u8 = numba.carray(as_pointer(u8_addr[s], np.uint8), (u8_len[s],))
        tok, src_tok = tokens[dest : dest + n], i32[src : src + n]
        for j in range(n):
            tok[j] = src_tok[j]
        mod, src_m = modality[dest : dest + n], u8[src_mod : src_mod + n]
        for j in range(n):
            mod[j] = src_m[j]
