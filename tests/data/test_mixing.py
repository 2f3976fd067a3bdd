"""``trimodal-data mix``: relative paths, validation of fingerprints, files and checksums."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from trimodal_core import (
    CorpusManifest,
    MixtureManifest,
    ShardRecord,
    ShardWriter,
    TokenSpace,
    TokenSpaceConfig,
)
from trimodal_data.cli import main
from trimodal_data.mixing import MixConfig, build_mixture, parse_component


def _space(text_vocab_size: int = 100) -> TokenSpace:
    return TokenSpace(TokenSpaceConfig(text_vocab_size=text_vocab_size, image_codebook_size=16,
                                       audio_codebook_size=8, audio_num_codebooks=2))


def _corpus(out_dir: Path, name: str, space: TokenSpace, num_examples: int = 5) -> Path:
    rng = np.random.default_rng(0)
    with ShardWriter(out_dir, prefix=name, fingerprint=space.fingerprint) as writer:
        for i in range(num_examples):
            tokens = np.concatenate([[space.task_id("text")], space.to_global("text", rng.integers(0, 100, 9))])
            writer.write(ShardRecord(example_id=f"{name}-{i}", source=name, task="text", tokens=tokens,
                                     modality=space.modality_of(tokens)))
    manifest = CorpusManifest(name=name, token_space=space.to_dict(), shards=writer.close())
    manifest.save(out_dir / "manifest.json")
    return out_dir / "manifest.json"


def test_parse_component() -> None:
    assert parse_component("a/b.json:0.5") == parse_component("a/b.json:.5")
    spec = parse_component("web=data/c:1/manifest.json:2")
    assert (spec.name, spec.path, spec.weight) == ("web", Path("data/c:1/manifest.json"), 2.0)
    for bad in ("a.json", "a.json:x", "a.json:0", "a.json:-1", "=a.json:1", ":1"):
        with pytest.raises(ValueError, match="--component"):
            parse_component(bad)


def test_mix_writes_relative_paths_and_loads(tmp_path: Path) -> None:
    space = _space()
    text = _corpus(tmp_path / "corpora" / "text", "text", space)
    web = _corpus(tmp_path / "corpora" / "web", "web", space)
    out = tmp_path / "mixes" / "mix.json"
    code = main(["mix", "--component", f"{text}:3", f"crawl={web}:1", "--out", str(out),
                 "--weight-unit", "examples", "--check-sha256"])
    assert code == 0
    raw = json.loads(out.read_text())
    assert [c["manifest"] for c in raw["components"]] == ["../corpora/text/manifest.json",
                                                         "../corpora/web/manifest.json"]
    mixture = MixtureManifest.load(out)
    assert [(c.name, c.weight) for c in mixture.components] == [("text", 3.0), ("crawl", 1.0)]
    assert mixture.weight_unit == "examples"
    assert mixture.token_space_fingerprint == space.fingerprint
    mixture.validate(check_sha256=True)


def test_mix_rejects_fingerprint_mismatch(tmp_path: Path) -> None:
    a = _corpus(tmp_path / "a", "a", _space(100))
    b = _corpus(tmp_path / "b", "b", _space(101))
    with pytest.raises(ValueError, match=r"b/manifest.json: token-space fingerprint"):
        build_mixture(MixConfig(component=(f"{a}:1", f"{b}:1"), out=tmp_path / "mix.json"))
    assert main(["mix", "--component", f"{a}:1", f"{b}:1", "--out", str(tmp_path / "mix.json")]) == 1
    assert not (tmp_path / "mix.json").exists()


def test_mix_rejects_missing_shard_and_bad_checksum(tmp_path: Path) -> None:
    a = _corpus(tmp_path / "a", "a", _space())
    shard = next((tmp_path / "a").glob("*.arrow"))
    config = MixConfig(component=(f"{a}:1",), out=tmp_path / "mix.json", check_sha256=True)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes: only the checksum can tell
    shard.write_bytes(bytes(data))
    build_mixture(dataclasses.replace(config, check_sha256=False))
    with pytest.raises(ValueError, match="checksum mismatch"):
        build_mixture(config)
    shard.unlink()
    with pytest.raises(ValueError, match=f"missing shard {shard}"):
        build_mixture(config)


def test_mix_rejects_duplicate_names(tmp_path: Path) -> None:
    a = _corpus(tmp_path / "a", "same", _space())
    b = _corpus(tmp_path / "b", "same", _space())
    with pytest.raises(ValueError, match="unique"):
        build_mixture(MixConfig(component=(f"{a}:1", f"{b}:1"), out=tmp_path / "mix.json"))
    mixture = build_mixture(MixConfig(component=(f"{a}:1", f"other={b}:1"), out=tmp_path / "mix.json"))
    assert [c.name for c in mixture.components] == ["same", "other"]

