"""LoaderConfig validation names the field; the config is CLI-parsable with tyro."""

from __future__ import annotations

import pytest
import tyro

from trimodal_train.data import LoaderConfig, WeightPoint


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seq_len": 0}, "seq_len"),
        ({"global_batch_size": 6, "world_size": 4}, "global_batch_size=6"),
        ({"rank": 2, "world_size": 2}, "rank=2"),
        ({"mixing": "greedy"}, "mixing"),
        ({"overlong_pairs": "drop"}, "overlong_pairs"),
        ({"num_workers": -1}, "num_workers"),
        ({"weight_schedule": (WeightPoint(step=5, weights={"a": 1}), WeightPoint(step=5, weights={"a": 2}))},
         "weight_schedule"),
    ],
)
def test_invalid_fields_are_named(changes: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"LoaderConfig.{field}"):
        LoaderConfig(**changes)


def test_local_batch_size_and_cli() -> None:
    assert LoaderConfig(global_batch_size=12, world_size=4, rank=3).local_batch_size == 3
    config = tyro.cli(LoaderConfig, args=["--seq-len", "128", "--mixing", "stochastic", "--world-size", "2"])
    assert (config.seq_len, config.mixing, config.world_size) == (128, "stochastic", 2)
