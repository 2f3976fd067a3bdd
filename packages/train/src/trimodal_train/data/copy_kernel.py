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
    shard_id: int,
    seg_shard: np.ndarray,
    out_row: np.ndarray,
    pos: np.ndarray,
    length: np.ndarray,
    token_at: np.ndarray,
    modality_at: np.ndarray,
    seq_len: int,
    i32: np.ndarray,
    u8: np.ndarray,
    tokens: np.ndarray,
    modality: np.ndarray,
) -> None:
    """Copy the spans of shard ``shard_id`` (its whole-file ``i32`` and ``u8`` views) to their places
    ``out_row * seq_len + pos`` of the flat ``tokens`` (widened to int64) and ``modality`` outputs."""
    for i in range(seg_shard.shape[0]):
        if seg_shard[i] != shard_id:
            continue
        dest = out_row[i] * seq_len + pos[i]
        n = length[i]
        src = token_at[i]
        # No bounds checks in compiled loops: check each span once (the offsets come from the shard files).
        if (n < 0 or dest < 0 or dest + n > tokens.shape[0] or src < 0 or src + n > i32.shape[0]
                or modality_at[i] < 0 or modality_at[i] + n > u8.shape[0]):
            raise IndexError("copy_spans: a span lies outside its shard or the batch")
        tok, src_tok = tokens[dest : dest + n], i32[src : src + n]
        for j in range(n):
            tok[j] = src_tok[j]
        mod, src_mod = modality[dest : dest + n], u8[modality_at[i] : modality_at[i] + n]
        for j in range(n):
            mod[j] = src_mod[j]
