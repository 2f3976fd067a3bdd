"""Small, realistic corpora for the mixture-loader tests: formatted text documents and image-text pairs
written with trimodal_core.ShardWriter, plus mixture manifests over them.

Every example's content starts with two text tokens encoding its index, so tests can tell examples apart
from the batch tokens alone.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trimodal_core import (
    CorpusManifest,
    MixtureComponent,
    MixtureManifest,
    ShardRecord,
    ShardWriter,
    ShardWriterConfig,
    TokenSpace,
    TokenSpaceConfig,
)

SPACE = TokenSpace(
    TokenSpaceConfig(text_vocab_size=300, image_codebook_size=64, audio_codebook_size=32, audio_num_codebooks=2)
)


def example_tokens(space: TokenSpace, task: str, index: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """A formatted sequence of exactly ``length`` tokens (length >= 8) whose index is readable back."""
    V = space.config.text_vocab_size
    head = space.to_global("text", [index // V, index % V])
    if task == "text":
        body = space.to_global("text", rng.integers(0, V, size=length - 5))
        parts = [[space.task_id("text"), space.special_id("bot")], head, body, [space.special_id("eot")]]
    else:
        n_img = (length - 7) // 2
        caption = space.to_global("text", rng.integers(0, V, size=length - 7 - n_img))
        image = space.to_global("image", rng.integers(0, space.config.image_codebook_size, size=n_img))
        parts = [[space.task_id(task), space.special_id("bot")], head, caption,
                 [space.special_id("eot"), space.special_id("boi")], image, [space.special_id("eoi")]]
    tokens = np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])
    assert len(tokens) == length
    return tokens


def decode_index(space: TokenSpace, tokens: np.ndarray) -> int:
    """Index of an example from its first four tokens (task, bot, two index tokens)."""
    local = space.to_local("text", tokens[2:4])
    return int(local[0]) * space.config.text_vocab_size + int(local[1])


def write_corpus(
    out_dir: Path, name: str, task: str, lengths: list[int], *, seed: int = 0, rows_per_batch: int = 7,
    num_shards: int = 3,
) -> Path:
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for i, length in enumerate(lengths):
        tokens = example_tokens(SPACE, task, i, length, rng)
        records.append(ShardRecord(example_id=f"{name}-{i}", source=name, task=task, tokens=tokens,
                                   modality=SPACE.modality_of(tokens)))
    shards = []
    per_shard = -(-len(records) // num_shards)
    for s in range(num_shards):
        with ShardWriter(out_dir, prefix=f"{name}{s}", fingerprint=SPACE.fingerprint,
                         config=ShardWriterConfig(rows_per_batch=rows_per_batch)) as writer:
            writer.write_all(records[s * per_shard : (s + 1) * per_shard])
        shards.extend(writer.close())
    manifest = CorpusManifest(name=name, token_space=SPACE.to_dict(), shards=shards)
    path = out_dir / "manifest.json"
    manifest.save(path)
    return path


def write_mixture(path: Path, components: dict[str, tuple[Path, float]], weight_unit: str = "examples") -> Path:
    mixture = MixtureManifest(
        components=[MixtureComponent(name=n, manifest=str(p.relative_to(path.parent)), weight=w)
                    for n, (p, w) in components.items()],
        weight_unit=weight_unit,  # type: ignore[arg-type]
        token_space_fingerprint=SPACE.fingerprint,
    )
    mixture.save(path)
    return path


@pytest.fixture
def space() -> TokenSpace:
    return SPACE


@pytest.fixture
def helpers() -> types.SimpleNamespace:
    """The writers and the index decoder (test modules cannot import conftest under importlib mode)."""
    return types.SimpleNamespace(write_corpus=write_corpus, write_mixture=write_mixture,
                                 decode_index=lambda tokens: decode_index(SPACE, tokens))


@pytest.fixture
def make_mixture(tmp_path: Path) -> Callable[..., Path]:
    """Text (docs of 8..120 tokens) + image-text pairs (20..70 tokens) corpora and a mixture over them."""

    def make(
        weights: tuple[float, float] = (3.0, 1.0), *, weight_unit: str = "examples", num_text: int = 150,
        num_pairs: int = 120, pair_lengths: tuple[int, int] = (20, 70),
    ) -> Path:
        rng = np.random.default_rng(1)
        text = write_corpus(tmp_path / "text", "text", "text", rng.integers(8, 120, num_text).tolist())
        pairs = write_corpus(tmp_path / "pairs", "pairs", "t2i", rng.integers(*pair_lengths, num_pairs).tolist(),
                             seed=2)
        return write_mixture(tmp_path / "mix.json", {"text": (text, weights[0]), "pairs": (pairs, weights[1])},
                             weight_unit)

    return make
