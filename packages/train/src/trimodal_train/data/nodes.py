"""The torchdata.nodes graph of the mixture loader: the ONLY module that imports torchdata.

torchdata's maintainers have stopped new development, so everything torchdata-specific is kept here:
swapping it for another pipeline library means rewriting this file only. The graph is

    PlanNode (global plan, this rank's rows) -> ParallelMapper / Mapper (assemble arrays in workers)
    -> Prefetcher -> Loader

Items travel in groups of a few consecutive batches: every item handed between threads costs tens of
microseconds of queue and wake-up CPU time (comparable to assembling a 32 x 2048 batch), so the loader
pays it once per group (:func:`group_size`) and flattens the groups itself.

Why not ``MultiNodeWeightedSampler``: it draws one component per item from a per-rank RNG, so a global
batch's composition is neither exact nor independent of the world size. The mixing decision is made by
:class:`~trimodal_train.data.planner.GlobalPlanner` instead, and torchdata supplies the workers, ordering,
prefetching and node protocol. Why not torchdata's own checkpoint state: it is per rank and restores by
re-running ("fast-forwarding") the items after the last snapshot. Each work item carries the planner state
that follows it, so the loader's state is just the state attached to the last batch it handed out, and
torchdata's per-item snapshots are switched off (``snapshot_frequency=0``): they cost time and are unused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from torchdata.nodes import BaseNode, Loader, Mapper, ParallelMapper, Prefetcher

from trimodal_train.data.planner import GlobalPlanner, WorkItem

GROUP_SLOTS = 2**20
"""Token slots (rows x ``seq_len``) per group of batches handed between threads (at most ``MAX_GROUP`` batches)."""
MAX_GROUP = 8


def group_size(rows: int, seq_len: int) -> int:
    """Batches per group: up to ``MAX_GROUP``, as many as fit ``GROUP_SLOTS`` token slots, at least one."""
    return max(1, min(MAX_GROUP, GROUP_SLOTS // max(1, rows * seq_len)))


class PlanNode(BaseNode[list[WorkItem]]):
    """Source node: an endless stream of groups of this rank's consecutive work items, from ``start_state``.

    A planning error (an overlong pair under ``overlong_pairs="error"``) ends the current group early and is
    raised by the next call, so the batches before it are still delivered, as without grouping.
    """

    def __init__(self, planner: GlobalPlanner, start_state: dict[str, Any] | None, group: int) -> None:
        super().__init__()
        self.planner = planner
        self.start_state = start_state
        self.group = group
        self._error: Exception | None = None

    def reset(self, initial_state: dict[str, Any] | None = None) -> None:
        super().reset(initial_state)
        self._error = None
        self.planner.load_state_dict(initial_state["plan"] if initial_state is not None else self.start_state)

    def next(self) -> list[WorkItem]:
        if self._error is not None:
            raise self._error
        items: list[WorkItem] = []
        try:
            for _ in range(self.group):
                items.append(self.planner.next_item())
        except Exception as exc:
            if not items:
                raise
            self._error = exc
        return items

    def get_state(self) -> dict[str, Any]:
        return {"plan": self.planner.state_dict()}


class AssembleGroup:
    """Maps a group of work items to their assembled batches (picklable for worker processes)."""

    def __init__(self, assemble: Callable[[WorkItem], dict[str, Any]]) -> None:
        self.assemble = assemble

    def __call__(self, items: list[WorkItem]) -> list[dict[str, Any]]:
        return [self.assemble(item) for item in items]


class Pipeline:
    """The node graph wrapped in a ``torchdata.nodes.Loader``, with an explicit shutdown.

    torchdata stops its threads in ``__del__``, which fails ("cannot join current thread") when the garbage
    collector happens to run in one of those threads; :meth:`close` stops them from the caller's thread.
    """

    def __init__(self, loader: Loader[Any], nodes: list[BaseNode[Any]]) -> None:
        self.loader = loader
        self._nodes = nodes

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for group in self.loader:
            yield from group

    def close(self) -> None:
        for node in reversed(self._nodes):  # consumer side first
            it = getattr(node, "_it", None)
            it = getattr(it, "_it", it)  # ParallelMapper wraps its iterator once more
            shutdown = getattr(it, "_shutdown", None)
            if shutdown is not None:
                shutdown()


def build_pipeline(
    planner: GlobalPlanner,
    assemble: Callable[[WorkItem], dict[str, Any]],
    *,
    start_state: dict[str, Any] | None,
    num_workers: int,
    worker_method: str,
    prefetch: int,
    group: int = 1,
) -> Pipeline:
    """The node graph; iterating it yields assembled numpy batches (handed between threads ``group`` at a time,
    so ``prefetch`` counts groups)."""
    nodes: list[BaseNode[Any]] = [PlanNode(planner, start_state, group)]
    mapper = AssembleGroup(assemble)
    if num_workers > 0:
        nodes.append(ParallelMapper(nodes[-1], mapper, num_workers=num_workers, in_order=True,
                                    method=worker_method, snapshot_frequency=0))  # type: ignore[arg-type]
    else:
        nodes.append(Mapper(nodes[-1], mapper))
    if prefetch > 0:
        nodes.append(Prefetcher(nodes[-1], prefetch_factor=prefetch, snapshot_frequency=0))
    return Pipeline(Loader(nodes[-1], restart_on_stop_iteration=False), nodes)
