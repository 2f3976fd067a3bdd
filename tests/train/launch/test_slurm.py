"""The launcher on a real single-node SLURM cluster (``slurm_cluster``: slurmctld, slurmd, slurmdbd, MariaDB
and munge on localhost): a tiny training run through ``trimodal-train run --launch.executor slurm``, a sweep
as a job array of three, a requeue after a simulated preemption that resumes from its checkpoint to the
uninterrupted run's weights, and a job killed by the scheduler surfacing as an error (accounting)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import submitit
import torch

from trimodal_train import cli
from trimodal_train.config_io import to_dict
from trimodal_train.launch import LaunchConfig, TrainJob, build_executor
from trimodal_train.sweep import SweepConfig, SweepRun, load_manifest, run_sweep, write_manifest

pytestmark = pytest.mark.slow
STEPS = 4
TIMEOUT_S = 600  # generous: a shared 2-core machine may be busy


def _launch(folder: Path) -> LaunchConfig:
    return LaunchConfig(executor="slurm", cpus_per_task=1, time_min=20, folder=str(folder), job_name="test")


def _sacct(cluster, job_id: str) -> list[str]:
    """States of the job's allocation rows, oldest first (duplicates: one row per requeue)."""
    out = cluster.run("sacct", "--noheader", "--parsable2", "--duplicates", "-o", "JobID,State", "-j", job_id)
    return [line.split("|")[1] for line in out.splitlines() if line.split("|")[0] == job_id]


