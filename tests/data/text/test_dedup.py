"""Dedupe: MinHash estimates, verified LSH buckets, connected components, and the exact and near-duplicate
Beam transforms (TestPipeline + assert_that), including a chain of near duplicates collapsing to one keeper."""

from __future__ import annotations

import operator
import random

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from trimodal_data.dedup.minhash import MinHashConfig, MinHasher, bucket_edges, exact_jaccard, jaccard, shingles
from trimodal_data.hashing import text_key
from trimodal_data.records import Document, Reject
from trimodal_data.transforms.components import ConnectedComponents
from trimodal_data.transforms.exact_dedup import ExactDedup
from trimodal_data.transforms.minhash_dedup import MinHashDedup

# Public domain: Lincoln's Gettysburg Address (1863).
BASE = (
    "Four score and seven years ago our fathers brought forth on this continent a new nation conceived in "
    "Liberty and dedicated to the proposition that all men are created equal. Now we are engaged in a great "
    "civil war testing whether that nation or any nation so conceived and so dedicated can long endure. We are "
    "met on a great battlefield of that war. We have come to dedicate a portion of that field as a final "
    "resting place for those who here gave their lives that that nation might live. It is altogether fitting "
    "and proper that we should do this. But in a larger sense we can not dedicate we can not consecrate we can "
    "not hallow this ground. The brave men living and dead who struggled here have consecrated it far above "
    "our poor power to add or detract."
)


def _edit(text: str, num_edits: int, seed: int) -> str:
    rng = random.Random(seed)
    words = text.split()
    for _ in range(num_edits):
        words[rng.randrange(len(words))] = f"w{rng.randrange(10**6)}"
    return " ".join(words)


def test_signature_estimates_jaccard() -> None:
    hasher = MinHasher(MinHashConfig())
    errors = []
    for edits in (1, 3, 6, 12, 25):
        other = _edit(BASE, edits, seed=edits)
        true = jaccard(shingles(BASE, 5), shingles(other, 5))
        errors.append(float(np.mean(hasher.signature(BASE) == hasher.signature(other))) - true)
    assert max(abs(e) for e in errors) < 0.15
    assert abs(float(np.mean(errors))) < 0.06
    assert np.array_equal(hasher.signature(BASE), MinHasher(MinHashConfig()).signature(BASE))  # seeded
    assert not np.array_equal(hasher.signature(BASE), MinHasher(MinHashConfig(seed=7)).signature(BASE))
    assert np.array_equal(hasher.signature(BASE), hasher.signature(BASE.upper() + " !"))
    other = _edit(BASE, 6, seed=6)
    exact = exact_jaccard(hasher.shingle_hashes(BASE), hasher.shingle_hashes(other))
    assert exact == pytest.approx(jaccard(shingles(BASE, 5), shingles(other, 5)))


def test_bucket_edges_join_non_transitive_pairs() -> None:
    # a~c and b~c, but a and b are not similar: all three end up in one local cluster.
    a = np.array([1] * 10, dtype=np.uint32)
    b = np.array([1] * 6 + [2] * 4, dtype=np.uint32)  # 0.6 with a
    c = np.array([1] * 8 + [2] * 2, dtype=np.uint32)  # 0.8 with a, 0.8 with b
    members = [("c", c), ("a", a), ("b", b)]
    stars = set(bucket_edges(members, threshold=0.8, verify="signature", max_pairwise=10))
    assert stars == {("a", "c"), ("a", "b")}
    forest = set(bucket_edges(members, threshold=0.8, verify="exact", max_pairwise=10))
    assert forest == {("a", "c"), ("b", "c")}  # the similar pairs themselves, to be checked exactly
    assert set(bucket_edges(members, threshold=0.8, verify="exact", max_pairwise=1)) == {("a", "c")}
    assert set(bucket_edges(members, threshold=0.99, verify="none", max_pairwise=10)) == {("a", "b"), ("a", "c")}


def test_connected_components_match_union_find() -> None:
    rng = random.Random(0)
    nodes = [f"n{i:03d}" for i in range(150)]
    edges = [("n000", "n001"), ("n001", "n002"), ("n002", "n003"), ("n003", "n004")]  # a chain
    edges += [(rng.choice(nodes[10:]), rng.choice(nodes[10:])) for _ in range(90)]
    parent = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    touched = {n for e in edges for n in e if e[0] != e[1]}
    expected = [(n, find(n)) for n in sorted(touched) if find(n) != n]
    with BeamTestPipeline() as p:
        roots = p | beam.Create(edges) | ConnectedComponents(num_rounds=6)
        assert_that(roots, equal_to(expected))


