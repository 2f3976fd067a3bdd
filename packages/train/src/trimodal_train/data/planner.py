"""The global batch plan: which token spans of which examples fill each row of each global batch.

Every rank runs the same :class:`GlobalPlanner` (it reads only example lengths, never tokens), so all
ranks agree on the whole global batch and each materializes only its own slice of rows: nothing is
duplicated or skipped across ranks, and the resume state is global (the step, one stream cursor per
component, the exact-mixing carries and the overlong-pair counters), independent of the world size.

Layouts (the shard ``task`` column): a ``text`` component is *packed*: documents are laid end to end
and cut into rows of exactly ``seq_len`` tokens (a document that crosses a row end continues at the
start of the component's next row). Any other task is a *pair* component: one example per row, padded
to ``seq_len``; longer examples are truncated, skipped or rejected as configured.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any, Literal

import numpy as np

from trimodal_core import numpy_rng
from trimodal_train.data.config import LoaderConfig
from trimodal_train.data.mixing import WeightSchedule, exact_counts, stochastic_counts
from trimodal_train.data.streams import ComponentStream

log = logging.getLogger(__name__)
PLAN_STATE_FORMAT = 1
Layout = Literal["packed", "pair"]


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


@dataclasses.dataclass(frozen=True)
class WorkItem:
    """One rank's share of one global batch, ready to be materialized (picklable, small)."""

    step: int
    row_component: np.ndarray
    """Component index of each local row."""
    segments: Segments
    """Spans sorted by (out_row, pos), out_row indexing local rows."""
    resume_state: dict[str, Any]
    """Planner state right after this batch: resuming from it yields the next batch."""


