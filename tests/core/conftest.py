"""Fixtures for core tests: a small token space and a small written corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trimodal_core import CorpusManifest, ShardRecord, ShardWriter, ShardWriterConfig, TokenSpace, TokenSpaceConfig


@pytest.fixture
def space() -> TokenSpace:
    return TokenSpace(
        TokenSpaceConfig(text_vocab_size=300, image_codebook_size=64, audio_codebook_size=32, audio_num_codebooks=4)
    )


def make_records(space: TokenSpace, n: int, seed: int = 0) -> list[ShardRecord]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        text = space.to_global("text", rng.integers(0, 300, size=int(rng.integers(1, 40))))
        image = space.to_global("image", rng.integers(0, 64, size=16))
        tokens = np.concatenate([[space.task_id("t2i"), space.special_id("bot")], text, [space.special_id("eot")],
                                 [space.special_id("boi")], image, [space.special_id("eoi")]])
        records.append(
            ShardRecord(example_id=f"ex-{i:04d}", source="unit", task="t2i", tokens=tokens,
                        modality=space.modality_of(tokens))
        )
    return records


@pytest.fixture
def corpus(tmp_path: Path, space: TokenSpace) -> CorpusManifest:
    records = make_records(space, 120)
    with ShardWriter(tmp_path / "shards", prefix="part", fingerprint=space.fingerprint,
                     config=ShardWriterConfig(target_bytes=6000, rows_per_batch=16)) as writer:
        writer.write_all(records)
    infos = writer.close()
    shards = [type(i)(**{**i.to_dict(), "path": f"shards/{i.path}"}) for i in infos]
    manifest = CorpusManifest(name="unit", token_space=space.to_dict(), shards=shards,
                              provenance={"pipeline": "unit-test"})
    manifest.save(tmp_path / "manifest.json")
    return manifest
