"""WriteCorpus: shards + rejects + manifest through trimodal_core, byte-identical whatever the input order
and bundle layout, with the summary in the manifest provenance; rejects as Parquet or JSONL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from trimodal_core import CorpusManifest, Modality, ShardReader, ShardRecord, TokenSpace, TokenSpaceConfig
from trimodal_data.records import Reject
from trimodal_data.stats import corpus_stats, load_rejects
from trimodal_data.transforms.write import WriteConfig, WriteCorpus, prepare_output_dir

SPACE = TokenSpace(TokenSpaceConfig(text_vocab_size=50, image_codebook_size=1, audio_codebook_size=1,
                                    audio_num_codebooks=1))


def _read_rejects(manifest: CorpusManifest) -> list[Reject]:
    return [Reject(**row) for row in load_rejects(manifest).iter_rows(named=True)]


def _records(n: int) -> list[ShardRecord]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        length = int(rng.integers(3, 40))
        tokens = SPACE.to_global("text", rng.integers(0, 50, size=length))
        out.append(ShardRecord(example_id=f"doc-{i:03d}", source=f"src{i % 3}", task="text", tokens=tokens,
                               modality=np.full(length, Modality.TEXT, dtype=np.uint8)))
    return out


REJECTS = [
    Reject(id="bad-1", source="src0", reason="gopher_short_doc"),
    Reject(id="bad-2", source="src1", reason="invalid_json", detail="line 3"),
    Reject(id="dup-1", source="src0", reason="duplicate_exact", detail="doc-001"),
    Reject(id="dup-2", source="src0", reason="duplicate_near", detail="doc-001"),
]


def _write(out: Path, records: list[ShardRecord], rejects: list[Reject], config: WriteConfig) -> None:
    prepare_output_dir(out, overwrite=True)
    with BeamTestPipeline() as p:
        summary = {
            "examples": p | "Examples" >> beam.Create(records),
            "rejects": p | "Rejects" >> beam.Create(rejects),
            "read": p | "Read" >> beam.Create([len(records), len(rejects)]),
        } | WriteCorpus(out, name="toy", token_space=SPACE.to_dict(), provenance={"pipeline": "test"}, config=config)
        assert_that(summary | beam.Map(lambda s: (s["read"], s["kept"], s["balanced"])),
                    equal_to([(len(records) + len(rejects), len(records), True)]))


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_write_corpus_is_deterministic_and_complete(tmp_path: Path) -> None:
    records = _records(60)
    config = WriteConfig(num_buckets=4, shard_target_bytes=1500, rows_per_batch=8)
    _write(tmp_path / "a", records, REJECTS, config)
    _write(tmp_path / "b", records[::-1], REJECTS[::-1], config)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    manifest = CorpusManifest.load(tmp_path / "a" / "manifest.json")
    manifest.validate(check_sha256=True)
    assert manifest.num_rows == 60 and len(manifest.shards) > 4  # buckets roll into several shards
    assert manifest.tokens["text"] == sum(len(r.tokens) for r in records)
    summary = manifest.provenance["summary"]
    assert summary["rejected_by_reason"] == {"gopher_short_doc": 1, "invalid_json": 1}
    assert summary["duplicates_by_reason"] == {"duplicate_exact": 1, "duplicate_near": 1}
    assert manifest.provenance["pipeline"] == "test"
    ids = []
    for shard in manifest.shards:
        with ShardReader(manifest.shard_path(shard), expected_fingerprint=SPACE.fingerprint) as reader:
            ids += reader.table().column("example_id").to_pylist()
    assert sorted(ids) == [r.example_id for r in records]
    assert sorted(_read_rejects(manifest),
                  key=lambda r: r.id) == sorted(REJECTS, key=lambda r: r.id)


def test_jsonl_rejects_and_stats(tmp_path: Path) -> None:
    _write(tmp_path, _records(12), REJECTS, WriteConfig(num_buckets=2, rejects_format="jsonl"))
    manifest = CorpusManifest.load(tmp_path / "manifest.json")
    assert all(f.endswith(".jsonl") for f in manifest.provenance["rejects"]["files"])
    stats = corpus_stats(tmp_path)
    assert stats["rows"] == 12
    assert sum(s["rows"] for s in stats["per_source"].values()) == 12
    assert sum(stats["per_source"]["src0"]["length_histogram"].values()) == 4
    assert stats["rejects_by_reason"]["duplicate_near"] == 1
    assert stats["duplicate_cluster_sizes"] == {"3": 1}  # doc-001 and its two duplicates


def test_prepare_output_dir_refuses_existing_corpus(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(ValueError, match="overwrite"):
        prepare_output_dir(tmp_path, overwrite=False)
    prepare_output_dir(tmp_path, overwrite=True)
    assert not (tmp_path / "manifest.json").exists()
