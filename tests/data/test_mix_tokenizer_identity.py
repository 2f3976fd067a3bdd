"""``trimodal-data mix`` refuses corpora made by other tokenizers of the same layout (issue 12, item 5)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from trimodal_core import CorpusManifest, MixtureManifest, ShardRecord, ShardWriter, TokenSpace, TokenSpaceConfig
from trimodal_data.cli import main
from trimodal_data.mixing import MixConfig, build_mixture

SPACE = TokenSpace(TokenSpaceConfig(text_vocab_size=100, image_codebook_size=16, audio_codebook_size=8,
                                    audio_num_codebooks=2))
FP_A, FP_B = "a" * 64, "b" * 64


def _corpus(out_dir: Path, name: str, tokenizer_fingerprint: str | None) -> Path:
    rng = np.random.default_rng(0)
    with ShardWriter(out_dir, prefix=name, fingerprint=SPACE.fingerprint) as writer:
        for i in range(4):
            tokens = np.concatenate([[SPACE.task_id("text")], SPACE.to_global("text", rng.integers(0, 100, 9))])
            writer.write(ShardRecord(example_id=f"{name}-{i}", source=name, task="text", tokens=tokens,
                                     modality=SPACE.modality_of(tokens)))
    CorpusManifest(name=name, token_space=SPACE.to_dict(), shards=writer.close(),
                   tokenizer_fingerprint=tokenizer_fingerprint).save(out_dir / "manifest.json")
    return out_dir / "manifest.json"


def test_mix_refuses_other_tokenizers_naming_both_files_and_fingerprints(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    a = _corpus(tmp_path / "a", "a", FP_A)
    b = _corpus(tmp_path / "b", "b", FP_B)
    with pytest.raises(ValueError, match=f"{b} was tokenized by {FP_B}, {a} by {FP_A}"):
        build_mixture(MixConfig(component=(f"{a}:1", f"{b}:1"), out=tmp_path / "mix.json"))
    assert main(["mix", "--component", f"{a}:1", f"{b}:1", "--out", str(tmp_path / "mix.json")]) == 1
    assert "tokenizer fingerprint mismatch" in capsys.readouterr().err
    assert not (tmp_path / "mix.json").exists()


def test_mix_records_the_common_tokenizer_fingerprint(tmp_path: Path) -> None:
    a = _corpus(tmp_path / "a", "a", FP_A)
    b = _corpus(tmp_path / "b", "b", FP_A)
    out = tmp_path / "mix.json"
    assert main(["mix", "--component", f"{a}:1", f"{b}:1", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["tokenizer_fingerprint"] == FP_A
    assert MixtureManifest.load(out).tokenizer_fingerprint == FP_A


def test_mix_accepts_old_manifests_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = _corpus(tmp_path / "old", "old", None)
    new = _corpus(tmp_path / "new", "new", FP_A)
    with caplog.at_level(logging.WARNING):
        mixture = build_mixture(MixConfig(component=(f"{old}:1", f"{new}:1"), out=tmp_path / "mix.json"))
    assert mixture.tokenizer_fingerprint == FP_A
    assert "predate tokenizer fingerprints" in caplog.text and str(old) in caplog.text
    only_old = build_mixture(MixConfig(component=(f"{old}:1",), out=tmp_path / "mix.json"))
    assert only_old.tokenizer_fingerprint is None
