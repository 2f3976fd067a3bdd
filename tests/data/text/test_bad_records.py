"""One bad record never stops a run: records that used to crash the reader or the writer (deep nesting, a lone
surrogate in the id, wrong types, a 5000-digit integer) become rejects, and an id repeated across inputs is
reported once as ``duplicate_id`` with a kept copy that does not depend on the order the inputs arrive in."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from trimodal_core import CorpusManifest, ShardReader
from trimodal_data.dedup.minhash import MinHashConfig
from trimodal_data.pipelines.text import TextPipelineConfig, run_text_pipeline
from trimodal_data.rules.text_filters import TextFiltersConfig, TextRuleChain
from trimodal_data.stats import load_rejects
from trimodal_data.transforms.write import WriteConfig


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_bad_records_and_duplicate_ids(tmp_path: Path, bundle_dir: Path, demo_by_id: dict[str, dict]) -> None:
    chain = TextRuleChain(TextFiltersConfig())
    news = [r["text"] for r in demo_by_id.values() if r["source"] == "lee-abc-news"]
    clean = [text for text in news if chain(text).reason is None]
    VERSE, OTHER, THIRD = clean[:3]
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.jsonl").write_text("\n".join([
        json.dumps({"id": "shared", "text": VERSE, "source": "a"}),
        json.dumps({"id": "only-a", "text": OTHER}),
        "[" * 100_000,  # nested deeper than the JSON parser's recursion limit
        '{"id": "lone\\ud800", "text": ' + json.dumps(OTHER) + "}",  # a lone surrogate in the id
        json.dumps({"id": 1.5, "text": OTHER}),
        json.dumps({"id": "int-source", "source": 7, "text": OTHER}),
        '{"id": ' + "9" * 5000 + ', "text": "x"}',  # over Python's integer-digit limit
    ]) + "\n")
    (inputs / "b.jsonl").write_text(json.dumps({"id": "shared", "text": THIRD, "source": "b"}) + "\n")
    config = TextPipelineConfig(minhash=MinHashConfig(enabled=False), write=WriteConfig(num_buckets=2))
    summaries = []
    for name, order in (("ab", ["a.jsonl", "b.jsonl"]), ("ba", ["b.jsonl", "a.jsonl"])):
        summaries.append(run_text_pipeline(inputs=[str(inputs / f) for f in order], output=tmp_path / name,
                                           tokenizer=bundle_dir, config=config, name="corpus"))
    assert summaries[0] == summaries[1] and summaries[0]["balanced"] and summaries[0]["read"] == 8
    assert _digests(tmp_path / "ab") == _digests(tmp_path / "ba")  # the kept copy does not depend on the order
    manifest = CorpusManifest.load(tmp_path / "ab" / "manifest.json")
    rejects = {(r["id"], r["reason"]) for r in load_rejects(manifest).iter_rows(named=True)}
    assert {("a.jsonl:3", "invalid_json"), ("a.jsonl:4", "invalid_utf8"), ("a.jsonl:5", "bad_id_field"),
            ("int-source", "bad_source_field"), ("a.jsonl:7", "invalid_json"), ("shared", "duplicate_id")} <= rejects
    sources = {}
    for shard in manifest.shards:
        with ShardReader(manifest.shard_path(shard)) as reader:
            table = reader.table()
        sources |= dict(zip(table.column("example_id").to_pylist(), table.column("source").to_pylist(), strict=True))
    assert sources == {"shared": "a", "only-a": "a.jsonl"}  # the copy from source "a" sorts first
