"""``trimodal-data split`` on a corpus and on a mixture (train.json / val.json with the same weights)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trimodal_core import CorpusManifest, MixtureManifest, ShardRecord, ShardWriter, TokenSpace, TokenSpaceConfig
from trimodal_data.cli import main

SPACE = TokenSpace(TokenSpaceConfig(text_vocab_size=100, image_codebook_size=16, audio_codebook_size=8,
                                    audio_num_codebooks=2))


def _corpus(out_dir: Path, name: str, n: int) -> Path:
    rng = np.random.default_rng(0)
    with ShardWriter(out_dir, prefix=name, fingerprint=SPACE.fingerprint) as writer:
        for i in range(n):
            tokens = np.concatenate([[SPACE.task_id("text")], SPACE.to_global("text", rng.integers(0, 100, 9))])
            writer.write(ShardRecord(example_id=f"{name}-{i}", source=name, task="text", tokens=tokens,
                                     modality=SPACE.modality_of(tokens)))
    CorpusManifest(name=name, token_space=SPACE.to_dict(), shards=writer.close(),
                   tokenizer_fingerprint="d" * 64).save(out_dir / "manifest.json")
    return out_dir / "manifest.json"


def test_split_a_corpus(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = _corpus(tmp_path / "c", "c", 400)
    assert main(["split", "--manifest", str(corpus), "--out", str(tmp_path / "s"), "--fraction", "0.25"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"]["train"] + summary["rows"]["val"] == 400 and 60 < summary["rows"]["val"] < 140
    for side in ("train", "val"):
        CorpusManifest.load(summary[side]).validate(check_sha256=True)
    assert main(["split", "--manifest", str(corpus), "--out", str(tmp_path / "s"), "--fraction", "0.25"]) == 1
    assert "already holds a train split" in capsys.readouterr().err
    assert main(["split", "--manifest", str(corpus), "--out", str(tmp_path / "t"), "--fraction", "1.5"]) == 1
    assert "fraction must be in (0, 1)" in capsys.readouterr().err


def test_split_a_mixture(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a, b = _corpus(tmp_path / "a", "a", 300), _corpus(tmp_path / "b", "b", 200)
    mix = tmp_path / "mix.json"
    assert main(["mix", "--component", f"{a}:3", f"{b}:1", "--out", str(mix)]) == 0
    capsys.readouterr()
    assert main(["split", "--manifest", str(mix), "--out", str(tmp_path / "s"), "--fraction", "0.1",
                 "--salt", "eval"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for side in ("train", "val"):
        mixture = MixtureManifest.load(tmp_path / "s" / f"{side}.json")
        assert [(c.name, c.weight) for c in mixture.components] == [("a", 3.0), ("b", 1.0)]
        assert mixture.tokenizer_fingerprint == "d" * 64
        mixture.validate(check_sha256=True)
        assert summary["rows"][side] == {n: c.num_rows for n, c in mixture.load_components().items()}
    assert summary["rows"]["train"]["a"] + summary["rows"]["val"]["a"] == 300
