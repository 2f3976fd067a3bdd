"""Sweep grids: axis parsing, expansion order, run names, the override tokens each point becomes (checked by
resolving real TrainConfigs), and the manifest with statuses refreshed from the jobs' status files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trimodal_train.config import TrainConfig
from trimodal_train.launch import LaunchConfig, write_status
from trimodal_train.model.presets import MODEL_PRESETS
from trimodal_train.sweep import (
    SweepConfig,
    SweepRun,
    expand_grid,
    load_manifest,
    parse_axis,
    point_args,
    resolve_point,
    run_dirs,
    run_name,
    run_sweep,
    write_manifest,
)


def test_axes_parse_and_expand_last_axis_fastest() -> None:
    axes = [parse_axis("model=tiny,small"), parse_axis("--optim.adamw.lr=1e-3,3e-3,1e-2")]
    assert axes[1].key == "optim.adamw.lr" and axes[1].values == ("1e-3", "3e-3", "1e-2")
    points = expand_grid(axes)
    assert len(points) == 6
    assert points[:4] == [{"model": "tiny", "optim.adamw.lr": "1e-3"}, {"model": "tiny", "optim.adamw.lr": "3e-3"},
                          {"model": "tiny", "optim.adamw.lr": "1e-2"}, {"model": "small", "optim.adamw.lr": "1e-3"}]
    for bad in ("model", "model=", "model=a,,b", "=a", "model=a,a"):
        with pytest.raises(ValueError, match="--grid"):
            parse_axis(bad)
    with pytest.raises(ValueError, match="twice"):
        expand_grid([parse_axis("run.seed=1,2"), parse_axis("run.seed=3")])


def test_run_names_from_varying_axes() -> None:
    point = {"model": "small", "optim.adamw.lr": "3e-3", "run.seed": "0", "mix": "text:0.5/image_text:0.5"}
    assert run_name(point, ["model", "optim.adamw.lr"]) == "model-small__lr-3e-3"
    assert run_name(point, ["mix"]) == "mix-text-0.5-image_text-0.5"
    assert run_name({"a.seed": "1", "b.seed": "2"}, ["a.seed", "b.seed"]) == "a.seed-1__b.seed-2"
    assert run_name(point, []) == "run"


def test_points_resolve_to_train_configs() -> None:
    assert point_args({"run.compile": "true", "run.seed": "3"}, TrainConfig) == ["--run.compile", "--run.seed", "3"]
    assert point_args({"run.compile": "False"}, TrainConfig) == ["--run.no_compile"]
    point = {"model": "small", "model.attention": "flex", "mix": "text:0.6/image_text:0.3/audio_text:0.1",
             "run.tokens": "2e6", "run.compile": "true", "diffusion.schedules.image.name": "cosine"}
    config = resolve_point("tiny", point, ["--run.seed", "5"], run_dir=Path("/tmp/sweep/runs/a"))
    assert config.model == type(config.model)(**{**MODEL_PRESETS["small"].__dict__, "attention": "flex"})
    assert config.data.weight_schedule[0].step == 0
    assert config.data.weight_schedule[0].weights == {"text": 0.6, "image_text": 0.3, "audio_text": 0.1}
    assert (config.run.tokens, config.run.steps, config.run.compile, config.run.seed) == (2e6, None, True, 5)
    assert config.diffusion.schedules["image"].name == "cosine"
    assert config.run.run_dir == Path("/tmp/sweep/runs/a")
    with pytest.raises(ValueError, match="not a model preset"):
        resolve_point("tiny", {"model": "huge"})
    with pytest.raises(ValueError, match="mix="):
        resolve_point("tiny", {"mix": "text=0.5"})


def test_unknown_key_fails_before_anything_is_submitted(tmp_path: Path) -> None:
    config = SweepConfig(config="tiny", grid=("optim.adamw.lrr=1e-3,2e-3",), out_dir=tmp_path, name="s")
    with pytest.raises(ValueError, match="do not parse"):
        run_sweep(config)
    assert not (tmp_path / "s").exists()


def test_manifest_statuses_follow_status_files(tmp_path: Path) -> None:
    header = {"format": 1, "name": "s", "executor": "local", "launch": {}, "grid": {"run.seed": ["0", "1", "2"]}}
    runs = [SweepRun(index=i, name=f"seed-{i}", overrides={"run.seed": str(i)}, run_dir=f"runs/seed-{i}",
                     job_id=f"9_{i}", status="submitted") for i in range(3)]
    path = write_manifest(tmp_path, header, runs)
    write_status(tmp_path / "status" / "seed-0.json", "completed", job_id="9_0", final_step=4)
    write_status(tmp_path / "status" / "seed-1.json", "failed", job_id="9_1", error="ValueError: boom")
    got_header, got = load_manifest(tmp_path)
    assert got_header["grid"] == header["grid"]
    assert [(r.status, r.final_step, r.error) for r in got] == [
        ("completed", 4, None), ("failed", None, "ValueError: boom"), ("submitted", None, None)]
    assert json.loads(path.read_text())["runs"][0]["status"] == "submitted"  # refresh does not rewrite
    assert run_dirs(path) == {f"seed-{i}": (tmp_path / f"runs/seed-{i}").resolve() for i in range(3)}
    (tmp_path / "bad.json").write_text(json.dumps({"format": 99, "runs": []}))
    with pytest.raises(ValueError, match="format"):
        load_manifest(tmp_path / "bad.json")


def test_sweep_config_defaults_to_local_executor() -> None:
    assert SweepConfig().launch == LaunchConfig(executor="local")