class GlobalPlanner:
    """Plans global batches step by step; its state is what the loader checkpoints."""

    def __init__(
        self,
        streams: list[ComponentStream],
        layouts: list[Layout],
        schedule: WeightSchedule,
        config: LoaderConfig,
    ) -> None:
        self.streams = streams
        self.layouts = layouts
        self.schedule = schedule
        self.config = config
        self.names = [s.name for s in streams]
        self.load_state_dict(None)
        self._epochs_logged = [0] * len(streams)

    def clone(self) -> GlobalPlanner:
        """An independent planner over the same shards (own caches and state), at this one's state."""
        twin = GlobalPlanner([s.clone() for s in self.streams], self.layouts, self.schedule, self.config)
        twin.load_state_dict(self.state_dict())
        return twin

    # ---------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": PLAN_STATE_FORMAT,
            "step": self.step,
            "cursors": {n: list(c) for n, c in zip(self.names, self.cursors, strict=True)},
            "carry": {n: float(c) for n, c in zip(self.names, self.carry, strict=True)},
            "truncated": dict(zip(self.names, self.truncated, strict=True)),
            "skipped": dict(zip(self.names, self.skipped, strict=True)),
        }

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is None:
            self.step = 0
            self.cursors = [(0, 0) for _ in self.names]
            self.carry = np.zeros(len(self.names))
            self.truncated = [0] * len(self.names)
            self.skipped = [0] * len(self.names)
            return
        if state.get("format") != PLAN_STATE_FORMAT:
            raise ValueError(f"loader state: unknown plan format {state.get('format')!r}")
        if sorted(state["cursors"]) != sorted(self.names):
            raise ValueError(
                f"loader state: components {sorted(state['cursors'])} differ from the mixture's {sorted(self.names)}"
            )
        state = copy.deepcopy(state)
        self.step = int(state["step"])
        self.cursors = [(int(state["cursors"][n][0]), int(state["cursors"][n][1])) for n in self.names]
        self.carry = np.array([float(state["carry"][n]) for n in self.names])
        self.truncated = [int(state["truncated"][n]) for n in self.names]
        self.skipped = [int(state["skipped"][n]) for n in self.names]

    # ---------------------------------------------------------------------------------- plan
    def next_global(self) -> tuple[np.ndarray, Segments]:
        """Plan the next global batch: component of each row, and spans (out_row = global row), sorted by
        (out_row, pos)."""
        cfg = self.config
        probs = self.schedule.row_probs(self.step)
        if cfg.mixing == "exact":
            counts, self.carry = exact_counts(probs, cfg.global_batch_size, self.carry)
        else:
            counts = stochastic_counts(probs, cfg.global_batch_size, cfg.seed, self.step)
        parts, first_row = [], 0
        for c, count in enumerate(counts.tolist()):
            if count == 0:
                continue
            if self.layouts[c] == "pair":
                seg = self._pairs(c, count)
            elif cfg.split_documents:
                seg = self._pack_split(c, count)
            else:
                seg = self._pack_whole(c, count)
            if first_row:
                seg.out_row[:] += first_row  # freshly computed arrays: shift in place
            parts.append(seg)
            first_row += count
            self._log_epoch(c)
        segments = Segments.concat(parts)
        components = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        if cfg.interleave_rows:
            order = numpy_rng(cfg.seed, "loader", "rows", self.step).permutation(cfg.global_batch_size)
            inverse = np.empty_like(order)
            inverse[order] = np.arange(len(order))
            components = components[order]
            out_row = inverse[segments.out_row]
            # Spans of one row are contiguous and in position order: a stable sort by row keeps that order.
            segments = segments.take(np.argsort(out_row, kind="stable"))
            segments = dataclasses.replace(segments, out_row=np.sort(out_row))
        self.step += 1
        return components, segments

    def next_item(self) -> WorkItem:
        """Plan the next global batch and keep this rank's rows."""
        step = self.step
        components, segments = self.next_global()
        b = self.config.local_batch_size
        if self.config.world_size > 1:
            lo = self.config.rank * b
            first, stop = np.searchsorted(segments.out_row, (lo, lo + b)).tolist()
            segments = segments.take(slice(first, stop))
            segments = dataclasses.replace(segments, out_row=segments.out_row - lo)
            components = components[lo : lo + b]
        return WorkItem(step=step, row_component=components, segments=segments, resume_state=self.state_dict())

    # ------------------------------------------------------------------------------ layouts
    def _pack_split(self, c: int, num_rows: int) -> Segments:
        """``num_rows`` rows cut from the component's document stream, each exactly ``seq_len`` tokens."""
        L = self.config.seq_len
        n, off = self.cursors[c]
        need = num_rows * L
        count = int(need / self.streams[c].mean_length * 1.25) + 16  # usually one lookup suffices
        while True:
            span = self.streams[c].span(n, count)
            eff = span.length.copy()
            eff[0] -= off
            ends = np.cumsum(eff)
            if ends[-1] >= need:
                break
            count *= 2
        last = int(np.searchsorted(ends, need, side="left"))
        ends = ends[: last + 1]
        starts = ends - eff[: last + 1]
        cuts = np.unique(np.concatenate([starts, ends, np.arange(0, need + 1, L)]))
        cuts = cuts[: np.searchsorted(cuts, need, side="right")]
        a, b = cuts[:-1], cuts[1:]
        doc = np.searchsorted(ends, a, side="right")
        begin = a - starts[doc]
        begin[doc == 0] += off
        out_row = a // L
        if ends[last] == need:
            self.cursors[c] = (n + last + 1, 0)
        else:
            self.cursors[c] = (n + last, int(need - starts[last] + (off if last == 0 else 0)))
        return Segments(out_row, a - out_row * L, b - a, span.shard[doc], span.token_at[doc] + begin,
                        span.modality_at[doc] + begin)

    def _pack_whole(self, c: int, num_rows: int) -> Segments:
        """Rows of whole documents: one that does not fit in the rest of a row starts the next row."""
        L = self.config.seq_len
        n, off = self.cursors[c]
        out: list[tuple[int, int, int, int]] = []
        r = p = 0
        lens = self.streams[c].span(n, 4 * num_rows + 16).length.tolist()
        base = n
        while r < num_rows:
            i = n - base
            if i >= len(lens):
                base = n
                lens = self.streams[c].span(n, 4 * num_rows + 16).length.tolist()
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
        self.cursors[c] = (n, off)
        cols = np.array(out, dtype=np.int64).reshape(-1, 5).T
        first = int(cols[2].min()) if len(out) else n
        span = self.streams[c].span(first, (int(cols[2].max()) + 1 - first) if len(out) else 1)
        doc = cols[2] - first
        return Segments(cols[0], cols[1], cols[4], span.shard[doc], span.token_at[doc] + cols[3],
                        span.modality_at[doc] + cols[3])

    def _pairs(self, c: int, num_rows: int) -> Segments:
        """One example per row; overlong ones handled by ``config.overlong_pairs``, empty ones skipped."""
        cfg = self.config
        L = cfg.seq_len
        n, _ = self.cursors[c]
        parts = []
        taken = 0
        while taken < num_rows:
            count = num_rows - taken + 8
            span = self.streams[c].span(n, count)
            lens = span.length
            ok = lens > 0
            overlong = lens > L
            if cfg.overlong_pairs == "skip":
                ok &= ~overlong
            elif cfg.overlong_pairs == "error" and overlong.any():
                i = int(np.flatnonzero(overlong)[0])
                path = self.streams[c].store.paths[int(span.shard[i])]
                raise ValueError(
                    f"{path}: row {int(span.row[i])} of component {self.names[c]!r} has {int(lens[i])} tokens, "
                    f"more than seq_len={L} (set LoaderConfig.overlong_pairs to 'truncate' or 'skip')"
                )
            if ok.all():
                use: np.ndarray | slice = slice(0, num_rows - taken)
                used, consumed = num_rows - taken, num_rows - taken
            else:
                use = np.flatnonzero(ok)[: num_rows - taken]
                used = len(use)
                consumed = int(use[-1]) + 1 if used == num_rows - taken else count
            truncated = int(overlong[use].sum()) if cfg.overlong_pairs == "truncate" else 0
            self._count(c, truncated, consumed - used)
            parts.append((span.shard[use], np.minimum(lens[use], L), span.token_at[use], span.modality_at[use]))
            taken += used
            n += consumed
        self.cursors[c] = (n, 0)
        shard, length, token_at, modality_at = (
            parts[0] if len(parts) == 1 else [np.concatenate(f) for f in zip(*parts, strict=True)])
        return Segments(np.arange(num_rows, dtype=np.int64), np.zeros(num_rows, dtype=np.int64), length, shard,
                        token_at, modality_at)

    def _log_epoch(self, c: int) -> None:
        epoch = self.cursors[c][0] // self.streams[c].num_examples
        if epoch > self._epochs_logged[c]:
            self._epochs_logged[c] = epoch
            log.info("component %r entered epoch %d at step %d", self.names[c], epoch, self.step)

    def _count(self, c: int, truncated: int, skipped: int) -> None:
        for kind, add, counter in (("truncated", truncated, self.truncated), ("skipped", skipped, self.skipped)):
            if add:
                if counter[c] == 0:
                    log.warning("component %r: %s examples longer than seq_len=%d (or empty); counted in "
                                "loader.counters()", self.names[c], kind, self.config.seq_len)
                counter[c] += add
