"""Study grids: the base config file round trip, run names and overrides per point, waiting on manifests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from trimodal_eval.experiments.grid_runs import GridSpec, _points, wait_for_sweeps, write_base_config
from trimodal_eval.experiments.study import StudyConfig
from trimodal_train import sweep as sweeps
from trimodal_train.configs import tiny
from trimodal_train.launch import write_status


def test_points_resolve_from_the_base_file(tmp_path: Path) -> None:
    base = dataclasses.replace(tiny(), data=dataclasses.replace(tiny().data, mixture=tmp_path / "mix.json"))
    path = write_base_config(tmp_path, base)
    spec = GridSpec(name="g", grid=("optim.mode=sde,accumulate", "data.global_batch_size=4"),
                    overrides=("--run.tokens", "4096", "--run.steps", "None"))
    runs, configs = _points(spec, path, tmp_path / "sweeps" / "g")
    assert [r.name for r in runs] == ["mode-sde", "mode-accumulate"]  # single-valued axes stay out of names
    for run, config in zip(runs, configs, strict=True):
        assert config.optim.mode == run.overrides["optim.mode"]
        assert config.data.global_batch_size == 4 and config.run.tokens == 4096 and config.run.steps is None
        assert config.run.run_dir == tmp_path / "sweeps" / "g" / "runs" / run.name
        assert config.model == base.model and config.data.mixture == base.data.mixture  # the rest: the base's
    with pytest.raises(ValueError, match="study grid g"):
        _points(GridSpec(name="g", grid=("optim.no_such_field=1",)), path, tmp_path / "x")


def test_wait_for_sweeps_reads_status_files(tmp_path: Path) -> None:
    header = {"format": sweeps.FORMAT_VERSION, "name": "s", "executor": "slurm"}
    runs = [sweeps.SweepRun(index=i, name=f"r{i}", overrides={}, run_dir=f"runs/r{i}", status="submitted")
            for i in range(2)]
    sweeps.write_manifest(tmp_path, header, runs)
    write_status(tmp_path / "status" / "r0.json", "completed", final_step=3)
    write_status(tmp_path / "status" / "r1.json", "failed", error="boom")
    wait_for_sweeps([tmp_path], poll_s=0.01)  # returns: every run has ended
    assert json.loads((tmp_path / "sweep.json").read_text())["runs"][0]["status"] == "submitted"  # read-only


def test_study_config_launch() -> None:
    study = StudyConfig(executor="slurm")
    launch = study.launch_config("study-x")
    assert (launch.executor, launch.job_name) == ("slurm", "study-x")
    assert StudyConfig().launch_config("y").executor == "local"  # inline has no submitit executor
    assert StudyConfig(size="smoke").num_eval_examples == 8
    with pytest.raises(ValueError, match="eval_examples"):
        StudyConfig(eval_examples=0)
