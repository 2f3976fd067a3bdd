"""The global batch plan: which token spans of which examples fill each row of each global batch.

Every rank runs the same :class:`GlobalPlanner` (it reads only example lengths, never tokens), so all
ranks agree on the whole global batch and each materializes only its own slice of rows: nothing is
duplicated or skipped across ranks, and the resume state is global (the step, one stream cursor per
component, the exact-mixing carries and the overlong-pair counters), independent of the world size.

Layouts (the shard ``task`` column): a ``text`` component is *packed*: documents are laid end to end
and cut into rows of exactly ``seq_len`` tokens (a document that crosses a row end continues at the
start of the component's next row). Any other task is a *pair* component: one example per row, padded
to ``seq_len``; longer examples are truncated, skipped or rejected as configured (see ``layouts.py``).

Speed: per-step numpy calls on a few dozen spans were the loader's main cost, so :meth:`GlobalPlanner.next_item`
plans a chunk of steps at once (each component's rows for all of them in one layout call) and hands the
items out one by one; the batches and per-step resume states equal those of step-by-step planning.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import logging
from typing import Any, Literal

import numpy as np

from trimodal_core import derive_seed
from trimodal_train.data.config import LoaderConfig
from trimodal_train.data.layouts import Cursor, Segments, pack_split, pack_whole, pairs
from trimodal_train.data.mixing import WeightSchedule, exact_counts_steps, stochastic_counts
from trimodal_train.data.permutations import permutations
from trimodal_train.data.streams import ComponentStream

log = logging.getLogger(__name__)
PLAN_STATE_FORMAT = 1
Layout = Literal["packed", "pair"]


@dataclasses.dataclass(frozen=True)
class WorkItem:
    """One rank's share of one global batch, ready to be materialized (picklable, small)."""

    step: int
    row_component: np.ndarray
    """Component index of each local row."""
    segments: Segments
    """Spans sorted by (out_row, pos), out_row indexing local rows."""
    run_values: np.ndarray
    """Document id (int32) of each run of the flattened rows: padding (-1) before each span, the span's
    document number in its row, ..., and the padding after the last span; ``run_lengths`` are their lengths."""
    run_lengths: np.ndarray
    resume_state: dict[str, Any]
    """Planner state right after this batch: resuming from it yields the next batch."""