def test_exact_dedup_keeps_smallest_id() -> None:
    docs = [
        Document(id="b", source="s1", text="same text"),
        Document(id="a", source="s2", text="same text"),
        Document(id="c", source="s1", text="other text"),
    ]
    with BeamTestPipeline() as p:
        out = p | beam.Create(docs) | ExactDedup(
            key_fn=lambda d: text_key(d.text), id_fn=operator.attrgetter("id"), source_fn=operator.attrgetter("source")
        )
        assert_that(out.kept | beam.Map(lambda d: d.id), equal_to(["a", "c"]), label="kept")
        assert_that(
            out.rejects, equal_to([Reject(id="b", source="s1", reason="duplicate_exact", detail="a")]), label="rej"
        )


def test_minhash_dedup_collapses_a_chain_to_the_smallest_id() -> None:
    # d0 ~ d1 ~ d2 ~ d3 (each a few edits from the previous one); "other" is unrelated.
    chain = [BASE]
    for i in range(3):
        chain.append(_edit(chain[-1], 2, seed=100 + i))
    docs = [Document(id=f"d{i}", source="chain", text=t) for i, t in enumerate(chain)]
    docs.append(Document(id="other", source="x", text=_edit(BASE, 60, seed=1)))
    assert jaccard(shingles(chain[0], 5), shingles(chain[3], 5)) < 0.8  # the ends alone are not duplicates
    with BeamTestPipeline() as p:
        out = p | beam.Create(docs) | MinHashDedup(
            MinHashConfig(),
            text_fn=operator.attrgetter("text"),
            id_fn=operator.attrgetter("id"),
            source_fn=operator.attrgetter("source"),
        )
        assert_that(out.kept | beam.Map(lambda d: d.id), equal_to(["d0", "other"]), label="kept")
        assert_that(
            out.rejects | beam.Map(lambda r: (r.id, r.reason, r.detail)),
            equal_to([(f"d{i}", "duplicate_near", "d0") for i in (1, 2, 3)]),
            label="rejects",
        )


def test_signature_and_shingle_hashes_equal_the_direct_formulas(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast paths (word-hash cache, sort-based unique, shift after the minimum) give the values of the
    plain definitions: np.unique of the n-gram hashes, and min over shingles of ``(a*x + b) mod 2^64 >> 32``."""
    import xxhash

    import trimodal_data.dedup.minhash as minhash_module
    from trimodal_data.dedup.minhash import shingle_words
    from trimodal_data.hashing import GOLDEN, mix64

    texts = [BASE, _edit(BASE, 9, seed=3), "One two", "", "Ünïcode wörds, ünïcode WÖRDS! " * 40, "-- ... ,", "(a) b. c"]
    reference = MinHasher(MinHashConfig())
    hashes = [reference.shingle_hashes(t) for t in texts]
    for text, h in zip(texts, hashes, strict=True):  # the definition: xxh64 of each word, n-gram chain, unique
        words = np.array([xxhash.xxh64_intdigest(w.encode()) for w in shingle_words(text)], dtype=np.uint64)
        assert np.array_equal(reference.word_hashes(text), words)
        n = min(5, words.size)
        combined = words[: words.size - n + 1].copy()
        with np.errstate(over="ignore"):
            for k in range(1, n):
                combined = mix64(combined * GOLDEN) ^ words[k : k + words.size - n + 1]
        assert np.array_equal(h, np.unique(mix64(combined)) if words.size else words)
    # A tiny cache that is cleared between documents must not change any hash.
    monkeypatch.setattr(minhash_module, "_WORD_CACHE_SIZE", 8)
    small = MinHasher(MinHashConfig())
    for text, expected in zip(texts, hashes, strict=True):
        got = small.shingle_hashes(text)
        assert np.array_equal(got, expected)
        assert np.array_equal(got, np.unique(got)) and got.dtype == np.uint64
    assert len(small._token_rows) <= 8 + max(len(set(t.lower().split())) for t in texts)
    for h in hashes:
        with np.errstate(over="ignore"):
            direct = ((h[:, None] * reference.a + reference.b) >> np.uint64(32)).min(axis=0) if h.size else None
        expected = np.full(128, 0xFFFFFFFF, np.uint32) if direct is None else direct.astype(np.uint32)
        assert np.array_equal(reference.signature_of_hashes(h), expected)
