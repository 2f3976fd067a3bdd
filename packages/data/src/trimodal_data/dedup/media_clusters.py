"""Collapse near-duplicate pairs into clusters and pick one keeper per cluster (the smallest id).

Used by the image and audio dedupe stages, which find candidate pairs over compact signatures (64-bit
perceptual hashes, embeddings) gathered in one worker: union-find with path halving is linear in the
pairs, and choosing the smallest id as keeper makes the result independent of pair order, so reruns and
different worker counts remove the same elements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def keepers_from_pairs(ids: Sequence[str], pairs: Iterable[tuple[int, int]]) -> dict[str, str]:
    """Map every removed id to the id kept in its cluster; ids in no pair (and keepers) are absent.

    Args:
        ids: element ids, indexed by the integers in ``pairs``.
        pairs: index pairs judged duplicates (either order; self-pairs ignored).
    """
    parent = list(range(len(ids)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            # Root at the smaller id so the root is the keeper.
            if ids[ra] <= ids[rb]:
                parent[rb] = ra
            else:
                parent[ra] = rb
    removed: dict[str, str] = {}
    for i in range(len(ids)):
        root = find(i)
        if root != i:
            removed[ids[i]] = ids[root]
    return removed
