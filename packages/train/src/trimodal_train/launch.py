"""Launch training with submitit, in local processes (default) or as SLURM jobs, with requeue on preemption.

``LaunchConfig`` holds the scheduler settings (the ``--launch.*`` options of ``trimodal-train run`` and
``sweep``); :func:`build_executor` turns it into a submitit executor; :class:`TrainJob` is the submitted
callable. Inside a job, ``TrainJob``:

1. exports ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``
   from ``submitit.JobEnvironment`` when the job has several tasks (what torchrun would set), so the trainer
   joins one process group with ``env://`` (values inherited from the submitting process are replaced, and
   removed in a one-task job); ``MASTER_PORT = 20000 + sha1(job id) mod 40000`` [ours], the same
   on every task of a job and across its requeues, different between array elements;
2. replaces submitit's preemption handler (``SIGUSR2``, sent by SLURM ``signal_delay_s`` before the time
   limit, by ``scancel --signal`` on preemption, by ``job._interrupt()`` in tests) with one that only calls
   :func:`trimodal_train.preemption.request_checkpoint`; the trainer agrees on it at the next step boundary
   (all ranks), writes a checkpoint and returns ``preempted=True``;
3. then, on rank 0, hands over to submitit's own handler, which calls :meth:`TrainJob.checkpoint` (a
   ``DelayedSubmission`` of a fresh ``TrainJob`` with the same config), dumps it, runs ``scontrol requeue``
   (local executor: exits with its requeue code) and exits; the other ranks exit (local) or, on SLURM, wait
   for the requeue to stop them. The requeued job calls ``train`` with the same
   config, which resumes from the latest complete checkpoint on disk: no checkpoint path is pickled.

Submitit counts requeues after a time-out (``max_num_timeout``); preemptions are not counted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import submitit

from trimodal_train import preemption

log = logging.getLogger(__name__)
Executor = Literal["local", "slurm"]
DEFAULT_TARGET = "trimodal_train.trainer:train"
_RANK_WAIT_S = 300  # how long a rank other than 0 waits, after a preemption save, for the requeue to stop it


@dataclasses.dataclass(frozen=True, kw_only=True)
class LaunchConfig:
    """Where and how a training job runs (submitit executor and SLURM resources)."""

    executor: Executor = "local"
    """``local``: submitit's local executor (subprocesses of this machine); ``slurm``: sbatch jobs."""
    folder: str | None = None
    """Submitit's folder (job pickles, stdout/stderr, named by job id). None: ``<run dir>/submitit`` for a run,
    ``<sweep dir>/submitit`` for a sweep."""
    job_name: str = "trimodal-train"
    """SLURM job name."""
    partition: str | None = None
    """SLURM partition (None: the cluster's default)."""
    nodes: int = 1
    """Nodes per job (the local executor supports 1)."""
    tasks_per_node: int = 1
    """Processes per node: one per GPU for DDP/FSDP (all tasks form one process group)."""
    gpus_per_node: int = 0
    """GPUs per node (0: none requested)."""
    cpus_per_task: int | None = None
    """CPUs per task; also each task's torch thread count when ``OMP_NUM_THREADS`` is unset [ours]."""
    mem: str | None = None
    """Memory per node in SLURM syntax (``32G``); None: the partition's default."""
    time_min: int = 60
    """Time limit in minutes (the local executor enforces it too)."""
    account: str | None = None
    """SLURM account to charge."""
    qos: str | None = None
    """SLURM quality of service."""
    constraint: str | None = None
    """SLURM node feature constraint (``a100|h100``)."""
    exclusive: bool = False
    """Ask for whole nodes."""
    array_parallelism: int = 256
    """Most array elements of a sweep running at once."""
    signal_delay_s: int = 120
    """Seconds between the preemption signal before the time limit and the kill: enough for one step plus a
    checkpoint."""
    max_num_timeout: int = 3
    """Requeues allowed after time-outs (preemptions are not counted)."""
    setup: tuple[str, ...] = ()
    """Shell lines run in the sbatch script before the job (``module load ...``)."""
    wait: bool = True
    """Wait for the job(s) and report the result; False: submit, print the job ids and return."""

    def __post_init__(self) -> None:
        if self.executor not in ("local", "slurm"):
            raise ValueError(f"launch.executor must be 'local' or 'slurm', got {self.executor!r}")
        for name in ("nodes", "tasks_per_node", "time_min", "array_parallelism"):
            if getattr(self, name) < 1:
                raise ValueError(f"launch.{name} must be >= 1, got {getattr(self, name)}")
        if self.gpus_per_node < 0:
            raise ValueError(f"launch.gpus_per_node must be >= 0, got {self.gpus_per_node}")
        if self.cpus_per_task is not None and self.cpus_per_task < 1:
            raise ValueError(f"launch.cpus_per_task must be >= 1, got {self.cpus_per_task}")
        if self.executor == "local" and self.nodes != 1:
            raise ValueError(f"launch.nodes must be 1 with the local executor, got {self.nodes}")

    @property
    def world_size(self) -> int:
        return self.nodes * self.tasks_per_node


