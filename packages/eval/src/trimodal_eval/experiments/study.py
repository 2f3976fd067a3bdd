"""What every study shares: its output folder, size, executor, data, seed and reuse policy, and its result.

A study (``experiments/batch_size.py``, ``gamma.py``, ...) has its own ``XStudyConfig`` holding a
``StudyConfig`` as ``study`` (``--study.size smoke``, ``--study.executor slurm``, ``--study.launch.partition
gpu``) and returns a :class:`StudyResult` from ``run_x(config)``. ``size`` names a grid each study defines:
``smoke`` (seconds, CI), ``default`` (minutes on a CPU), ``full`` (a cluster).

Executors:

* ``inline`` (default) [ours]: the runs train one after another in this process through
  ``trimodal_train.trainer.train``; their sweep folders, manifests and status files are the same as
  ``trimodal_train.sweep`` writes. No process start per run: importing torch and the trainer takes about 20 s
  of a loaded 2-core machine (measured 2026-12-01), more than a smoke run trains.
* ``local``: ``trimodal_train.sweep.run_sweep`` on submitit's local executor (one subprocess per run, at most
  ``launch.array_parallelism`` at once).
* ``slurm``: the same as a SLURM job array; ``launch`` carries partition, GPUs, time limit, account.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

from trimodal_core.atomic import atomic_write_text
from trimodal_eval.json_values import json_value
from trimodal_train.launch import LaunchConfig

StudySize = Literal["smoke", "default", "full"]
StudyExecutor = Literal["inline", "local", "slurm"]
SIZES: tuple[str, ...] = ("smoke", "default", "full")
EVAL_EXAMPLES = {"smoke": 8, "default": 32, "full": 256}
"""Held-out examples per component by size [ours]."""
EVAL_T_SAMPLES = {"smoke": 2, "default": 2, "full": 8}
"""Times per held-out row by size [ours]."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyConfig:
    """Where a study writes, at which size, on which executor and data."""

    out_dir: Path = Path("runs/experiments")
    """Study folder: ``sweeps/`` (the runs), ``plots/``, ``report.html``, ``results.json``."""
    size: StudySize = "default"
    """Grid size: ``smoke`` (CI, well under a minute), ``default`` (minutes on 2 CPU cores), ``full``."""
    executor: StudyExecutor = "inline"
    """``inline`` (this process, one run after another), ``local`` (submitit subprocesses) or ``slurm``."""
    launch: LaunchConfig = dataclasses.field(default_factory=LaunchConfig)
    """Scheduler settings for ``local``/``slurm`` (partition, gpus_per_node, time_min, account, ...);
    ``launch.executor`` is replaced by ``executor``."""
    mixture: Path | None = None
    """Your own mixture manifest (None: the demo-data mixture of ``experiments.data``, built once)."""
    demo_data: Path | None = None
    """The committed demo data folder (None: ``pipelines/demo_data`` of this checkout)."""
    data_cache: Path | None = None
    """Where the built/split mixture is cached (None: ``<out_dir>/../data``, shared by the studies)."""
    seed: int = 0
    """Root seed of every run (model init, data order, diffusion times) and of the bootstraps."""
    force: bool = False
    """Retrain and re-evaluate every run instead of reusing finished ones."""
    device: str = "cpu"
    """Training and evaluation device (``cpu``, ``cuda``, ``auto``)."""
    cpu_threads: int | None = 1
    """Torch threads per run [ours: 1; on the loaded 2-core machine a tiny step took 80 ms with 1 thread and
    1.85 s with 2 (2026-12-01), OpenMP threads waiting for each other]. None: torch's default."""
    eval_examples: int | None = None
    """Held-out examples per component in the validation ELBO (None: by size, ``EVAL_EXAMPLES``)."""
    eval_t_samples: int | None = None
    """Diffusion times per held-out row in the validation ELBO (None: by size, ``EVAL_T_SAMPLES``)."""
    progress: bool = True
    """Progress bars (also off when ``TRIMODAL_NO_PROGRESS`` is set or stderr is not a terminal)."""

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ValueError(f"StudyConfig.size must be one of {', '.join(SIZES)}, got {self.size!r}")
        if self.executor not in ("inline", "local", "slurm"):
            raise ValueError(f"StudyConfig.executor must be inline, local or slurm, got {self.executor!r}")
        for name in ("eval_examples", "eval_t_samples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"StudyConfig.{name} must be positive, got {getattr(self, name)!r}")
        if self.cpu_threads is not None and self.cpu_threads < 1:
            raise ValueError(f"StudyConfig.cpu_threads must be positive or None, got {self.cpu_threads!r}")

    @property
    def num_eval_examples(self) -> int:
        return self.eval_examples if self.eval_examples is not None else EVAL_EXAMPLES[self.size]

    @property
    def num_eval_t_samples(self) -> int:
        return self.eval_t_samples if self.eval_t_samples is not None else EVAL_T_SAMPLES[self.size]

    def elbo_config(self) -> Any:
        """The validation estimator: ``num_eval_t_samples`` stratified times per row, seeded by ``seed``."""
        from trimodal_eval.likelihood import ElboConfig

        return ElboConfig(num_t_samples=self.num_eval_t_samples, batch_size=32, seed=self.seed, num_bootstrap=200)

    @property
    def cache_dir(self) -> Path:
        return self.data_cache if self.data_cache is not None else self.out_dir.parent / "data"

    def launch_config(self, job_name: str) -> LaunchConfig:
        """``launch`` with ``executor`` applied (``inline`` has none)."""
        executor = "local" if self.executor == "inline" else self.executor
        return dataclasses.replace(self.launch, executor=executor, job_name=job_name)


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """What a study measured and where it wrote it."""

    name: str
    out_dir: Path
    report: Path
    """``<out_dir>/report.html``."""
    results: Path
    """``<out_dir>/results.json`` (what :attr:`summary` holds, plus the per-run curves)."""
    summary: dict[str, Any]
    """The study's numbers (verdict, fits, spreads)."""
    plots: tuple[Path, ...] = ()
    """PNG files under ``<out_dir>/plots``."""


def write_results(path: Path, data: dict[str, Any]) -> Path:
    """Atomically write ``data`` as JSON (non-finite floats as null, paths as strings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(json_value(data), indent=1, sort_keys=True) + "\n")
    return path
