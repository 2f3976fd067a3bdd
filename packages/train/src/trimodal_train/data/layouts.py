"""Row layouts: how many consecutive rows of one component are cut from its example stream.

Each function plans ``bounds[-1]`` rows of one component in one go (the rows this component contributes to
several consecutive global batches) and reports the stream cursor after ``bounds[s]`` rows for every step
``s``, so the planner can attach the exact per-step resume state. Planning the rows of many steps at once
gives the same spans as planning them step by step, because every layout continues its stream exactly where
the previous row stopped; it only amortizes the numpy calls (the per-step cost was all call overhead).

- :func:`pack_split`: documents end to end, cut into rows of exactly ``seq_len`` (vectorized).
- :func:`pack_whole`: whole documents; one that does not fit the rest of a row starts the next row.
- :func:`pairs`: one example per row; overlong and empty examples handled as configured.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from trimodal_train.data.streams import ComponentStream

Cursor = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class Segments:
    """Token spans copied into rows: ``length`` tokens of shard ``shard`` from element ``token_at`` of its
    ``i32`` view (modality values from ``modality_at`` of its ``u8`` view) land in row ``out_row`` at ``pos``."""

    out_row: np.ndarray
    pos: np.ndarray
    length: np.ndarray
    shard: np.ndarray
    token_at: np.ndarray
    modality_at: np.ndarray

    @staticmethod
    def concat(parts: list[Segments]) -> Segments:
        if len(parts) == 1:
            return parts[0]
        fields = [f.name for f in dataclasses.fields(Segments)]
        if not parts:
            return Segments(*(np.zeros(0, np.int64) for _ in fields))
        return Segments(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))

    def take(self, index: np.ndarray | slice) -> Segments:
        return Segments(self.out_row[index], self.pos[index], self.length[index], self.shard[index],
                        self.token_at[index], self.modality_at[index])


def pack_split(stream: ComponentStream, cursor: Cursor, bounds: np.ndarray, L: int) -> tuple[Segments, list[Cursor]]:
    """``bounds[-1]`` rows of exactly ``L`` tokens cut from the document stream (out_row counts these rows)."""
    n, off = cursor
    need = int(bounds[-1]) * L
    count = int(need / stream.mean_length * 1.25) + 16  # usually one lookup suffices
    while True:
        span = stream.span(n, count)
        eff = span.length.copy()
        eff[0] -= off
        ends = np.cumsum(eff)
        if ends[-1] >= need:
            break
        count *= 2
    last = int(np.searchsorted(ends, need, side="left"))
    ends = ends[: last + 1]
    starts = ends - eff[: last + 1]
    # Span boundaries: document boundaries (starts[i + 1] == ends[i]) and row ends. Both runs are sorted, so a
    # stable sort merges them in linear time; then drop repeats (empty documents, boundaries on row ends).
    cuts = np.sort(np.concatenate([starts[:1], ends, np.arange(0, need + 1, L)]), kind="stable")
    cuts = cuts[np.concatenate([[True], cuts[1:] != cuts[:-1]])]
    cuts = cuts[: np.searchsorted(cuts, need, side="right")]
    a, b = cuts[:-1], cuts[1:]
    doc = np.searchsorted(ends, a, side="right")
    begin = a - starts[doc]
    begin[doc == 0] += off
    out_row = a // L
    # Cursor after the first bounds[s] rows: the document holding token bounds[s] * L, or the next one
    # when a document ends exactly there.
    at = bounds * L
    k = np.searchsorted(ends, at, side="left")  # at <= need <= ends[-1], so k indexes ends
    exact = ends[k] == at
    ordinal = np.where(at == 0, n, n + k + exact)
    offset = np.where(at == 0, off, np.where(exact, 0, at - starts[k] + np.where(k == 0, off, 0)))
    cursors = list(zip(ordinal.tolist(), offset.tolist(), strict=True))
    segments = Segments(out_row, a - out_row * L, b - a, span.shard[doc], span.token_at[doc] + begin,
                        span.modality_at[doc] + begin)
    return segments, cursors


def pack_whole(stream: ComponentStream, cursor: Cursor, bounds: np.ndarray, L: int) -> tuple[Segments, list[Cursor]]:
    """Rows of whole documents: one that does not fit in the rest of a row starts the next row."""
    n, off = cursor
    num_rows = int(bounds[-1])
    out: list[tuple[int, int, int, int, int]] = []
    after_row = [(n, off)]  # cursor after r rows
    r = p = 0
    lookahead = 4 * num_rows + 16
    lens = stream.span(n, lookahead).length.tolist()
    base = n
    while r < num_rows:
        i = n - base
        if i >= len(lens):
            base = n
            lens = stream.span(n, lookahead).length.tolist()
            i = 0
        left = lens[i] - off
        if left <= 0:
            n, off = n + 1, 0
        elif left <= L - p:
            out.append((r, p, n, off, left))
            n, off, p = n + 1, 0, p + left
        elif p == 0:  # longer than a whole row: split it across rows
            out.append((r, 0, n, off, L))
            off, p = off + L, L
        else:
            p = L
        if p == L:
            r, p = r + 1, 0
            after_row.append((n, off))
    cols = np.array(out, dtype=np.int64).reshape(-1, 5).T
    first = int(cols[2].min())
    span = stream.span(first, int(cols[2].max()) + 1 - first)
    doc = cols[2] - first
    segments = Segments(cols[0], cols[1], cols[4], span.shard[doc], span.token_at[doc] + cols[3],
                        span.modality_at[doc] + cols[3])
    return segments, [after_row[k] for k in bounds.tolist()]


@dataclasses.dataclass(frozen=True)
class PairPlan:
    """What :func:`pairs` planned: spans, and per step the cursor and the examples truncated or skipped."""

    segments: Segments
    cursors: list[Cursor]
    truncated: list[int]
    """Examples truncated in the first ``bounds[s]`` rows."""
    skipped: list[int]
    """Examples skipped (empty, or overlong under ``skip``) before the last of the first ``bounds[s]`` rows."""


def pairs(stream: ComponentStream, cursor: Cursor, bounds: np.ndarray, L: int, policy: str) -> PairPlan:
    """One example per row; overlong ones truncated, skipped or rejected (``policy``), empty ones skipped.

    With ``policy == "error"`` the examples up to 8 past the last row are checked too.
    """
    n0 = n = cursor[0]
    num_rows = int(bounds[-1])
    parts, ordinals, overlongs = [], [], []
    taken = 0
    while taken < num_rows:
        count = num_rows - taken + 8
        span = stream.span(n, count)
        lens = span.length
        ok = lens > 0
        overlong = lens > L
        if policy == "skip":
            ok &= ~overlong
        elif policy == "error" and overlong.any():
            i = int(np.flatnonzero(overlong)[0])
            path = stream.store.paths[int(span.shard[i])]
            raise ValueError(
                f"{path}: row {int(span.row[i])} of component {stream.name!r} has {int(lens[i])} tokens, "
                f"more than seq_len={L} (set LoaderConfig.overlong_pairs to 'truncate' or 'skip')"
            )
        if ok.all():
            use: np.ndarray = np.arange(num_rows - taken)
            consumed = num_rows - taken
        else:
            use = np.flatnonzero(ok)[: num_rows - taken]
            consumed = int(use[-1]) + 1 if len(use) == num_rows - taken else count
        parts.append((span.shard[use], np.minimum(lens[use], L), span.token_at[use], span.modality_at[use]))
        ordinals.append(n + use)
        overlongs.append(overlong[use])
        taken += len(use)
        n += consumed
    shard, length, token_at, modality_at = (
        parts[0] if len(parts) == 1 else [np.concatenate(f) for f in zip(*parts, strict=True)])
    used = np.concatenate(ordinals)
    truncated_so_far = np.cumsum(np.concatenate(overlongs)) if policy == "truncate" else np.zeros(num_rows, int)
    k = np.asarray(bounds, dtype=np.int64)
    last = np.maximum(k - 1, 0)  # num_rows >= 1: the planner skips components without rows
    at = np.where(k > 0, used[last] + 1, n0)
    truncated = np.where(k > 0, truncated_so_far[last], 0).tolist()
    skipped = (at - n0 - k).tolist()
    cursors = [(a, 0) for a in at.tolist()]
    segments = Segments(np.arange(num_rows, dtype=np.int64), np.zeros(num_rows, dtype=np.int64), length, shard,
                        token_at, modality_at)
    return PairPlan(segments, cursors, truncated, skipped)
