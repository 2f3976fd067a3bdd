"""The planner plans many steps at once: that must equal planning them one step at a time."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trimodal_train.data import LoaderConfig, WeightPoint, build_loader

MakeMixture = Callable[..., Path]
BASE = LoaderConfig(seq_len=64, global_batch_size=8, seed=7, shuffle_buffer=16, prefetch=0)


def plan(mix: Path, config: LoaderConfig, chunk_steps: int, n: int, resume_at: int | None = None) -> list:
    planner = build_loader(mix, config)._planner.clone()
    planner._chunk_steps = chunk_steps
    items = []
    for i in range(n):
        if i == resume_at:  # a state taken mid-chunk resumes at exactly that step
            state = planner.state_dict()
            planner = build_loader(mix, config)._planner.clone()
            planner._chunk_steps = chunk_steps
            planner.load_state_dict(state)
        items.append(planner.next_item())
    return items


@pytest.mark.parametrize("changes", [
    {},
    {"world_size": 4, "rank": 2},
    {"global_batch_size": 2, "seq_len": 32},  # documents longer than a step's text rows
    {"split_documents": False, "seq_len": 100},
    {"mixing": "stochastic"},
    {"interleave_rows": False, "global_batch_size": 5},
    {"weight_schedule": (WeightPoint(step=0, weights={"text": 1.0, "pairs": 0.0}),
                         WeightPoint(step=9, weights={"text": 0.0, "pairs": 1.0}))},
])
def test_chunked_plan_equals_step_by_step(make_mixture: MakeMixture, changes: dict) -> None:
    mix = make_mixture(pair_lengths=(20, 90))  # some pairs overlong: truncation counters per step
    config = dataclasses.replace(BASE, **changes)
    one = plan(mix, config, 1, 30)
    for chunk, resume_at in ((7, None), (64, 11)):
        many = plan(mix, config, chunk, 30, resume_at)
        for a, b in zip(one, many, strict=True):
            assert a.step == b.step
            assert np.array_equal(a.row_component, b.row_component)
            for field in dataclasses.fields(a.segments):
                assert np.array_equal(getattr(a.segments, field.name), getattr(b.segments, field.name)), field.name
            assert a.resume_state == b.resume_state


def test_chunked_skip_counters_equal_step_by_step(tmp_path: Path, helpers: types.SimpleNamespace) -> None:
    lengths = [30, 90, 40, 100, 50, 20, 95] * 5
    pairs = helpers.write_corpus(tmp_path / "pairs", "pairs", "t2i", lengths, num_shards=2)
    mix = helpers.write_mixture(tmp_path / "mix.json", {"pairs": (pairs, 1.0)})
    config = dataclasses.replace(BASE, global_batch_size=3, overlong_pairs="skip")
    one, many = plan(mix, config, 1, 20), plan(mix, config, 16, 20)
    assert [a.resume_state for a in one] == [b.resume_state for b in many]
    for item in many:  # every example read so far was either used (3 rows a step) or skipped
        state = item.resume_state
        assert state["cursors"]["pairs"][0] == 3 * state["step"] + state["skipped"]["pairs"]
    assert many[-1].resume_state["skipped"]["pairs"] > 0
