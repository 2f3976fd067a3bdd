"""Launch machinery: LaunchConfig checks, the sbatch script it yields, torch.distributed variables from a
submitit job environment, the ``--launch.*`` command line, and a local submitit launch that is preempted,
requeued and resumed to the same weights as an uninterrupted run."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import types
from pathlib import Path

import pytest
import submitit
import torch

from trimodal_train import preemption
from trimodal_train.launch import (
    LaunchConfig,
    TrainJob,
    build_executor,
    export_distributed_env,
    master_port,
)
from trimodal_train.launch_cli import parse_sweep_args, split_launch_args


@pytest.mark.parametrize(
    ("fields", "named"),
    [({"executor": "pbs"}, "launch.executor"), ({"nodes": 0}, "launch.nodes"),
     ({"executor": "local", "nodes": 2}, "launch.nodes"), ({"cpus_per_task": 0}, "launch.cpus_per_task"),
     ({"gpus_per_node": -1}, "launch.gpus_per_node"), ({"time_min": 0}, "launch.time_min")],
)
def test_launch_config_rejects_bad_fields(fields: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        LaunchConfig(**fields)


def test_sbatch_script_carries_every_resource(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 2))  # no srun needed
    launch = LaunchConfig(executor="slurm", job_name="sweep-x", partition="gpu", nodes=2, tasks_per_node=8,
                          gpus_per_node=8, cpus_per_task=12, mem="64G", time_min=90, account="acc", qos="high",
                          constraint="h100", exclusive=True, array_parallelism=2, signal_delay_s=100,
                          setup=("module load cuda",))
    executor = build_executor(launch, tmp_path)
    script = executor._make_submission_file_text("python -m job", "uid")
    for line in ("--job-name=sweep-x", "--partition=gpu", "--nodes=2", "--ntasks-per-node=8", "--gpus-per-node=8",
                 "--cpus-per-task=12", "--mem=64G", "--time=90", "--account=acc", "--qos=high",
                 "--constraint=h100", "--signal=USR2@100"):
        assert f"#SBATCH {line}\n" in script, line
    assert "#SBATCH --exclusive\n" in script
    assert "module load cuda\n" in script
    executor.parameters["map_count"] = 3
    assert "#SBATCH --array=0-2%2\n" in executor._make_submission_file_text("python -m job", "uid")
    bare = build_executor(LaunchConfig(executor="slurm"), tmp_path)._make_submission_file_text("x", "u")
    assert not any(f"--{k}" in bare for k in ("partition", "account", "qos", "constraint", "exclusive", "gpus"))


def _fake_env(**fields: object) -> types.SimpleNamespace:
    base = {"num_tasks": 4, "num_nodes": 2, "global_rank": 3, "local_rank": 1, "job_id": "77_2",
            "hostnames": ["node-a", "node-b"]}
    return types.SimpleNamespace(**{**base, **fields})


def test_distributed_env_from_job_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    for name in names:  # inherited from the submitting process: stale inside the job
        monkeypatch.setenv(name, "9")  # (also makes monkeypatch restore the real environment afterwards)
    values = export_distributed_env(_fake_env())
    assert values == {"MASTER_ADDR": "node-a", "MASTER_PORT": str(master_port("77_2")), "RANK": "3",
                      "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert {k: os.environ[k] for k in values} == values
    assert export_distributed_env(_fake_env(num_tasks=2, num_nodes=1, hostnames=["vm"]))["MASTER_ADDR"] == "127.0.0.1"
    assert export_distributed_env(_fake_env(num_tasks=1, num_nodes=1, global_rank=0, local_rank=0)) == {}
    assert not any(name in os.environ for name in names)  # one task: no process group


def test_master_port_is_per_job_and_stable() -> None:
    ports = {master_port(f"123_{i}") for i in range(50)}
    assert len(ports) > 45 and all(20000 <= p < 60000 for p in ports)
    assert master_port("123_4") == master_port("123_4")


def test_launch_options_split_from_overrides() -> None:
    launch, rest = split_launch_args(["--config", "tiny", "--launch.executor", "slurm", "--launch.exclusive",
                                      "--run.steps", "3", "--launch.setup", "module load a", "echo b",
                                      "--launch.time-min=30"])
    assert rest == ["--config", "tiny", "--run.steps", "3"]
    assert launch == LaunchConfig(executor="slurm", exclusive=True, setup=("module load a", "echo b"), time_min=30)
    assert split_launch_args(["--config", "tiny"]) == (None, ["--config", "tiny"])
    sweep = parse_sweep_args(["--config", "tiny", "--grid", "model=tiny,small", "run.seed=0,1", "--name", "s",
                              "--run.steps", "2", "--launch.array-parallelism", "2", "--grid=optim.grad_clip=1"])
    assert sweep.grid == ("model=tiny,small", "run.seed=0,1", "optim.grad_clip=1")
    assert sweep.overrides == ("--run.steps", "2") and sweep.name == "s"
    assert sweep.launch.array_parallelism == 2
    with pytest.raises(ValueError, match="--grid"):
        parse_sweep_args(["--config", "tiny"])


def test_checkpoint_resubmits_same_run_with_resume() -> None:
    from trimodal_train.configs import tiny

    config = tiny()
    config = dataclasses.replace(config, checkpoint=dataclasses.replace(config.checkpoint, resume=False))
    job = TrainJob(config, status_file="s.json", threads=1)
    preemption.clear()
    try:
        delayed = job.checkpoint()
        assert preemption.checkpoint_requested()
    finally:
        preemption.clear()
    resubmitted = delayed.function
    assert isinstance(resubmitted, TrainJob) and resubmitted is not job
    assert resubmitted.config.checkpoint.resume is True
    assert resubmitted.config.run.run_dir == config.run.run_dir
    assert (resubmitted.attempt, resubmitted.status_file, resubmitted.threads) == (1, "s.json", 1)


@pytest.mark.slow
def test_local_two_task_launch_preempted_on_rank0_requeued_resumes(launch_run_config, tmp_path: Path,
                                                                   launch_helpers) -> None:
    """A local submitit job of two tasks (DDP over gloo, env:// from the job environment). Only rank 0 gets
    the preemption signal, as under submitit; both ranks agree at the first step boundary, save one
    checkpoint, the job requeues (new processes) and resumes. The weights match a one-process uninterrupted
    run within the DDP tolerance of the trainer tests."""
    from trimodal_train.trainer import train

    h = launch_helpers
    steps = 4
    config = launch_run_config(tmp_path / "job", steps)
    status = tmp_path / "status.json"
    launch = LaunchConfig(executor="local", tasks_per_node=2, cpus_per_task=1, time_min=20)
    job = build_executor(launch, tmp_path / "submitit").submit(TrainJob(config, status_file=str(status), threads=1))
    first = h.wait_for(lambda: h.status(status).get("state") == "running" and h.status(status), 300, "job start")
    os.kill(first["pid"], signal.SIGUSR2)  # rank 0 only

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reference = train(launch_run_config(tmp_path / "ref", steps))
    finally:
        torch.set_num_threads(threads)

    results = job.results()  # one per task
    assert [(r.final_step, r.preempted) for r in results] == [(steps, False), (steps, False)]
    assert results[0].resumed_from is not None and results[0].resumed_from.name == "step_00000001"
    final = h.status(status)
    assert final["state"] == "completed" and final["attempt"] == 1 and final["pid"] != first["pid"]
    assert h.metric_steps(tmp_path / "job") == list(range(steps))  # step 0 before the requeue, 1-3 after
    derived = json.loads((tmp_path / "job" / "config.json").read_text())["derived"]
    assert derived["world_size"] == 2
    ours, theirs = h.weights(tmp_path / "job"), h.weights(reference.run_dir)
    assert ours.keys() == theirs.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-4, atol=1e-5)
