"""End-to-end runs of the text pipeline: in-process, multi-process and portable (job service + worker pool).

Checks that broken input becomes rejects with reasons, that every document read is accounted for
(kept + rejected + removed-as-duplicate == read, with "read" counted independently of the reader), that
planted duplicates are removed with their originals kept, that the shards are valid and decode back to the
kept texts, and that shards, rejects and manifest are byte-identical whatever the runner and worker count.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from trimodal_core import CorpusManifest, ShardReader
from trimodal_data.pipelines.text import run_text_pipeline
from trimodal_data.records import Reject
from trimodal_data.rules.text_filters import TextFiltersConfig, TextRuleChain
from trimodal_data.stats import load_rejects
from trimodal_tokenizers.bundle import TokenizerBundle

TUTOR_DIR = Path("/usr/share/vim/vim90/tutor")  # Debian vim-runtime; .ci/run installs it
IN_PROCESS = ["--runner=DirectRunner"]
MULTI_PROCESS = ["--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def _read_rejects(manifest: CorpusManifest) -> list[Reject]:
    return [Reject(**row) for row in load_rejects(manifest).iter_rows(named=True)]


def _file_digests(corpus_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(corpus_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(corpus_dir.rglob("*"))
        if p.is_file()
    }


def _build(corpus, bundle_dir: Path, out: Path, beam_args: list[str]) -> dict:
    return run_text_pipeline(
        inputs=[str(corpus.root)], output=out, tokenizer=bundle_dir, beam_args=beam_args, name="demo", overwrite=True
    )


@pytest.fixture(scope="module")
def in_process_run(text_corpus, bundle_dir, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("in_process")
    return out, _build(text_corpus, bundle_dir, out, IN_PROCESS)


def test_every_document_is_accounted_for(in_process_run, text_corpus) -> None:
    out, summary = in_process_run
    manifest = CorpusManifest.load(out / "manifest.json")
    manifest.validate(check_sha256=True)
    rejects = _read_rejects(manifest)
    assert summary["read"] == text_corpus.expected_read
    assert summary["kept"] == manifest.num_rows > 0
    assert summary["kept"] + summary["rejected"] + summary["duplicates_removed"] == summary["read"]
    assert summary["balanced"]
    assert len(rejects) == summary["rejected"] + summary["duplicates_removed"]
    kept_ids = set()
    for shard in manifest.shards:
        with ShardReader(manifest.shard_path(shard)) as reader:
            kept_ids |= set(reader.table().column("example_id").to_pylist())
    reject_ids = [r.id for r in rejects]
    assert len(kept_ids) == summary["kept"]
    assert not kept_ids & set(reject_ids)
    assert len(set(reject_ids)) == len(reject_ids)


def test_broken_input_becomes_rejects_with_reasons(in_process_run) -> None:
    out, summary = in_process_run
    manifest = CorpusManifest.load(out / "manifest.json")
    by_id = {r.id: r for r in _read_rejects(manifest)}
    assert by_id["empty.jsonl"].reason == "empty_file"
    assert by_id["truncated.jsonl.gz#read_error"].reason == "read_error"
    assert by_id["bad-lines.jsonl:1"].reason == "invalid_json"
    assert by_id["no-text"].reason == "missing_text_field"
    assert by_id["num-text"].reason == "bad_text_field"
    assert by_id["bad-lines.jsonl:4"].reason == "invalid_utf8"
    assert by_id["surrogate"].reason == "invalid_utf8"
    assert by_id["bad-lines.jsonl:6"].reason == "record_too_large"
    assert by_id["pq-2"].reason == "missing_text_field"
    assert by_id["pq-3"].reason.startswith(("language_", "gopher_", "c4_", "fineweb_"))  # "short": too little text
    assert summary["rejected_by_reason"]["empty_file"] == 1


@pytest.mark.skipif(not (TUTOR_DIR / "tutor.de.utf-8").is_file(), reason="vim's tutor not installed (vim-runtime)")
def test_german_text_file_is_rejected_by_language(in_process_run) -> None:
    out, _ = in_process_run
    manifest = CorpusManifest.load(out / "manifest.json")
    by_id = {r.id: r for r in _read_rejects(manifest)}
    assert by_id["tutor/tutor.de.txt"].reason == "language_not_allowed"
    assert by_id["tutor/tutor.de.txt"].detail.startswith("de:")


def test_planted_duplicates_removed_and_originals_kept(in_process_run) -> None:
    out, _ = in_process_run
    manifest = CorpusManifest.load(out / "manifest.json")
    rejects = _read_rejects(manifest)
    kept = set()
    for shard in manifest.shards:
        with ShardReader(manifest.shard_path(shard)) as reader:
            kept |= set(reader.table().column("example_id").to_pylist())
    exact = [r for r in rejects if r.reason == "duplicate_exact"]
    near = [r for r in rejects if r.reason == "duplicate_near"]
    assert exact and near
    planted_exact = [r for r in exact if r.id.startswith("planted-exact-dup")]
    assert len(planted_exact) == 4  # every planted exact copy in the subset; the fixture re-uses texts too
    for reject in planted_exact:
        assert reject.id.endswith(f"-of-{reject.detail}")
    for reject in exact:
        assert reject.detail in kept and reject.detail < reject.id
    for reject in near:
        assert reject.detail in kept and reject.detail < reject.id
    planted_near = {i for i in kept | {r.id for r in rejects} if i.startswith("planted-near-dup")}
    assert len(near) >= 0.75 * len(planted_near)


def test_shards_decode_to_kept_texts(in_process_run, bundle_dir, demo_by_id) -> None:
    out, _ = in_process_run
    bundle = TokenizerBundle.load(bundle_dir)
    manifest = CorpusManifest.load(out / "manifest.json")
    originals = demo_by_id
    chain = TextRuleChain(TextFiltersConfig())
    checked = 0
    for shard in manifest.shards:
        with ShardReader(manifest.shard_path(shard), expected_fingerprint=bundle.fingerprint) as reader:
            table = reader.table()
        assert table.column("task").to_pylist() == ["text"] * table.num_rows
        ids = table.column("example_id").to_pylist()
        assert ids == sorted(ids)
        for example_id, tokens in zip(ids, table.column("tokens").to_pylist(), strict=True):
            if example_id in originals:
                parsed = bundle.layout.parse(np.asarray(tokens, dtype=np.int64))
                expected = chain(originals[example_id]["text"])
                assert expected.reason is None
                assert bundle.text.decode(parsed.text_ids) == expected.text
                checked += 1
    assert checked >= 20
    assert manifest.provenance["pipeline"] == "trimodal_data.text"
    assert manifest.tokenizer_fingerprint == bundle.tokenizer_fingerprint  # the content, not only the layout
    assert "tokenizer_fingerprint" not in manifest.provenance


@pytest.mark.slow  # two worker processes: about 20 s
def test_multi_process_run_is_byte_identical(in_process_run, text_corpus, bundle_dir, tmp_path) -> None:
    out, summary = in_process_run
    multi = _build(text_corpus, bundle_dir, tmp_path / "multi", MULTI_PROCESS)
    assert multi == summary
    assert _file_digests(tmp_path / "multi") == _file_digests(out)


@pytest.mark.slow  # job service + worker pool: about 20 s with its setup
def test_portable_runner_is_byte_identical(in_process_run, text_corpus, bundle_dir, portable_runner_args, tmp_path):
    out, summary = in_process_run
    portable = _build(text_corpus, bundle_dir, tmp_path / "portable", portable_runner_args)
    assert portable == summary
    assert _file_digests(tmp_path / "portable") == _file_digests(out)


def test_existing_corpus_needs_overwrite(in_process_run, text_corpus, bundle_dir) -> None:
    out, _ = in_process_run
    with pytest.raises(ValueError, match="overwrite"):
        run_text_pipeline(inputs=[str(text_corpus.root)], output=out, tokenizer=bundle_dir)