def build_executor(config: LaunchConfig, folder: str | Path) -> submitit.Executor:
    """A submitit executor for ``config`` writing its pickles and logs under ``folder``."""
    if config.executor == "local":
        executor: submitit.Executor = submitit.LocalExecutor(folder=str(folder), max_num_timeout=config.max_num_timeout)
        params: dict[str, Any] = {
            "timeout_min": config.time_min, "tasks_per_node": config.tasks_per_node,
            "gpus_per_node": config.gpus_per_node, "signal_delay_s": config.signal_delay_s,
        }
        if config.cpus_per_task is not None:
            params["cpus_per_task"] = config.cpus_per_task
        executor.update_parameters(**params)
        return executor
    try:
        executor = submitit.SlurmExecutor(folder=str(folder), max_num_timeout=config.max_num_timeout)
    except RuntimeError as exc:
        raise ValueError(f"launch.executor='slurm' but no SLURM here ({exc})") from None
    params = {
        "job_name": config.job_name, "time": config.time_min, "nodes": config.nodes,
        "ntasks_per_node": config.tasks_per_node, "signal_delay_s": config.signal_delay_s,
        "array_parallelism": config.array_parallelism,
    }
    optional = {
        "partition": config.partition, "cpus_per_task": config.cpus_per_task, "mem": config.mem,
        "account": config.account, "qos": config.qos, "constraint": config.constraint,
        "gpus_per_node": config.gpus_per_node or None, "exclusive": True if config.exclusive else None,
        "setup": list(config.setup) or None,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    executor.update_parameters(**params)
    return executor


def master_port(job_id: str) -> int:
    """A port every task of a job derives alike (20000-59999), distinct between array elements."""
    return 20000 + int(hashlib.sha1(job_id.encode()).hexdigest(), 16) % 40000


_DIST_VARS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


def export_distributed_env(env: Any | None = None) -> dict[str, str]:
    """Set the torch.distributed ``env://`` variables from a submitit job environment; returns them.

    Inside a submitit job the job environment is the truth: values inherited from the submitting process (a
    shell or a torchrun rank that launched the job) are replaced, and a single-task job has them removed, so
    the trainer never joins a stale process group.
    """
    env = env if env is not None else submitit.JobEnvironment()
    if env.num_tasks <= 1:
        for name in _DIST_VARS:
            os.environ.pop(name, None)
        return {}
    hosts = env.hostnames
    values = {
        "MASTER_ADDR": hosts[0] if len(hosts) > 1 else "127.0.0.1",
        "MASTER_PORT": str(master_port(str(env.job_id))),
        "RANK": str(env.global_rank),
        "WORLD_SIZE": str(env.num_tasks),
        "LOCAL_RANK": str(env.local_rank),
        "LOCAL_WORLD_SIZE": str(env.num_tasks // max(env.num_nodes, 1)),
    }
    os.environ.update(values)
    return values


def resolve_target(target: str) -> Callable[[Any], Any]:
    """``"package.module:function"`` -> the function (imported inside the job, so pickles hold only the name)."""
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"launch target must be 'module:function', got {target!r}")
    return getattr(importlib.import_module(module), name)


def write_status(path: str | Path | None, state: str, **fields: Any) -> None:
    """Atomically write ``{"state": ..., "time": ..., **fields}`` as JSON (sweeps read these files)."""
    if path is None:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"state": state, "time": time.time(), **fields}, indent=1, default=str))
    os.replace(tmp, p)


