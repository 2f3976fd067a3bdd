"""Batches travel between torchdata threads in groups: same batches, errors at the same batch as without groups."""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path

import numpy as np
import pytest

from trimodal_train.data import LoaderConfig, build_loader
from trimodal_train.data.nodes import MAX_GROUP, group_size

BASE = LoaderConfig(seq_len=64, global_batch_size=4, seed=7, shuffle_buffer=16, prefetch=2, interleave_rows=False)


def test_group_size_bounds() -> None:
    assert group_size(8, 64) == MAX_GROUP
    assert group_size(32, 2048) == MAX_GROUP  # 2^16 slots per batch
    assert group_size(128, 2048) == 4
    assert group_size(256, 8192) == 1


@pytest.mark.parametrize("workers", [0, 2])
def test_planning_error_arrives_after_the_batches_before_it(
    tmp_path: Path, helpers: types.SimpleNamespace, workers: int
) -> None:
    lengths = [30, 40, 50, 20] * 5 + [90] + [30] * 7  # the overlong pair is in the second epoch's shuffle window
    pairs = helpers.write_corpus(tmp_path / "pairs", "pairs", "t2i", lengths, num_shards=2)
    mix = helpers.write_mixture(tmp_path / "mix.json", {"pairs": (pairs, 1.0)})
    config = dataclasses.replace(BASE, overlong_pairs="error", num_workers=workers)
    planner = build_loader(mix, config)._planner.clone()
    planned = []
    with pytest.raises(ValueError, match="has 90 tokens"):
        while True:
            planned.append(planner.next_item())
    assert len(planned) % MAX_GROUP != 0  # the error falls inside a group, not at its start
    got = []
    with pytest.raises(ValueError, match="has 90 tokens"):
        for batch in build_loader(mix, config):
            got.append(batch)
    assert [b.step for b in got] == [item.step for item in planned]
    truncating = build_loader(mix, dataclasses.replace(config, overlong_pairs="truncate"))
    for batch, same in zip(got, truncating, strict=False):  # identical batches up to the error
        assert np.array_equal(batch.tokens_BL.numpy(), same.tokens_BL.numpy())
