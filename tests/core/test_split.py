"""split_corpus: disjoint, complete, deterministic (byte-identical), the id alone decides, fraction as asked."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from trimodal_core import (
    CorpusManifest,
    ShardReader,
    ShardWriter,
    ShardWriterConfig,
    TokenSpace,
    is_validation,
    sha256_file,
    split_corpus,
)

from .conftest import make_records


def _ids(manifest: CorpusManifest) -> list[str]:
    ids: list[str] = []
    for shard in manifest.shards:
        with ShardReader(manifest.shard_path(shard), expected_fingerprint=manifest.fingerprint) as reader:
            ids += reader.table().column("example_id").to_pylist()
    return ids


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _write(tmp: Path, space: TokenSpace, records: list, *, target_bytes: int, name: str = "unit") -> Path:
    with ShardWriter(tmp / "shards", prefix="part", fingerprint=space.fingerprint,
                     config=ShardWriterConfig(target_bytes=target_bytes, rows_per_batch=16)) as writer:
        writer.write_all(records)
    shards = [dataclasses.replace(i, path=f"shards/{i.path}") for i in writer.close()]
    CorpusManifest(name=name, token_space=space.to_dict(), shards=shards, provenance={"pipeline": "unit-test"},
                   tokenizer_fingerprint="c" * 64).save(tmp / "manifest.json")
    return tmp / "manifest.json"


@pytest.fixture
def big(tmp_path: Path, space: TokenSpace) -> Path:
    return _write(tmp_path / "parent", space, make_records(space, 1500), target_bytes=40_000)


def test_split_is_disjoint_complete_and_validates(big: Path, tmp_path: Path) -> None:
    parent = CorpusManifest.load(big)
    result = split_corpus(big, tmp_path / "out", fraction=0.2, salt="s1",
                          writer_config=ShardWriterConfig(target_bytes=30_000, rows_per_batch=64))
    train, val = _ids(result.train), _ids(result.val)
    assert not set(train) & set(val)
    assert sorted(train + val) == sorted(_ids(parent))
    assert len(set(train)) == len(train) and len(set(val)) == len(val)
    # Fraction as asked: the count is binomial(1500, 0.2); 4 standard deviations.
    assert abs(len(val) - 300) < 4 * math.sqrt(1500 * 0.2 * 0.8)
    assert np.array_equal(np.array([i in set(val) for i in _ids(parent)]),
                          is_validation(_ids(parent), fraction=0.2, salt="s1"))
    for side, manifest in (("train", result.train), ("val", result.val)):
        loaded = CorpusManifest.load(tmp_path / "out" / side / "manifest.json")
        loaded.validate(check_sha256=True, expected_fingerprint=parent.fingerprint)
        assert loaded.token_space == parent.token_space and loaded.tokenizer_fingerprint == "c" * 64
        assert loaded.name == parent.name and len(loaded.shards) > 1  # the output rolled into several shards
        split = loaded.provenance["split"]
        assert split["role"] == side and split["fraction"] == 0.2 and split["salt"] == "s1"
        assert split["rows"] == {"train": len(train), "val": len(val)}
        assert (loaded.path.parent / split["parent_manifest"]).resolve() == big.resolve()
        assert split["parent_sha256"] == sha256_file(big)
        assert loaded.provenance["parent"] == {"pipeline": "unit-test"}
        assert manifest.num_rows == loaded.num_rows
    # Rows keep the parent's order on each side, regrouped into record batches of rows_per_batch.
    order = {i: k for k, i in enumerate(_ids(parent))}
    assert [order[i] for i in train] == sorted(order[i] for i in train)
    with ShardReader(result.train.shard_path(result.train.shards[0])) as reader:
        assert [reader.batch(b).num_rows for b in range(reader.num_batches - 1)] == [64] * (reader.num_batches - 1)


def test_split_is_byte_identical_on_rerun(big: Path, tmp_path: Path) -> None:
    split_corpus(big, tmp_path / "a", fraction=0.1, salt="x")
    split_corpus(big, tmp_path / "b", fraction=0.1, salt="x")
    first = _tree(tmp_path / "a")
    assert first == _tree(tmp_path / "b")
    with pytest.raises(ValueError, match="already holds a train split"):
        split_corpus(big, tmp_path / "a", fraction=0.1, salt="x")
    split_corpus(big, tmp_path / "a", fraction=0.1, salt="x", overwrite=True)
    assert _tree(tmp_path / "a") == first


def test_the_id_alone_decides(big: Path, tmp_path: Path, space: TokenSpace) -> None:
    records = make_records(space, 1500)
    resharded = _write(tmp_path / "resharded", space, records[::-1], target_bytes=10**9)  # other order, one shard
    a = split_corpus(big, tmp_path / "a", fraction=0.3, salt="x")
    b = split_corpus(resharded, tmp_path / "b", fraction=0.3, salt="x")
    assert set(_ids(a.val)) == set(_ids(b.val))
    other_salt = split_corpus(big, tmp_path / "c", fraction=0.3, salt="y")
    overlap = len(set(_ids(a.val)) & set(_ids(other_salt.val))) / len(_ids(a.val))
    assert abs(overlap - 0.3) < 0.08  # independent: a val example of salt x is in val of salt y ~30% of the time
    larger = split_corpus(big, tmp_path / "d", fraction=0.5, salt="x")
    assert set(_ids(a.val)) < set(_ids(larger.val))  # a larger fraction only adds examples


def test_bad_arguments_are_named(big: Path, tmp_path: Path) -> None:
    for bad in (0, 1, -0.1, float("nan")):
        with pytest.raises(ValueError, match="fraction must be in"):
            split_corpus(big, tmp_path / "x", fraction=bad, salt="s")
    with pytest.raises(ValueError, match="manifest not found"):
        split_corpus(tmp_path / "missing.json", tmp_path / "x", fraction=0.1, salt="s")
    assert is_validation(["a\udcff"], fraction=0.5, salt="s").shape == (1,)  # lone surrogates hash too


def test_write_batch_refuses_another_token_space(tmp_path: Path, space: TokenSpace) -> None:
    with ShardWriter(tmp_path / "a", prefix="a", fingerprint=space.fingerprint) as writer:
        writer.write_all(make_records(space, 5))
    with ShardReader(tmp_path / "a" / writer.close()[0].path) as reader:
        batch = reader.batch(0)
        other = ShardWriter(tmp_path / "b", prefix="b", fingerprint="0" * 16)
        with pytest.raises(ValueError, match="token-space fingerprint"):
            other.write_batch(batch)
        other.abort()
        with ShardWriter(tmp_path / "c", prefix="c", fingerprint=space.fingerprint) as same:
            same.write_all(make_records(space, 2, seed=1))
            same.write_batch(batch)  # pending records first, then the batch: order kept
    with ShardReader(tmp_path / "c" / same.close()[0].path) as reader:
        assert reader.num_rows == 7 and reader.table().column("example_id").to_pylist()[2:] == [
            f"ex-{i:04d}" for i in range(5)]
