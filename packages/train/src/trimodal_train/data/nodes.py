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
that follows it, so the loader's state is just the state attached to the last batch it handed out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


def build_pipeline(
    planner: GlobalPlanner,
    assemble: Callable[[WorkItem], dict[str, Any]],
    *,
    start_state: dict[str, Any] | None,
    num_workers: int,
    worker_method: str,
    prefetch: int,
) -> Iterable[dict[str, Any]]:
    """The node graph wrapped in a ``torchdata.nodes.Loader``; iterating it yields assembled numpy batches."""
    node: BaseNode[Any] = PlanNode(planner, start_state)
    if num_workers > 0:
        node = ParallelMapper(node, assemble, num_workers=num_workers, in_order=True, method=worker_method)
    else:
        node = Mapper(node, assemble)
    if prefetch > 0:
        node = Prefetcher(node, prefetch_factor=prefetch)
    return Loader(node, restart_on_stop_iteration=False)