class GlobalPlanner:
    """Plans global batches (several steps per call, handed out one at a time); its state, the position after
    the last item handed out, is what the loader checkpoints."""

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
        # Steps planned together; 1 under overlong_pairs="error" so the error surfaces at the step it did.
        self._chunk_steps = 1 if config.overlong_pairs == "error" else max(1, min(64, 2048 // config.global_batch_size))
        self.load_state_dict(None)
        self._epochs_logged = [0] * len(streams)

    def clone(self) -> GlobalPlanner:
        """An independent planner over the same shards (own caches and state), at this one's state."""
        twin = GlobalPlanner([s.clone() for s in self.streams], self.layouts, self.schedule, self.config)
        twin.load_state_dict(self.state_dict())
        return twin

    # ---------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The position after the last item handed out by :meth:`next_item` (planned-ahead items excluded)."""
        return copy.deepcopy(self._position)

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        self._ahead: collections.deque[WorkItem] = collections.deque()
        if state is None:
            self.step = 0
            self.cursors: list[Cursor] = [(0, 0) for _ in self.names]
            self.carry = np.zeros(len(self.names))
            self.truncated = [0] * len(self.names)
            self.skipped = [0] * len(self.names)
        else:
            if state.get("format") != PLAN_STATE_FORMAT:
                raise ValueError(f"loader state: unknown plan format {state.get('format')!r}")
            if sorted(state["cursors"]) != sorted(self.names):
                raise ValueError(f"loader state: components {sorted(state['cursors'])} differ from the mixture's "
                                 f"{sorted(self.names)}")
            self.step = int(state["step"])
            self.cursors = [(int(state["cursors"][n][0]), int(state["cursors"][n][1])) for n in self.names]
            self.carry = np.array([float(state["carry"][n]) for n in self.names])
            self.truncated = [int(state["truncated"][n]) for n in self.names]
            self.skipped = [int(state["skipped"][n]) for n in self.names]
        self._position: dict[str, Any] = {
            "format": PLAN_STATE_FORMAT,
            "step": self.step,
            "cursors": {n: list(c) for n, c in zip(self.names, self.cursors, strict=True)},
            "carry": {n: float(c) for n, c in zip(self.names, self.carry, strict=True)},
            "truncated": dict(zip(self.names, self.truncated, strict=True)),
            "skipped": dict(zip(self.names, self.skipped, strict=True)),
        }

    # ---------------------------------------------------------------------------------- plan
    def next_item(self) -> WorkItem:
        """This rank's share of the next global batch (planned ahead in chunks of steps)."""
        if not self._ahead:
            self._ahead.extend(self._plan_chunk(self._chunk_steps))
        item = self._ahead.popleft()
        self._position = item.resume_state
        return item

    def _plan_chunk(self, num_steps: int) -> list[WorkItem]:
        """Plan the next ``num_steps`` global batches at once and keep this rank's rows of each.

        The mixing counts are decided step by step (carries), then each component's rows for all those
        steps are cut from its stream in one call, assigned to their steps and (per-step seeded) shuffled
        row positions, and sliced for this rank. The result is identical to planning step by step.
        """
        cfg = self.config
        G, K = cfg.global_batch_size, len(self.names)
        step0 = self.step
        probs = self.schedule.row_probs_steps(step0, num_steps)
        if cfg.mixing == "exact":
            counts, carries = exact_counts_steps(probs, G, self.carry)
            self.carry = carries[-1]
        else:
            counts = np.stack([stochastic_counts(probs[s], G, cfg.seed, step0 + s) for s in range(num_steps)])
            carries = np.tile(self.carry, (num_steps, 1))
        bounds = np.cumsum(counts, axis=0)  # rows of each component in steps 0..s
        first_row = np.cumsum(counts, axis=1) - counts  # first (unshuffled) row of each component in its batch
        cursors = [[cur] * num_steps for cur in self.cursors]
        truncated = [[t] * num_steps for t in self.truncated]
        skipped = [[k] * num_steps for k in self.skipped]
        parts, steps_of = [], []
        for c in range(K):
            if bounds[-1, c] == 0:
                continue
            stream, L = self.streams[c], cfg.seq_len
            if self.layouts[c] == "pair":
                plan = pairs(stream, self.cursors[c], bounds[:, c], L, cfg.overlong_pairs)
                seg, cursors[c] = plan.segments, plan.cursors
                truncated[c] = [self.truncated[c] + t for t in plan.truncated]
                skipped[c] = [self.skipped[c] + k for k in plan.skipped]
                self._count(c, plan.truncated[-1], plan.skipped[-1])
            elif cfg.split_documents:
                seg, cursors[c] = pack_split(stream, self.cursors[c], bounds[:, c], L)
            else:
                seg, cursors[c] = pack_whole(stream, self.cursors[c], bounds[:, c], L)
            step = np.searchsorted(bounds[:, c], seg.out_row, side="right")
            # Row inside the step's batch, before the shuffle: components in mixture order.
            row = seg.out_row - (bounds[step, c] - counts[step, c]) + first_row[step, c]
            parts.append(dataclasses.replace(seg, out_row=row))
            steps_of.append(step)
        segments = Segments.concat(parts)
        step = np.concatenate(steps_of) if len(steps_of) > 1 else steps_of[0]
        # Component of each row of each step, in mixture order (each step's counts sum to G).
        components = np.repeat(np.tile(np.arange(K, dtype=np.int64), num_steps), counts.ravel()).reshape(num_steps, G)
        if cfg.interleave_rows:
            # Row s: numpy_rng(seed, "loader", "rows", step).permutation(G), for the whole chunk in one call.
            orders = permutations([derive_seed(cfg.seed, "loader", "rows", step0 + s) for s in range(num_steps)], G)
            inverse = np.argsort(orders, axis=1)  # the inverse of each step's permutation
            components = np.take_along_axis(components, orders, axis=1)
            segments = dataclasses.replace(segments, out_row=inverse[step, segments.out_row])
        b = cfg.local_batch_size
        lo = cfg.rank * b
        if cfg.world_size > 1:
            keep = np.flatnonzero((segments.out_row >= lo) & (segments.out_row < lo + b))
            segments, step = segments.take(keep), step[keep]
            segments = dataclasses.replace(segments, out_row=segments.out_row - lo)
        # Spans of one row are contiguous and in position order: a stable sort by (step, row) keeps that order.
        order = np.argsort(step * G + segments.out_row, kind="stable")
        segments, step = segments.take(order), step[order]
        edges = np.searchsorted(step, np.arange(num_steps + 1))
        fill_values, fill_counts = _runs(segments, step, edges, rows=b, L=cfg.seq_len,
                                         number_documents=cfg.document_attention)
        edges = edges.tolist()
        self._log_epochs(counts, cursors, step0)
        # Per-step resume states, built column-wise (one dict per step and field).
        names = self.names
        cursor_rows = zip(*[[list(cur) for cur in cursors[c]] for c in range(K)], strict=True)
        rows = zip(cursor_rows, carries.tolist(), zip(*truncated, strict=True), zip(*skipped, strict=True), strict=True)
        items = []
        for s, (cur, carry, trunc, skip) in enumerate(rows):
            resume = {
                "format": PLAN_STATE_FORMAT,
                "step": step0 + s + 1,
                "cursors": dict(zip(names, cur, strict=True)),
                "carry": dict(zip(names, carry, strict=True)),
                "truncated": dict(zip(names, trunc, strict=True)),
                "skipped": dict(zip(names, skip, strict=True)),
            }
            runs = slice(2 * edges[s] + s, 2 * edges[s + 1] + s + 1)
            items.append(WorkItem(step=step0 + s, row_component=components[s, lo : lo + b],
                                  segments=segments.take(slice(edges[s], edges[s + 1])),
                                  run_values=fill_values[runs], run_lengths=fill_counts[runs], resume_state=resume))
        self.step = step0 + num_steps
        self.cursors = [cursors[c][-1] for c in range(K)]
        self.truncated = [truncated[c][-1] for c in range(K)]
        self.skipped = [skipped[c][-1] for c in range(K)]
        return items

    def _log_epochs(self, counts: np.ndarray, cursors: list[list[Cursor]], step0: int) -> None:
        """Log the first step of the chunk at which a component that contributes rows is in a new epoch."""
        for c in range(len(self.names)):
            epochs = np.array([cur[0] for cur in cursors[c]]) // self.streams[c].num_examples
            later = np.flatnonzero((counts[:, c] > 0) & (epochs > self._epochs_logged[c]))
            while later.size:
                s = int(later[0])
                self._epochs_logged[c] = int(epochs[s])
                log.info("component %r entered epoch %d at step %d", self.names[c], epochs[s], step0 + s)
                later = later[epochs[later] > epochs[s]]

    def _count(self, c: int, truncated: int, skipped: int) -> None:
        for kind, add, counter in (("truncated", truncated, self.truncated), ("skipped", skipped, self.skipped)):
            if add:
                if counter[c] == 0:
                    log.warning("component %r: %s examples longer than seq_len=%d (or empty); counted in "
                                "loader.counters()", self.names[c], kind, self.config.seq_len)
                counter[c] += add


def _runs(
    seg: Segments, step: np.ndarray, edges: np.ndarray, *, rows: int, L: int, number_documents: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal document id over every step's flattened ``rows x L`` batch, for all steps at once.

    Per step: padding before span 0, span 0, padding before span 1, ..., the last span, trailing padding
    (``2 * spans + 1`` runs); steps follow each other. Padding runs have id -1 and may be empty; a span's id
    is its document number within its row (0 for every span when ``number_documents`` is False).
    """
    n = len(step)
    dest = seg.out_row * L + seg.pos
    end = dest + seg.length
    new_step = np.ones(n, dtype=bool)
    np.not_equal(step[1:], step[:-1], out=new_step[1:])
    prev_end = np.zeros(n, dtype=np.int64)
    prev_end[1:] = end[:-1]
    prev_end[new_step] = 0
    values = np.full(2 * n + len(edges) - 1, -1, dtype=np.int32)
    lengths = np.empty(len(values), dtype=np.int64)
    at = 2 * np.arange(n) + 1 + step  # each earlier step adds one trailing run
    if number_documents:
        row_first = new_step.copy()
        row_first[1:] |= seg.out_row[1:] != seg.out_row[:-1]
        index = np.arange(n)
        values[at] = index - np.maximum.accumulate(np.where(row_first, index, 0))
    else:
        values[at] = 0
    lengths[at] = seg.length
    lengths[at - 1] = dest - prev_end
    tail = 2 * edges[1:] + np.arange(len(edges) - 1)
    lengths[tail] = rows * L - end[edges[1:] - 1]  # every row holds at least one span
    return values, lengths
