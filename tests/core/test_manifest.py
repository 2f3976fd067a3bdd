from __future__ import annotations

import json
from pathlib import Path

import pytest

from trimodal_core import CorpusManifest, MixtureComponent, MixtureManifest, TokenSpace, load_manifest


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
