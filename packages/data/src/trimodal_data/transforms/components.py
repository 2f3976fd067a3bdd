"""Connected components of a large, sparse graph in Beam: alternating Large-Star / Small-Star.

Input: undirected edges ``(a, b)`` between element ids (strings that sort). Output: ``(id, root)`` for every
id that is *not* its component's root, where root is the component's smallest id, so "keep the smallest
id of each cluster, drop the rest" is a join away. Each round groups edges by node, so a worker only ever
holds one node's neighbourhood, never the graph. Kiveris et al., "Connected Components in MapReduce and
Beyond" (SoCC 2014): the alternation converges in O(log^2 n) rounds, in practice a handful; Beam has no
loops, so the rounds are unrolled (``num_rounds``). If a graph needs more rounds, the result errs on the
safe side (some clusters keep two members; nothing is dropped wrongly) and the ``components_unconverged``
counter says how many nodes were affected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import apache_beam as beam

from trimodal_data.metrics import ReasonCounters


def _both_directions(edge: tuple[str, str]) -> Iterator[tuple[str, str]]:
    a, b = edge
    if a != b:
        yield a, b
        yield b, a


def _then_both(
    element: tuple[str, Iterable[str]], step: Callable[[tuple[str, Iterable[str]]], Iterator[tuple[str, str]]]
) -> Iterator[tuple[str, str]]:
    """``step``'s edges, each in both directions."""
    for edge in step(element):
        yield from _both_directions(edge)


def _large_star(element: tuple[str, Iterable[str]]) -> Iterator[tuple[str, str]]:
    """Connect every strictly larger neighbour of ``u`` to the minimum of ``u``'s closed neighbourhood."""
    u, neighbours = element
    nbrs = set(neighbours)
    m = min(min(nbrs), u)
    for v in nbrs:
        if v > u:
            yield v, m


def _small_star(element: tuple[str, Iterable[str]]) -> Iterator[tuple[str, str]]:
    """Connect ``u`` and its smaller neighbours to the minimum among them."""
    u, neighbours = element
    smaller = {v for v in neighbours if v < u}
    if not smaller:
        return
    m = min(smaller)
    for v in smaller:
        if v != m:
            yield v, m
    yield u, m


class _Roots(beam.DoFn):
    def setup(self) -> None:
        self.counters = ReasonCounters()

    def process(self, element: tuple[str, Iterable[str]]) -> Iterator[tuple[str, str]]:
        u, neighbours = element
        nbrs = set(neighbours)
        m = min(nbrs)
        if m < u:
            if len(nbrs) > 1:
                # converged components are stars: a non-root has exactly one neighbour, the root
                self.counters.inc("components_unconverged")
            yield u, m


class ConnectedComponents(beam.PTransform):
    """``PCollection[(id, id)]`` edges -> ``PCollection[(id, root_id)]`` for every non-root node."""

    def __init__(self, num_rounds: int = 6) -> None:
        super().__init__()
        if num_rounds < 1:
            raise ValueError(f"num_rounds must be >= 1, got {num_rounds}")
        self.num_rounds = num_rounds

    def expand(self, edges: beam.PCollection) -> beam.PCollection:
        # Each step emits its new edges in both directions itself (one ParDo per step, not two).
        grouped = edges | "InitialBoth" >> beam.FlatMap(_both_directions) | "InitialGroup" >> beam.GroupByKey()
        for i in range(self.num_rounds):
            for name, step in (("LargeStar", _large_star), ("SmallStar", _small_star)):
                grouped = (
                    grouped
                    | f"{name}{i}" >> beam.FlatMap(_then_both, step)
                    | f"{name}{i}Group" >> beam.GroupByKey()
                )
        return grouped | "Roots" >> beam.ParDo(_Roots())