class _CliRun:
    """``trimodal-train run --config FILE --launch.executor slurm`` in a thread (it waits for its job)."""

    def __init__(self, config, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.config, self.file = config, root / "config.json"
        self.file.write_text(json.dumps(to_dict(config)))
        self.argv = ["run", "--config", str(self.file), "--launch.executor", "slurm", "--launch.cpus-per-task", "1",
                     "--launch.time-min", "20", "--launch.job-name", "cli-run"]
        self.code: int | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        self.code = cli.main(self.argv)

    def join(self) -> int | None:
        self.thread.join(TIMEOUT_S)
        assert not self.thread.is_alive(), "trimodal-train run --launch.executor slurm did not return"
        return self.code


@pytest.fixture(scope="module")
def reference_run(slurm_cluster, launch_run_config, tmp_path_factory) -> _CliRun:
    """An uninterrupted tiny run on SLURM through the CLI, started in the background at first use."""
    root = tmp_path_factory.mktemp("slurm_reference")
    return _CliRun(launch_run_config(root / "run", STEPS), root)


def test_slurm_requeue_after_preemption_resumes_to_uninterrupted_weights(
        slurm_cluster, reference_run, launch_run_config, tmp_path: Path, launch_helpers) -> None:
    """``job._interrupt()`` (SIGTERM then USR2, as on a preemption) once the job runs: the trainer saves at
    the first step boundary, submitit requeues the job, ``scontrol update StartTime=now`` releases it, and
    the second attempt resumes from that checkpoint on disk and ends with the uninterrupted run's weights."""
    h = launch_helpers
    status = tmp_path / "status.json"
    executor = build_executor(_launch(tmp_path / "submitit"), tmp_path / "submitit")
    job = executor.submit(TrainJob(launch_run_config(tmp_path / "run", STEPS), status_file=str(status), threads=1))
    h.wait_for(lambda: h.status(status).get("state") == "running", TIMEOUT_S, "the job to start")
    job._interrupt()
    requeued = h.wait_for(lambda: h.status(status).get("state") == "requeued" and h.status(status), TIMEOUT_S,
                          "the preemption checkpoint")
    assert requeued["final_step"] == 1

    def held() -> bool:
        return "PENDING" in slurm_cluster.run("squeue", "--noheader", "-j", job.job_id, "-o", "%T")

    h.wait_for(held, 120, "the requeued job to be pending")
    slurm_cluster.run("scontrol", "update", f"JobId={job.job_id}", "StartTime=now")
    result = job.result()

    assert result.final_step == STEPS and not result.preempted
    assert result.resumed_from is not None and result.resumed_from.name == "step_00000001"
    final = h.status(status)
    assert (final["state"], final["attempt"], final["job_id"]) == ("completed", 1, job.job_id)
    assert h.metric_steps(tmp_path / "run") == list(range(STEPS))
    h.wait_for(lambda: _sacct(slurm_cluster, job.job_id) == ["REQUEUED", "COMPLETED"], 60, "sacct rows")

    assert reference_run.join() == 0
    ours, theirs = h.weights(tmp_path / "run"), h.weights(reference_run.config.run.run_dir)
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name


def test_slurm_tiny_run_through_the_cli(slurm_cluster, reference_run, launch_helpers) -> None:
    assert reference_run.join() == 0
    run_dir = reference_run.config.run.run_dir
    (script,) = (run_dir / "submitit").glob("*_submission.sh")  # the CLI's default folder: <run dir>/submitit
    job_id = script.name.split("_")[0]
    assert "#SBATCH --job-name=cli-run\n" in script.read_text()
    assert launch_helpers.metric_steps(run_dir) == list(range(STEPS))
    assert (run_dir / "model" / "model.safetensors").is_file()
    launch_helpers.wait_for(lambda: _sacct(slurm_cluster, job_id) == ["COMPLETED"], 60, "sacct rows")


def test_slurm_sweep_is_one_job_array_of_three(slurm_cluster, launch_run_config, tmp_path: Path,
                                               launch_helpers) -> None:
    base = tmp_path / "base.json"
    base.write_text(json.dumps(to_dict(launch_run_config(tmp_path / "unused", STEPS))))
    launch = LaunchConfig(executor="slurm", cpus_per_task=1, time_min=20, array_parallelism=3)
    manifest, runs = run_sweep(SweepConfig(config=str(base), grid=("run.seed=1,2,3",), out_dir=tmp_path,
                                           name="seeds", launch=launch))

    array_id = runs[0].job_id.split("_")[0]
    assert [r.job_id for r in runs] == [f"{array_id}_{i}" for i in range(3)]
    assert [(r.name, r.status, r.final_step) for r in runs] == [
        (f"seed-{s}", "completed", STEPS) for s in (1, 2, 3)]
    _, stored = load_manifest(manifest)
    assert [(r.name, r.status, r.overrides) for r in stored] == [
        (f"seed-{s}", "completed", {"run.seed": str(s)}) for s in (1, 2, 3)]
    weights = []
    for run, seed in zip(stored, (1, 2, 3), strict=True):
        run_dir = manifest.parent / run.run_dir
        assert json.loads((run_dir / "config.json").read_text())["run"]["seed"] == seed
        assert launch_helpers.metric_steps(run_dir) == list(range(STEPS))
        weights.append(launch_helpers.weights(run_dir))
    for a, b in ((0, 1), (1, 2)):  # different seeds, different models
        assert any(not torch.equal(weights[a][k], weights[b][k]) for k in weights[a])
    script = (manifest.parent / "submitit" / f"{array_id}_submission.sh").read_text()
    assert "#SBATCH --array=0-2%3" in script
    for i in range(3):
        launch_helpers.wait_for(lambda i=i: _sacct(slurm_cluster, f"{array_id}_{i}") == ["COMPLETED"], 60, "sacct")


def test_slurm_killed_job_surfaces_through_accounting(slurm_cluster, tmp_path: Path, launch_helpers) -> None:
    """A job the scheduler kills before it writes a result: with accounting, ``result()`` raises at once
    (submitit reads the state from sacct) and a sweep manifest marks the run failed."""
    status = tmp_path / "status" / "sleeper.json"
    executor = build_executor(_launch(tmp_path / "submitit"), tmp_path / "submitit")
    job = executor.submit(TrainJob(300, target="time:sleep", status_file=str(status)))
    launch_helpers.wait_for(lambda: launch_helpers.status(status).get("state") == "running", TIMEOUT_S, "start")
    slurm_cluster.run("scancel", job.job_id)
    start = time.monotonic()
    with pytest.raises(submitit.core.utils.UncompletedJobError):
        job.result()
    assert time.monotonic() - start < 60
    header = {"format": 1, "name": "k", "executor": "slurm", "launch": {}, "grid": {}}
    write_manifest(tmp_path, header, [SweepRun(index=0, name="sleeper", overrides={}, run_dir="runs/sleeper",
                                               job_id=job.job_id, status="submitted")])
    assert launch_helpers.status(status)["state"] == "running"  # killed: it could not record anything else
    _, (run,) = load_manifest(tmp_path)
    assert run.status == "failed" and "CANCELLED" in (run.error or "")
