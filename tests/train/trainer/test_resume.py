"""Exact resume: 8 straight steps equal 4 + checkpoint + resume + 4 bit for bit, also after ``kill -9`` in the
middle of training or of a checkpoint save; a resume on another world size continues the same batches."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from trimodal_train import preemption
from trimodal_train.checkpoint import complete_checkpoints
from trimodal_train.config import TrainConfig
from trimodal_train.config_io import to_dict
from trimodal_train.metrics import read_metrics
from trimodal_train.trainer import train

SCRIPT = Path(__file__).with_name("run_train.py")
PYCACHE = Path(tempfile.gettempdir()) / "trimodal-test-pycache"


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "model" / "model.safetensors"))


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in read_metrics(run_dir / "metrics.jsonl")]


def test_four_plus_resume_plus_four_equals_eight(reference_run: Any, make_config: Any) -> None:
    config = make_config()

    def preempt_after_step_3(step: int, record: dict[str, Any]) -> None:
        if step == 3:
            preemption.request_checkpoint("test")

    first = train(config, on_step=preempt_after_step_3)
    assert first.preempted and first.final_step == 4
    assert [s for s, _ in complete_checkpoints(config.run.run_dir / "checkpoints")] == [2, 4]
    second = train(config)
    assert not second.preempted and second.final_step == 8
    assert second.resumed_from is not None and second.resumed_from.name == "step_00000004"
    assert losses(config.run.run_dir) == losses(reference_run.config.run.run_dir)  # bit for bit
    assert_same_weights(config.run.run_dir, reference_run.config.run.run_dir)
    # the optimizer state is part of it: a third call finds the run finished and changes nothing
    third = train(config)
    assert third.final_step == 8 and third.resumed_from is not None and third.resumed_from.name == "step_00000008"
    assert_same_weights(config.run.run_dir, reference_run.config.run.run_dir)


def _spawn(config: TrainConfig, *flags: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    path = config.run.run_dir.parent / f"config_{len(list(config.run.run_dir.parent.glob('config_*')))}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_dict(config)))
    # Bytecode cached in a private folder: the environment sets PYTHONDONTWRITEBYTECODE, and recompiling
    # torch._dynamo (imported by torch.optim) from source costs each subprocess ~10 s of CPU.
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPYCACHEPREFIX": str(PYCACHE), **(env or {})}
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.Popen([sys.executable, str(SCRIPT), str(path), *flags], env=full_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_when_hanging(proc: subprocess.Popen[str], run_dir: Path, timeout: float = 240.0) -> None:
    marker = run_dir / "HANGING"
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"trainer exited early ({proc.returncode}):\n{proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("trainer never reached the hang point")
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_kill_9_during_training_resumes_from_the_last_complete_checkpoint(
    reference_run: Any, make_config: Any
) -> None:
    config = make_config()
    run_dir = config.run.run_dir
    _kill_when_hanging(_spawn(config, "--hang-after-step", "5"), run_dir)  # steps 0..5 done, step_6 not saved
    assert [s for s, _ in complete_checkpoints(run_dir / "checkpoints")] == [2, 4]
    result = train(config)
    assert result.resumed_from is not None and result.resumed_from.name == "step_00000004"
    assert result.final_step == 8
    assert_same_weights(run_dir, reference_run.config.run.run_dir)
    assert losses(run_dir) == losses(reference_run.config.run.run_dir)


@pytest.mark.slow
def test_kill_9_during_a_checkpoint_save(reference_run: Any, make_config: Any) -> None:
    config = make_config()
    run_dir = config.run.run_dir
    _kill_when_hanging(_spawn(config, "--hang-in-save", "6"), run_dir)
    tmp = run_dir / "checkpoints" / ".tmp_step_00000006"
    assert (tmp / ".metadata").is_file() and not (tmp / "COMPLETE").exists()  # shards written, never published
    assert [s for s, _ in complete_checkpoints(run_dir / "checkpoints")] == [2, 4]
    result = train(config)
    assert result.resumed_from is not None and result.resumed_from.name == "step_00000004"
    assert not tmp.exists()  # the torn save was cleaned up
    assert_same_weights(run_dir, reference_run.config.run.run_dir)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ddp(config: TrainConfig, *flags: str) -> list[dict[str, Any]]:
    """Two ranks (gloo on CPU) of ``config``, as torchrun would start them."""
    port = str(_free_port())
    procs = [_spawn(config, *flags, env={"RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": str(r),
                                         "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}) for r in range(2)]
    outs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    return outs


@pytest.mark.slow
@pytest.mark.parametrize("parallelism", ["ddp", "fsdp"])
def test_two_processes_equal_one_process(reference_run: Any, make_config: Any, parallelism: str) -> None:
    config = make_config(run={"parallelism": parallelism})
    outs = _ddp(config)
    assert [o["final_step"] for o in outs] == [8, 8]
    ref = losses(reference_run.config.run.run_dir)
    assert losses(config.run.run_dir) == pytest.approx(ref, rel=1e-5)
    ws, wr = weights(config.run.run_dir), weights(reference_run.config.run.run_dir)
    for name in wr:
        torch.testing.assert_close(ws[name], wr[name], rtol=1e-4, atol=1e-5)
    assert json.loads((config.run.run_dir / "config.json").read_text())["derived"]["world_size"] == 2


@pytest.mark.slow
def test_resume_on_another_world_size_continues_the_same_batches(reference_run: Any, make_config: Any) -> None:
    config = make_config()
    outs = _ddp(config, "--preempt-after-step", "3")  # 2 ranks: 4 steps, checkpoint, stop
    assert outs[0] == {"final_step": 4, "preempted": True}
    result = train(dataclasses.replace(config))  # 1 rank resumes
    assert result.resumed_from is not None and result.resumed_from.name == "step_00000004"
    assert losses(config.run.run_dir) == pytest.approx(losses(reference_run.config.run.run_dir), rel=1e-5)
