"""The global per-epoch shuffle: a seeded bijection, near a uniform shuffle in source mixing, resumable."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trimodal_core import CorpusManifest, ShardRecord, ShardWriter, ShardWriterConfig, TokenSpace
from trimodal_train.data import Batch, LoaderConfig, MixtureLoader, build_loader
from trimodal_train.data.epoch_shuffle import epoch_keys, half_bits, permute

MakeMixture = Callable[..., Path]
BASE = LoaderConfig(seq_len=64, global_batch_size=8, seed=7, prefetch=0)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 63, 64, 65, 1000, 4097])
def test_permutation_is_a_bijection(n: int) -> None:
    perm = permute(np.arange(n), n, epoch_keys(0, "c", 0))
    assert sorted(perm.tolist()) == list(range(n))
    assert 4 ** half_bits(n) >= n and (n <= 4 or 4 ** half_bits(n) < 4 * n)  # cycle walks stay short


def test_permutation_is_seeded_and_pointwise() -> None:
    n = 5000
    keys = epoch_keys(3, "text", 2)
    whole = permute(np.arange(n), n, keys)
    picks = np.array([4999, 0, 17, 17, 2500])
    assert np.array_equal(permute(picks, n, keys), whole[picks])  # any position alone, in any order
    assert np.array_equal(permute(np.arange(n), n, epoch_keys(3, "text", 2)), whole)
    for other in (epoch_keys(4, "text", 2), epoch_keys(3, "image", 2), epoch_keys(3, "text", 3)):
        assert (permute(np.arange(n), n, other) != whole).mean() > 0.99
    with pytest.raises(ValueError, match=r"\[0, 5000\)"):
        permute(np.array([n]), n, keys)


def test_permutation_looks_uniform() -> None:
    """Chi-square of (position decile -> example decile) against independence, and no serial correlation."""
    n = 20_000
    perm = permute(np.arange(n), n, epoch_keys(0, "c", 0))
    table = np.histogram2d(np.arange(n) * 10 // n, perm * 10 // n, bins=10, range=[[0, 10], [0, 10]])[0]
    expected = n / 100
    chi2 = float(((table - expected) ** 2 / expected).sum())
    assert chi2 < 123.2  # the 99.9% quantile of chi-square with 81 degrees of freedom
    assert abs(np.corrcoef(perm[:-1], perm[1:])[0, 1]) < 0.03


def _sorted_by_source(tmp_path: Path, space: TokenSpace, num_sources: int = 8, per_source: int = 60) -> Path:
    """Pairs sorted by id = by source (as the pipelines write shards), in 2 shards."""
    rng = np.random.default_rng(0)
    records = []
    for s in range(num_sources):
        for i in range(per_source):
            tokens = np.concatenate([[space.task_id("t2i"), space.special_id("bot")],
                                     space.to_global("text", rng.integers(0, 300, 20)), [space.special_id("eot")]])
            records.append(ShardRecord(example_id=f"src{s}-{i:04d}", source=f"src{s}", task="t2i", tokens=tokens,
                                       modality=space.modality_of(tokens)))
    half = len(records) // 2
    shards = []
    for k, part in enumerate((records[:half], records[half:])):
        with ShardWriter(tmp_path, prefix=f"p{k}", fingerprint=space.fingerprint,
                         config=ShardWriterConfig(rows_per_batch=50)) as writer:
            writer.write_all(part)
        shards += writer.close()
    CorpusManifest(name="pairs", token_space=space.to_dict(), shards=shards).save(tmp_path / "manifest.json")
    return tmp_path / "manifest.json"


def _distinct_sources_per_batch(loader: MixtureLoader, per_source: int, steps: int) -> float:
    stream = loader._planner.streams[0]
    planner = loader._planner.clone()
    counts = []
    for _ in range(steps):
        planner.next_item()
        cursor = planner.state_dict()["cursors"]["pairs"][0]
        shard, row = stream.locate(np.arange(cursor - 8, cursor))
        example = np.where(shard == 0, 0, stream.store.rows[0]) + row
        counts.append(len(set((example // per_source).tolist())))
    return float(np.mean(counts))


def test_batches_mix_sources_like_a_uniform_shuffle(tmp_path: Path, helpers: types.SimpleNamespace,
                                                    space: TokenSpace) -> None:
    manifest = _sorted_by_source(tmp_path / "pairs", space)
    mix = helpers.write_mixture(tmp_path / "mix.json", {"pairs": (manifest, 1.0)})
    # Ideal: 8 rows drawn uniformly without replacement from 8 sources x 60 -> expected distinct sources.
    rng = np.random.default_rng(1)
    ideal = np.mean([len(set((rng.permutation(480)[:8] // 60).tolist())) for _ in range(4000)])
    steps = 60  # one epoch of 480 examples
    global_ = _distinct_sources_per_batch(build_loader(mix, BASE), 60, steps)
    window = _distinct_sources_per_batch(build_loader(mix, dataclasses.replace(BASE, shuffle="window",
                                                                               shuffle_buffer=32)), 60, steps)
    assert abs(global_ / ideal - 1) < 0.05, (global_, ideal)
    assert window / ideal < 0.6, (window, ideal)  # windows of 32 sorted rows hold one or two sources


@pytest.mark.parametrize("shuffle", ["global", "window"])
def test_resume_and_world_size_change_in_both_modes(make_mixture: MakeMixture, shuffle: str) -> None:
    import torch

    mix = make_mixture((1.0, 2.0))
    config = dataclasses.replace(BASE, shuffle=shuffle, shuffle_buffer=16)
    straight = [b.tokens_BL for b in _take(build_loader(mix, config), 30)]  # > one epoch of the pairs
    first = build_loader(mix, config)
    _take(first, 13)
    state = first.state_dict()
    parts = []
    for rank in range(2):
        resumed = build_loader(mix, dataclasses.replace(config, world_size=2, rank=rank))
        resumed.load_state_dict(state)
        parts.append([b.tokens_BL for b in _take(resumed, 17)])
    for step in range(17):
        assert torch.equal(torch.cat([parts[0][step], parts[1][step]]), straight[13 + step])


def test_states_from_before_the_shuffle_field_resume_as_window(make_mixture: MakeMixture) -> None:
    mix = make_mixture()
    window = dataclasses.replace(BASE, shuffle="window", shuffle_buffer=16)
    state = build_loader(mix, window).state_dict()
    del state["fixed"]["shuffle"]  # what a loader of the previous release saved
    build_loader(mix, window).load_state_dict(state)
    with pytest.raises(ValueError, match="shuffle='window', this loader has 'global'"):
        build_loader(mix, dataclasses.replace(window, shuffle="global")).load_state_dict(state)


def _take(loader: MixtureLoader, n: int) -> list[Batch]:
    out = []
    for batch in loader:
        out.append(batch)
        if len(out) == n:
            break
    return out
