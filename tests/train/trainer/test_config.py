"""Train configs: presets, JSON/TOML files over a preset, tyro overrides, unknown keys, cross-field checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trimodal_train.config import TrainConfig
from trimodal_train.config_io import from_dict, to_dict
from trimodal_train.configs import TRAIN_PRESETS, config_from_dict, load_config
from trimodal_train.model.presets import MODEL_PRESETS


def test_every_preset_builds_and_round_trips_through_a_dict() -> None:
    for name, make in TRAIN_PRESETS.items():
        config = make()
        assert config.total_steps >= 1, name
        again = from_dict(TrainConfig, json.loads(json.dumps(to_dict(config))))
        assert again == config, name
    assert TRAIN_PRESETS["3b"]().model == MODEL_PRESETS["3b"] and TRAIN_PRESETS["3b"]().run.parallelism == "fsdp"


def test_json_and_toml_files_over_a_preset(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({
        "preset": "tiny", "model": {"preset": "small", "n_layers": 2},
        "optim": {"adamw": {"lr": 0.01}, "schedule": {"name": "wsd"}}, "run": {"tokens": 1e6},
        "diffusion": {"schedules": {"image": {"name": "cosine"}}},
    }))
    a = load_config(tmp_path / "a.json")
    assert a.model == MODEL_PRESETS["small"].__class__(**{**to_dict(MODEL_PRESETS["small"]), "n_layers": 2})
    assert a.optim.adamw.lr == 0.01 and a.optim.adamw.beta2 == TRAIN_PRESETS["tiny"]().optim.adamw.beta2
    assert a.optim.schedule.name == "wsd" and a.run.steps is None and a.run.tokens == 1e6
    assert a.diffusion.schedules["image"].name == "cosine" and a.diffusion.schedules["text"].name == "linear"
    (tmp_path / "b.toml").write_text('preset = "demo"\nmodel = "tiny"\n[data]\nseq_len = 64\n[run]\nsteps = 3\n')
    b = load_config(tmp_path / "b.toml")
    assert b.model == MODEL_PRESETS["tiny"] and b.data.seq_len == 64 and b.run.steps == 3
    assert b.data.global_batch_size == TRAIN_PRESETS["demo"]().data.global_batch_size


def test_command_line_overrides() -> None:
    c = load_config("tiny", ["--optim.adamw.lr", "0.005", "--data.mixture", "/data/mix.json",
                             "--diffusion.schedules.text.name", "cosine", "--run.nan-policy", "stop"])
    assert c.optim.adamw.lr == 0.005 and str(c.data.mixture) == "/data/mix.json"
    assert c.diffusion.schedules["text"].name == "cosine" and c.run.nan_policy == "stop"


def test_unknown_keys_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'optim\.schedule\.warmup'"):
        config_from_dict({"optim": {"schedule": {"warmup": 10}}})
    with pytest.raises(ValueError, match=r"'modell'"):
        config_from_dict({"modell": "tiny"})
    with pytest.raises(ValueError, match=r"'model\.width'"):
        config_from_dict({"model": {"preset": "tiny", "width": 3}})
    with pytest.raises(ValueError, match="unknown model preset 'huge'"):
        config_from_dict({"model": "huge"})
    with pytest.raises(ValueError, match=r"run\.nan_policy"):
        config_from_dict({"run": {"nan_policy": "ignore"}})
    (tmp_path / "c.toml").write_text("[data]\nseq_lenn = 3\n")
    with pytest.raises(ValueError, match=r"c\.toml.*'data\.seq_lenn'"):
        load_config(tmp_path / "c.toml")
    with pytest.raises(ValueError, match="neither a preset"):
        load_config("no-such-preset")


def test_cross_field_checks() -> None:
    config = config_from_dict({"data": {"mixture": "/m.json", "seq_len": 1024, "global_batch_size": 6}})
    with pytest.raises(ValueError, match=r"data\.seq_len=1024 is longer than the model can hold"):
        config.check(world_size=1)
    ok_len = config_from_dict({"data": {"mixture": "/m.json", "seq_len": 128, "global_batch_size": 6}})
    ok_len.check(world_size=2)
    with pytest.raises(ValueError, match=r"global_batch_size=6 is not divisible by the world size 4"):
        ok_len.check(world_size=4)
    with pytest.raises(ValueError, match="micro_batch_size=4 does not divide"):
        config_from_dict({"data": {"mixture": "/m.json", "seq_len": 128, "global_batch_size": 6,
                                   "micro_batch_size": 4}}).check(world_size=1)
    with pytest.raises(ValueError, match="exactly one of run.steps and run.tokens"):
        config_from_dict({"run": {"steps": None, "tokens": None}})
    with pytest.raises(ValueError, match="data.mixture"):
        config_from_dict({"data": {"seq_len": 128}}).check()
