from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from trimodal_core import (
    CorpusManifest,
    MixtureComponent,
    MixtureManifest,
    TokenSpace,
    check_tokenizer_fingerprints,
    load_manifest,
)


def test_corpus_manifest_round_trip_and_validation(corpus: CorpusManifest) -> None:
    assert corpus.path is not None
    loaded = load_manifest(corpus.path)
    assert isinstance(loaded, CorpusManifest)
    loaded.validate(check_sha256=True)
    assert loaded.num_rows == 120 and len(loaded.shards) > 1
    assert loaded.tokens["image"] == 120 * 16
    assert loaded.to_dict() == corpus.to_dict()
    # Deterministic bytes: saving again gives the same file.
    before = corpus.path.read_bytes()
    loaded.save(corpus.path)
    assert corpus.path.read_bytes() == before


def test_missing_shard(corpus: CorpusManifest) -> None:
    victim = corpus.shard_path(corpus.shards[1])
    victim.unlink()
    with pytest.raises(ValueError, match=rf"missing shard .*{victim.name}"):
        CorpusManifest.load(corpus.path).validate()


def test_checksum_mismatch(corpus: CorpusManifest) -> None:
    victim = corpus.shard_path(corpus.shards[0])
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    victim.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{victim.name}: checksum mismatch"):
        CorpusManifest.load(corpus.path).validate(check_sha256=True)


def test_fingerprint_mismatch(corpus: CorpusManifest) -> None:
    with pytest.raises(ValueError, match="fingerprint mismatch"):
        corpus.validate(expected_fingerprint="f" * 16)
    data = json.loads(corpus.path.read_text())
    data["token_space_fingerprint"] = "0" * 16
    corpus.path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"manifest.json: token_space_fingerprint 0+ does not match"):
        CorpusManifest.load(corpus.path)


def test_unknown_version_and_bad_json(tmp_path: Path, corpus: CorpusManifest) -> None:
    data = json.loads(corpus.path.read_text())
    data["schema_version"] = 7
    corpus.path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"manifest.json: unknown manifest schema_version 7"):
        load_manifest(corpus.path)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        load_manifest(bad)
    with pytest.raises(ValueError, match="manifest not found"):
        load_manifest(tmp_path / "nope.json")


def test_shard_paths_must_stay_inside(corpus: CorpusManifest) -> None:
    data = json.loads(corpus.path.read_text())
    data["shards"][0]["path"] = "../../etc/passwd"
    corpus.path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="must be relative and inside"):
        CorpusManifest.load(corpus.path)


def test_mixture_manifest(tmp_path: Path, corpus: CorpusManifest, space: TokenSpace) -> None:
    mix = MixtureManifest(
        components=[MixtureComponent(name="a", manifest="manifest.json", weight=2.0),
                    MixtureComponent(name="b", manifest="manifest.json", weight=1.0)],
        token_space_fingerprint=space.fingerprint,
    )
    mix.save(tmp_path / "mix.json")
    loaded = load_manifest(tmp_path / "mix.json")
    assert isinstance(loaded, MixtureManifest)
    loaded.validate(check_sha256=True)
    assert set(loaded.load_components()) == {"a", "b"}
    wrong = MixtureManifest(components=mix.components, token_space_fingerprint="1" * 16)
    wrong.save(tmp_path / "wrong.json")
    with pytest.raises(ValueError, match="differs from the mixture"):
        wrong.validate()
    with pytest.raises(ValueError, match="weight must be a positive"):
        MixtureManifest(components=[MixtureComponent(name="a", manifest="m.json", weight=0.0)])
    with pytest.raises(ValueError, match="unique"):
        MixtureManifest(components=[MixtureComponent(name="a", manifest="m.json", weight=1.0)] * 2)


FP_A, FP_B = "a" * 64, "b" * 64


def test_tokenizer_fingerprint_round_trips_and_is_validated(corpus: CorpusManifest) -> None:
    assert CorpusManifest.load(corpus.path).tokenizer_fingerprint is None
    corpus.tokenizer_fingerprint = FP_A
    corpus.save(corpus.path)
    assert json.loads(corpus.path.read_text())["tokenizer_fingerprint"] == FP_A
    assert CorpusManifest.load(corpus.path).tokenizer_fingerprint == FP_A
    data = json.loads(corpus.path.read_text())
    data["tokenizer_fingerprint"] = "e60441d58bc006b7"  # a token-space fingerprint is not a content digest
    corpus.path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="tokenizer_fingerprint must be a sha256"):
        CorpusManifest.load(corpus.path)


def _two_corpora(tmp_path: Path, corpus: CorpusManifest, fp_a: str | None, fp_b: str | None) -> tuple[Path, Path]:
    paths = []
    for name, fp in (("a", fp_a), ("b", fp_b)):
        copy = CorpusManifest(name=name, token_space=corpus.token_space, shards=corpus.shards, tokenizer_fingerprint=fp)
        copy.save(tmp_path / f"{name}.json")  # same folder as the shards: shard paths stay valid
        paths.append(tmp_path / f"{name}.json")
    return paths[0], paths[1]


def _mixture(tmp_path: Path, space: TokenSpace, fp: str | None) -> MixtureManifest:
    mix = MixtureManifest(components=[MixtureComponent(name="a", manifest="a.json", weight=1.0),
                                      MixtureComponent(name="b", manifest="b.json", weight=1.0)],
                          token_space_fingerprint=space.fingerprint, tokenizer_fingerprint=fp)
    mix.save(tmp_path / "mix.json")
    return MixtureManifest.load(tmp_path / "mix.json")


def test_mixture_refuses_components_of_other_tokenizers(tmp_path: Path, corpus: CorpusManifest,
                                                        space: TokenSpace) -> None:
    a, b = _two_corpora(tmp_path, corpus, FP_A, FP_B)
    with pytest.raises(ValueError, match=f"{b} was tokenized by {FP_B}, {a} by {FP_A}"):
        _mixture(tmp_path, space, None).load_components()
    _two_corpora(tmp_path, corpus, FP_A, FP_A)
    assert set(_mixture(tmp_path, space, FP_A).load_components()) == {"a", "b"}
    mix = _mixture(tmp_path, space, FP_B)  # the mixture says B, its components were made by A
    with pytest.raises(ValueError, match=f"{a} was tokenized by {FP_A}, {mix.path} by {FP_B}"):
        mix.load_components()


def test_components_without_tokenizer_fingerprint_are_accepted_with_a_warning(
    tmp_path: Path, corpus: CorpusManifest, space: TokenSpace, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = _two_corpora(tmp_path, corpus, None, FP_A)
    with caplog.at_level(logging.WARNING, logger="trimodal_core.manifest"):
        loaded = _mixture(tmp_path, space, FP_A).load_components()
    assert set(loaded) == {"a", "b"}
    assert f"predate tokenizer fingerprints, their tokenizer cannot be checked (rebuild them to record it): {a}" \
        in caplog.text
    assert check_tokenizer_fingerprints([(a, None), (b, None)]) is None
    assert check_tokenizer_fingerprints([(a, None), (b, FP_A)]) == FP_A
