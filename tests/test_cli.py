"""The command lines: dispatch, --help everywhere, and `trimodal-data inspect` on good and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli import main as trimodal_main
from trimodal_core import CorpusManifest, ShardWriter, TokenSpace, TokenSpaceConfig
from trimodal_data.cli import main as data_main


def test_root_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    assert trimodal_main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("data", "tokenizers", "train", "eval"):
        assert f"  {name}" in out


def test_unknown_subcommand_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert trimodal_main(["bogus"]) == 2
    assert "unknown subcommand 'bogus'" in capsys.readouterr().err


@pytest.mark.slow  # one fresh process per subcommand: 40-70 s per tool on the shared 2-core machine
@pytest.mark.parametrize("tool", ["data", "tokenizers", "train", "eval"])
def test_every_subcommand_has_help(tool: str) -> None:
    """`--help` works for every tool and for every one of its subcommands (each in a fresh process)."""
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", tool, "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    names = [line.split()[0] for line in out.stdout.split("subcommands:")[1].splitlines()[1:] if line.startswith("  ")]
    for name in names:
        sub = subprocess.run([sys.executable, "-m", "pipelines.cli", tool, name, "--help"],
                             capture_output=True, text=True)
        assert sub.returncode == 0, f"{tool} {name} --help failed: {sub.stderr[-2000:]}"
        assert "usage" in sub.stdout.lower()


def _corpus(tmp_path: Path) -> CorpusManifest:
    import numpy as np

    from trimodal_core import ShardRecord

    space = TokenSpace(TokenSpaceConfig(text_vocab_size=50, image_codebook_size=8, audio_codebook_size=8,
                                        audio_num_codebooks=2))
    with ShardWriter(tmp_path, prefix="text", fingerprint=space.fingerprint) as writer:
        for i in range(5):
            tokens = np.concatenate([[space.task_id("text"), space.bos_id], space.to_global("text", [i, i + 1]),
                                     [space.eos_id]])
            writer.write(ShardRecord(example_id=str(i), source="t", task="text", tokens=tokens,
                                     modality=space.modality_of(tokens)))
    manifest = CorpusManifest(name="tiny", token_space=space.to_dict(), shards=writer.close())
    manifest.save(tmp_path / "manifest.json")
    return manifest


def test_inspect_manifest_and_shard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _corpus(tmp_path)
    assert data_main(["inspect", str(manifest.path), "--check-sha256", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 5 and summary["tokens"]["text"] == 10 and summary["tokens"]["special"] == 15
    assert summary["fingerprint"] == manifest.fingerprint
    assert data_main(["inspect", str(manifest.shard_path(manifest.shards[0]))]) == 0
    out = capsys.readouterr().out
    assert "rows" in out and "valid: yes" in out


def test_inspect_reports_invalid_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _corpus(tmp_path)
    manifest.shard_path(manifest.shards[0]).unlink()
    assert data_main(["inspect", str(manifest.path)]) == 1
    assert "missing shard" in capsys.readouterr().err
