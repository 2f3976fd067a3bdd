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


_HELP_ALL = """
import contextlib, io, sys
from pipelines.cli import main
tool = sys.argv[1]
failures = []

def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse and tyro exit after printing help
            code = exc.code or 0
    return code, out.getvalue(), err.getvalue()

code, out, err = run([tool, "--help"])
assert code == 0, err
names = [line.split()[0] for line in out.split("subcommands:")[1].splitlines()[1:] if line.startswith("  ")]
assert names, out
for name in names:
    code, out, err = run([tool, name, "--help"])
    if code != 0 or "usage" not in out.lower():
        failures.append(f"{tool} {name} --help failed ({code}): {err[-2000:]}")
print(len(names))
sys.exit("\\n".join(failures) if failures else 0)
"""


@pytest.mark.slow  # one fresh process per tool (its subcommands' lazy imports run in it): 10-40 s per tool
@pytest.mark.parametrize("tool", ["data", "tokenizers", "train", "eval"])
def test_every_subcommand_has_help(tool: str) -> None:
    """`--help` works for the tool and for every one of its subcommands, in a fresh process per tool."""
    out = subprocess.run([sys.executable, "-c", _HELP_ALL, tool], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-4000:]
    assert int(out.stdout.split()[-1]) >= 2


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
