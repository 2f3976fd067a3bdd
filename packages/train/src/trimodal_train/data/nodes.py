"""The torchdata.nodes graph of the mixture loader: the ONLY module that imports torchdata.

torchdata's maintainers have stopped new development, so everything torchdata-specific is kept here:
swapping it for another pipeline library means rewriting this file only. The graph is

    PlanNode (global plan, this rank's rows) -> ParallelMapper / Mapper (assemble arrays in workers)
    -> Prefetcher -> Loader

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


class PlanNode(BaseNode[WorkItem]):
    """Source node: an endless stream of this rank's work items, starting at ``start_state``."""

    def __init__(self, planner: GlobalPlanner, start_state: dict[str, Any] | None) -> None:
        super().__init__()
        self.planner = planner
        self.start_state = start_state

    def reset(self, initial_state: dict[str, Any] | None = None) -> None:
        super().reset(initial_state)
        self.planner.load_state_dict(initial_state["plan"] if initial_state is not None else self.start_state)

    def next(self) -> WorkItem:
        return self.planner.next_item()

    def get_state(self) -> dict[str, Any]:
        return {"plan": self.planner.state_dict()}


class Pipeline:
    """The node graph wrapped in a ``torchdata.nodes.Loader``, with an explicit shutdown.

    torchdata stops its threads in ``__del__``, which fails ("cannot join current thread") when the garbage
    collector happens to run in one of those threads; :meth:`close` stops them from the caller's thread.
    """

    def __init__(self, loader: Loader[Any], nodes: list[BaseNode[Any]]) -> None:
        self.loader = loader
        self._nodes = nodes

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.loader)

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
) -> Pipeline:
    """The node graph; iterating it yields assembled numpy batches."""
    nodes: list[BaseNode[Any]] = [PlanNode(planner, start_state)]
    if num_workers > 0:
        nodes.append(ParallelMapper(nodes[-1], assemble, num_workers=num_workers, in_order=True,
                                    method=worker_method, snapshot_frequency=0))  # type: ignore[arg-type]
    else:
        nodes.append(Mapper(nodes[-1], assemble))
    if prefetch > 0:
        nodes.append(Prefetcher(nodes[-1], prefetch_factor=prefetch, snapshot_frequency=0))
    return Pipeline(Loader(nodes[-1], restart_on_stop_iteration=False), nodes)
