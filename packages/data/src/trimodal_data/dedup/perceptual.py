"""Perceptual-hash near-duplicate detection for images (``imagehash.phash``, 64 bits).

Two images are near duplicates when their pHashes differ in at most ``max_distance`` bits: a re-encoded
JPEG or a resized copy typically differs in 0-4 bits, unrelated photos in ~32. Candidate pairs come from
banding (pigeonhole): split the 64 bits into ``max_distance + 1`` bands; two hashes within the distance
agree exactly on at least one band, so only hashes sharing a band value are compared. This finds every
pair within the distance (no false negatives) without the all-pairs comparison.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from PIL import Image


@dataclasses.dataclass(frozen=True, kw_only=True)
class PerceptualDedupConfig:
    """Perceptual-hash dedupe settings."""

    hash_size: int = 8
    """pHash grid side; the hash has ``hash_size**2`` bits (64 by default)."""
    max_distance: int = 4
    """Hamming distance at or below which two images are near duplicates."""

    def __post_init__(self) -> None:
        if self.hash_size != 8:
            raise ValueError(f"PerceptualDedupConfig.hash_size: only 8 (64-bit hashes), got {self.hash_size}")
        if not 0 <= self.max_distance < 32:
            raise ValueError(f"PerceptualDedupConfig.max_distance must be in [0, 32), got {self.max_distance}")


def phash64(image: Image.Image) -> int:
    """The 64-bit DCT perceptual hash of ``image`` as an unsigned integer."""
    import imagehash  # the [image] extra; imported here so the stage configs import without it

    bits = imagehash.phash(image, hash_size=8).hash.flatten()
    return int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    """Bits that differ between two hashes."""
    return (a ^ b).bit_count()


def band_keys(value: int, max_distance: int) -> list[tuple[int, int]]:
    """The hash's pigeonhole band keys ``(band index, band bits)``: two hashes within ``max_distance`` bits share
    at least one."""
    return [(index, (value >> lo) & ((1 << (hi - lo)) - 1)) for index, (lo, hi) in enumerate(bands(max_distance))]


def bands(max_distance: int) -> list[tuple[int, int]]:
    num = max_distance + 1
    edges = [round(i * 64 / num) for i in range(num + 1)]
    return [(edges[i], edges[i + 1]) for i in range(num)]


def near_duplicate_pairs(hashes: Sequence[int], config: PerceptualDedupConfig) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, whose hashes are within ``config.max_distance`` bits, sorted: the
    pipeline's ``HammingEdges`` in one process (same band keys, same check), for benchmarks and small sets."""
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, value in enumerate(hashes):
        for key in band_keys(value, config.max_distance):
            buckets[key].append(index)
    return sorted({(a, b) for members in buckets.values() for k, a in enumerate(members) for b in members[k + 1 :]
                   if hamming(hashes[a], hashes[b]) <= config.max_distance})