def _resume_config(config: Any) -> Any:
    """The config a requeued job trains with: the same, with ``checkpoint.resume`` on (latest checkpoint on disk)."""
    checkpoint = getattr(config, "checkpoint", None)
    if dataclasses.is_dataclass(checkpoint) and getattr(checkpoint, "resume", True) is not True:
        return dataclasses.replace(config, checkpoint=dataclasses.replace(checkpoint, resume=True))
    return config


class TrainJob(submitit.helpers.Checkpointable):
    """The callable submitit runs: ``target(config)`` with distributed setup and requeue on preemption.

    Args:
        config: the training config (pickled into the job; it names the run directory, never a checkpoint).
        target: ``"module:function"`` called with ``config``; it must return an object with a ``preempted``
            attribute when it stopped at a checkpoint request (``TrainResult``).
        status_file: where rank 0 records ``running`` / ``requeued`` / ``completed`` / ``failed`` (sweeps).
        threads: torch intra-op threads when ``OMP_NUM_THREADS`` is unset.
    """

    def __init__(self, config: Any, *, target: str = DEFAULT_TARGET, status_file: str | None = None,
                 threads: int | None = None, attempt: int = 0) -> None:
        self.config = config
        self.target = target
        self.status_file = status_file
        self.threads = threads
        self.attempt = attempt
        self._signum: int | None = None

    def __call__(self) -> Any:
        env = submitit.JobEnvironment()
        export_distributed_env(env)
        if self.threads and "OMP_NUM_THREADS" not in os.environ:
            import torch

            torch.set_num_threads(self.threads)
        rank0 = env.global_rank == 0
        usr_sig = env._usr_sig()
        submitit_handler = signal.getsignal(usr_sig)
        preemption.clear()
        signal.signal(usr_sig, self._on_signal)

        def status(state: str, **fields: Any) -> None:
            if rank0:
                write_status(self.status_file, state, job_id=env.job_id, attempt=self.attempt, pid=os.getpid(),
                             host=env.hostname, **fields)

        status("running")
        try:
            result = resolve_target(self.target)(self.config)
        except Exception as exc:
            status("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        if not getattr(result, "preempted", False):
            status("completed", final_step=getattr(result, "final_step", None),
                   run_dir=getattr(result, "run_dir", None))
            return result
        log.warning("checkpoint written after a preemption signal; requeueing job %s", env.job_id)
        status("requeued", final_step=getattr(result, "final_step", None))
        signal.signal(usr_sig, submitit_handler)
        if callable(submitit_handler):
            # Rank 0: checkpoint() + dump + requeue + exit. Other ranks: returns at once.
            submitit_handler(self._signum or usr_sig, None)
        if env.cluster == "slurm":
            # Wait for the requeue to end this task: exiting first with an error could make srun kill rank 0
            # before it requeues (clusters with KillOnBadExit=1).
            time.sleep(_RANK_WAIT_S)
        sys.exit(-1)  # no result file: the requeued job writes it

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signum = signum
        preemption.request_checkpoint(f"signal {signal.Signals(signum).name}")

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """Request a collective save (a no-op once the trainer has saved) and resubmit the same run."""
        preemption.request_checkpoint("checkpoint")
        job = TrainJob(_resume_config(self.config), target=self.target, status_file=self.status_file,
                       threads=self.threads, attempt=self.attempt + 1)
        return submitit.helpers.DelayedSubmission(job)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_signum"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._signum = None
