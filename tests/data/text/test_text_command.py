"""``trimodal-data text`` and ``trimodal-data stats`` from the command line: a TOML config file, flag
overrides, Beam options passed through, the printed summary; and the pipeline-options rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

from trimodal_core import CorpusManifest
from trimodal_data.cli import main
from trimodal_data.commands import parse
from trimodal_data.config_files import load_config_file
from trimodal_data.pipelines.options import make_pipeline_options
from trimodal_data.pipelines.text import TextPipelineConfig


def test_config_file_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "text.toml"
    config.write_text(
        "exact_dedup = false\n"
        "[filters.gopher_quality]\nmin_doc_words = 20\n"
        "[filters.language]\nallow = ['en', 'de']\n"
        "[write]\nnum_buckets = 3\nrejects_format = 'jsonl'\n"
    )
    parsed, beam_args = parse([
        "--input", "a.jsonl", "b/", "--output", "out", "--tokenizer", "tok", "--config", str(config),
        "--write.num-buckets", "5", "--runner=DirectRunner", "--direct_num_workers", "2",
    ])
    assert parsed.input == ("a.jsonl", "b/")
    assert parsed.stages.exact_dedup is False
    assert parsed.stages.filters.gopher_quality.min_doc_words == 20
    assert parsed.stages.filters.language.allow == ("en", "de")
    assert parsed.stages.write.num_buckets == 5  # the flag overrides the file
    assert parsed.stages.write.rejects_format == "jsonl"
    assert beam_args == ["--runner=DirectRunner", "--direct_num_workers", "2"]
    config.write_text("[filters.gopher_quality]\nmin_doc_wrds = 20\n")
    with pytest.raises(ValueError, match="min_doc_wrds"):
        load_config_file(TextPipelineConfig, config)


def test_pipeline_options() -> None:
    options = make_pipeline_options(["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    assert options.view_as(DirectOptions).direct_num_workers == 2
    assert make_pipeline_options(["--runner=PortableRunner"]).view_as(StandardOptions).runner == "PortableRunner"
    with pytest.raises(ValueError, match="DaskRunner"):
        make_pipeline_options(["--runner=DaskRunner"])
    with pytest.raises(ValueError, match="save_main_session"):
        make_pipeline_options(["--save_main_session"])


def test_cli_builds_corpus_and_stats(text_corpus, bundle_dir, tmp_path: Path, capsys) -> None:
    config = tmp_path / "text.json"
    config.write_text(json.dumps({"minhash": {"enabled": False}, "write": {"rejects_format": "jsonl"}}))
    out = tmp_path / "corpus"
    code = main([
        "text", "--input", str(text_corpus.root / "good-a.jsonl.gz"), str(text_corpus.root / "bad-lines.jsonl"),
        "--output", str(out), "--tokenizer", str(bundle_dir), "--config", str(config),
        "--log-level", "WARNING", "--runner=DirectRunner",
    ])
    printed = capsys.readouterr().out
    assert code == 0
    assert "documents read" in printed and "invalid_json" in printed
    manifest = CorpusManifest.load(out / "manifest.json")
    summary = manifest.provenance["summary"]
    assert summary["balanced"] and "duplicate_near" not in summary["duplicates_by_reason"]
    assert manifest.provenance["config"]["minhash"]["enabled"] is False
    assert main(["stats", str(out), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["rows"] == summary["kept"]
    assert stats["rejects_by_reason"]["invalid_json"] == 1
    assert main(["text", "--input", str(tmp_path / "nothing"), "--output", str(out), "--tokenizer",
                 str(bundle_dir)]) == 2


def test_recipe_is_the_same_command(capsys) -> None:
    from pipelines.text import main as recipe_main

    with pytest.raises(SystemExit) as exit_info:
        recipe_main(["--help"])
    assert exit_info.value.code == 0
    assert "--filters.gopher-quality.min-doc-words" in capsys.readouterr().out
