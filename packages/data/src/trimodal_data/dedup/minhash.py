"""Near-duplicate removal with MinHash-LSH over word n-grams, verified, then connected components.

1. Each element's text becomes a set of word n-gram shingles (lowercased words, punctuation stripped;
   :func:`shingles` is the exact set, used by tests and the benchmark's brute-force reference) and a MinHash
   signature of ``num_bands * rows_per_band`` 32-bit values: each permutation is a multiply-shift hash
   ``(a * x + b) mod 2^64 >> 32`` of the 64-bit shingle hash (Dietzfelbinger et al. 1997; no modulo, so
   numpy computes it at memory speed), seeded with ``trimodal_core.derive_seed``, in bounded chunks.
2. LSH: each band of the signature is a bucket key; elements sharing a bucket are candidates. Inside a
   bucket, candidate pairs whose *estimated* Jaccard (fraction of equal signature values) comes close to
   ``threshold`` form a maximum spanning forest; each forest edge is then checked with the *exact*
   Jaccard of the two shingle sets (two joins on id, so a worker holds one element's shingles and its
   candidate partners'). The check is what lets the defaults (16 bands x 8 rows: high recall near 0.8)
   keep precision high.
3. Connected components merge clusters across buckets, so chains of near duplicates collapse to one keeper:
   the smallest id of the component; a join on id splits the elements into kept ones and
   ``Reject(reason="duplicate_near", detail=<keeper>)``.

This module is the Beam-free part (config, shingles, signatures, LSH band keys, the per-bucket edges);
:mod:`trimodal_data.transforms.minhash_dedup` wires it into Beam (steps 2-3 distributed: no step holds more
than one LSH bucket, one node's neighbourhood, or one id's element). Hand-written because
datasketch/datatrove are single-machine.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import xxhash

from trimodal_core import numpy_rng
from trimodal_data.hashing import GOLDEN, mix64
from trimodal_data.rules.text import PUNCTUATION

NEAR_REASON = "duplicate_near"
_SHIFT = np.uint64(32)
_CHUNK = 2048
_WORD_CACHE_SIZE = 1 << 19


@dataclasses.dataclass(frozen=True, kw_only=True)
class MinHashConfig:
    """MinHash-LSH near-duplicate detection."""

    enabled: bool = True
    """Run near-duplicate removal."""
    ngram: int = 5
    """Words per shingle (documents shorter than this are one shingle)."""
    num_bands: int = 16
    """LSH bands; the signature has ``num_bands * rows_per_band`` values."""
    rows_per_band: int = 8
    """Signature values per band. 16 x 8 makes pairs at Jaccard 0.8 candidates with probability 0.95."""
    threshold: float = 0.8
    """Jaccard similarity at or above which two documents are near duplicates."""
    verify: Literal["exact", "signature", "none"] = "exact"
    """How LSH candidates become duplicate edges. ``exact``: candidates whose signature estimate reaches
    ``threshold - candidate_margin`` are checked with the exact Jaccard of their shingle sets (two joins
    on id). ``signature``: the estimate alone must reach ``threshold``. ``none``: every LSH collision is an
    edge, as in datatrove/FineWeb."""
    candidate_margin: float = 0.1
    """With ``verify="exact"``: how far below ``threshold`` a signature estimate may be and still be
    checked exactly (the estimate's standard deviation at 0.8 with 128 values is about 0.035)."""
    max_bucket_pairwise: int = 1000
    """Buckets larger than this are verified against one representative per local cluster, not all pairs."""
    num_cc_rounds: int = 6
    """Large-star/small-star rounds of the connected-components stage."""
    seed: int = 1234
    """Seed of the hash permutations."""

    def __post_init__(self) -> None:
        for name in ("ngram", "num_bands", "rows_per_band", "num_cc_rounds", "max_bucket_pairwise"):
            if getattr(self, name) < 1:
                raise ValueError(f"MinHashConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"MinHashConfig.threshold must be in (0, 1], got {self.threshold}")
        if self.verify not in ("exact", "signature", "none"):
            raise ValueError(f"MinHashConfig.verify must be exact, signature or none, got {self.verify!r}")

    @property
    def num_perm(self) -> int:
        return self.num_bands * self.rows_per_band


def shingle_words(text: str) -> list[str]:
    """Lowercased whitespace-separated words with surrounding punctuation stripped (C-level maps)."""
    return list(filter(None, map(str.strip, text.lower().split(), itertools.repeat(PUNCTUATION))))


def shingles(text: str, ngram: int) -> set[tuple[str, ...]]:
    """The exact shingle set (for reference Jaccard computations)."""
    words = shingle_words(text)
    n = min(ngram, len(words))
    if n == 0:
        return set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set[Any], b: set[Any]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class MinHasher:
    """Signatures for one :class:`MinHashConfig` (cheap to build; build once per worker)."""

    def __init__(self, config: MinHashConfig) -> None:
        self.config = config
        rng = numpy_rng(config.seed, "minhash")
        self.a = rng.integers(0, 2**64, size=config.num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1)
        self.b = rng.integers(0, 2**64, size=config.num_perm, dtype=np.uint64, endpoint=False)
        # Raw lowercased token -> row of _table holding the xxh64 of its UTF-8 bytes once punctuation is stripped
        # (row 0: the token strips to nothing), shared across the documents a worker sees (most tokens recur
        # across documents), so the strip and the hash run once per distinct token; cleared when it grows past
        # _WORD_CACHE_SIZE so memory stays bounded.
        self._token_rows: dict[str, int] = {}
        self._table = np.zeros(4096, dtype=np.uint64)
        self._next_row = 1

    def _rows(self, tokens: list[str]) -> np.ndarray:
        rows = self._token_rows
        try:
            return np.fromiter(map(rows.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        except KeyError:
            pass
        missing = set(tokens).difference(rows)
        if len(rows) + len(missing) > _WORD_CACHE_SIZE:
            rows.clear()
            self._next_row = 1
            missing = set(tokens)
        words = {token: word for token in missing if (word := token.strip(PUNCTUATION))}
        rows.update(dict.fromkeys(missing.difference(words), 0))
        first, end = self._next_row, self._next_row + len(words)
        if end > self._table.size:
            self._table = np.resize(self._table, max(2 * self._table.size, end))
        self._table[first:end] = np.fromiter(
            map(xxhash.xxh64_intdigest, map(str.encode, words.values())), dtype=np.uint64, count=len(words)
        )
        rows.update(zip(words, range(first, end), strict=True))
        self._next_row = end
        return np.fromiter(map(rows.__getitem__, tokens), dtype=np.int64, count=len(tokens))

    def word_hashes(self, text: str) -> np.ndarray:
        """xxh64 of the UTF-8 bytes of each of :func:`shingle_words` ``(text)``, in order."""
        rows = self._rows(text.lower().split())
        if not rows.all():  # tokens made of punctuation only are not words
            rows = rows[rows != 0]
        return self._table[rows]

    def shingle_hashes(self, text: str) -> np.ndarray:
        """Unique 64-bit hashes of the text's word n-grams, sorted."""
        word_hashes = self.word_hashes(text)
        if not word_hashes.size:
            return np.zeros(0, dtype=np.uint64)
        n = min(self.config.ngram, word_hashes.size)
        count = word_hashes.size - n + 1
        with np.errstate(over="ignore"):
            combined = word_hashes[:count].copy()
            for k in range(1, n):
                combined = mix64(combined * GOLDEN) ^ word_hashes[k : k + count]
            combined = mix64(combined)
        return sorted_unique(combined)

    def signature(self, text: str) -> np.ndarray:
        """``num_perm`` uint32 MinHash values (all 0xFFFFFFFF for a text without words)."""
        return self.signature_of_hashes(self.shingle_hashes(text))

    def signature_of_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """The signature of precomputed :meth:`shingle_hashes`.

        ``min((a*x + b) >> 32) == min(a*x + b) >> 32`` (the shift is monotonic), so the shift is applied to
        the ``num_perm`` minima only, and the products are computed in place in a reused buffer.
        """
        sig = np.full(self.config.num_perm, np.uint64(0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
        if len(hashes):
            rows = min(len(hashes), _CHUNK)
            buffer = np.empty((rows, self.config.num_perm), dtype=np.uint64)
            with np.errstate(over="ignore"):
                for start in range(0, len(hashes), _CHUNK):
                    chunk = hashes[start : start + _CHUNK, None]
                    out = buffer[: len(chunk)]
                    np.multiply(chunk, self.a, out=out)
                    out += self.b
                    np.minimum(sig, out.min(axis=0), out=sig)
        return (sig >> _SHIFT).astype(np.uint32)

    def band_keys(self, signature: np.ndarray) -> list[bytes]:
        r = self.config.rows_per_band
        return [
            band.to_bytes(2, "little") + xxhash.xxh3_64_digest(signature[band * r : (band + 1) * r].tobytes())
            for band in range(self.config.num_bands)
        ]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of a 1-d array by sort + neighbour compare (numpy 2.3+'s hash-based ``np.unique`` is
    ~15x slower on the few-thousand-element uint64 arrays of one document)."""
    ordered = np.sort(values)
    if ordered.size < 2:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard of two sorted unique hash arrays (as :meth:`MinHasher.shingle_hashes` returns)."""
    if a.size == 0 and b.size == 0:
        return 1.0
    common = np.intersect1d(a, b, assume_unique=True).size
    return common / (a.size + b.size - common)


def bucket_edges(
    members: list[tuple[str, np.ndarray]], *, threshold: float, verify: str, max_pairwise: int
) -> Iterator[tuple[str, str]]:
    """Edges ``(smaller_id, larger_id)`` among the members of one LSH bucket.

    ``none``: a star from the smallest id. ``signature``: the verified clusters (pairs whose estimate
    reaches ``threshold``, joined by union-find) as stars from their smallest id. ``exact`` (``threshold``
    is then the loosened candidate threshold): a maximum spanning forest of the candidate pairs by
    estimated similarity, to be checked exactly downstream: few edges per cluster, and the most similar
    pairs, so that exact checks rarely cut a cluster that a better pair would have held together.
    Buckets over ``max_pairwise`` members compare each member with one representative per cluster.
    """
    members = sorted(members, key=lambda m: m[0])
    k = len(members)
    if k < 2:
        return
    ids = [m[0] for m in members]
    if verify == "none":
        for i in range(1, k):
            yield ids[0], ids[i]
        return
    sigs = np.stack([m[1] for m in members])
    parent = list(range(k))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs: list[tuple[float, int, int]] = []
    if k <= max_pairwise:
        for i in range(k - 1):
            sims = np.mean(sigs[i + 1 :] == sigs[i], axis=1)
            for j in np.flatnonzero(sims >= threshold):
                pairs.append((float(sims[j]), i, i + 1 + int(j)))
    else:
        reps: list[int] = []
        for i in range(k):
            if reps:
                sims = np.mean(sigs[reps] == sigs[i], axis=1)
                best = int(np.argmax(sims))
                if sims[best] >= threshold:
                    pairs.append((float(sims[best]), reps[best], i))
                    continue
            reps.append(i)
    # Kruskal: most similar first (ties by position, for determinism).
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    edges: list[tuple[int, int]] = []
    for _, i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
            edges.append((i, j))
    if verify == "exact":
        for i, j in edges:
            yield ids[i], ids[j]
    else:
        for i in range(k):
            root = find(i)
            if root != i:
                yield ids[root], ids[i]
