from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from trimodal_core import ShardReader, ShardRecord, ShardWriter, ShardWriterConfig, TokenSpace
from trimodal_core.shard_schema import META_FINGERPRINT, META_SCHEMA_VERSION, shard_schema

from .conftest import make_records


def _write(tmp_path: Path, space: TokenSpace, records: list[ShardRecord], **cfg: int) -> list[Path]:
    with ShardWriter(tmp_path, prefix="s", fingerprint=space.fingerprint, config=ShardWriterConfig(**cfg)) as w:
        w.write_all(records)
    return [tmp_path / info.path for info in w.close()]


def test_round_trip_preserves_every_row(tmp_path: Path, space: TokenSpace) -> None:
    records = make_records(space, 100)
    paths = _write(tmp_path, space, records, target_bytes=5000, rows_per_batch=10)
    assert len(paths) > 1, "small target_bytes must roll to several shards"
    rows = []
    for path in paths:
        with ShardReader(path, expected_fingerprint=space.fingerprint) as reader:
            for batch in reader.iter_batches():
                rows.extend(batch.to_pylist())
    assert [r["example_id"] for r in rows] == [r.example_id for r in records]
    for row, record in zip(rows, records, strict=True):
        assert row["tokens"] == record.tokens.tolist()
        assert row["modality"] == record.modality.tolist()
        assert row["num_tokens"] == len(record.tokens)
        assert row["num_image_tokens"] == 16
        assert row["num_special_tokens"] + row["num_text_tokens"] + row["num_image_tokens"] == row["num_tokens"]


def test_writer_is_deterministic_and_leaves_no_temp_files(tmp_path: Path, space: TokenSpace) -> None:
    records = make_records(space, 50, seed=3)
    a = _write(tmp_path / "a", space, records, target_bytes=4000, rows_per_batch=7)
    b = _write(tmp_path / "b", space, records, target_bytes=4000, rows_per_batch=7)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]


def test_failed_write_removes_the_partial_shard(tmp_path: Path, space: TokenSpace) -> None:
    records = make_records(space, 30)
    with pytest.raises(RuntimeError), ShardWriter(tmp_path, prefix="s", fingerprint=space.fingerprint,
                                                  config=ShardWriterConfig(rows_per_batch=4)) as writer:
        writer.write_all(records[:10])
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_bad_records_are_refused(space: TokenSpace) -> None:
    with pytest.raises(ValueError, match="2 tokens but 1 modality"):
        ShardRecord(example_id="x", source="s", task="text", tokens=np.array([1, 2]), modality=np.array([0]))


def test_truncated_shard_names_the_file(tmp_path: Path, space: TokenSpace) -> None:
    (path,) = _write(tmp_path, space, make_records(space, 20))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"{path.name}.*truncated or corrupt"):
        ShardReader(path)


def test_wrong_schema_and_unknown_version_and_fingerprint(tmp_path: Path, space: TokenSpace) -> None:
    other = tmp_path / "other.arrow"
    table = pa.table({"example_id": ["a"], "tokens": [[1, 2]]})
    with pa.OSFile(str(other), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    with pytest.raises(ValueError, match=rf"{other.name}.*not a trimodal shard"):
        ShardReader(other)

    schema = shard_schema(space.fingerprint)
    bad_type = schema.set(schema.get_field_index("tokens"), pa.field("tokens", pa.list_(pa.int64())))
    wrong = tmp_path / "wrong.arrow"
    with pa.OSFile(str(wrong), "wb") as sink, pa.ipc.new_file(sink, bad_type) as w:
        pass
    with pytest.raises(ValueError, match=r"wrong.arrow: column 'tokens' has type"):
        ShardReader(wrong)

    future = tmp_path / "future.arrow"
    meta = {META_SCHEMA_VERSION: b"999", META_FINGERPRINT: space.fingerprint.encode()}
    with pa.OSFile(str(future), "wb") as sink, pa.ipc.new_file(sink, schema.with_metadata(meta)) as w:
        pass
    with pytest.raises(ValueError, match=r"future.arrow: unknown shard schema version 999"):
        ShardReader(future)

    (good,) = _write(tmp_path / "g", space, make_records(space, 3))
    with pytest.raises(ValueError, match=rf"{good.name}: token-space fingerprint mismatch"):
        ShardReader(good, expected_fingerprint="0" * 16)
    with pytest.raises(ValueError, match="shard not found"):
        ShardReader(tmp_path / "missing.arrow")
