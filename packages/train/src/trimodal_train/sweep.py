"""Sweeps: one training run per point of a grid of config overrides, as a submitit job array.

``trimodal-train sweep --config tiny --grid model=tiny,small optim.adamw.lr=1e-3,3e-3 [--launch.executor slurm]
[other overrides]`` expands the grid (the Cartesian product, axes in the order given), resolves every point's
``TrainConfig`` before anything is submitted (a bad key fails at once, naming it), gives each point its own run
directory ``<sweep>/runs/<name>``, submits all points as one array (``executor.batch()``; a SLURM job array
with at most ``launch.array_parallelism`` elements running), and keeps a manifest, ``<sweep>/sweep.json``,
listing every run with its overrides, run directory, job id and status, which eval reads to collect the runs.

Grid syntax: ``key=v1,v2,...`` where ``key`` is a dotted TrainConfig path as on the command line
(``optim.adamw.lr``, ``data.global_batch_size``, ``diffusion.schedules.image.name``, ``run.tokens``). A value
with spaces becomes several command-line tokens (tuple fields); ``true``/``false`` on a bool field become the
``--key``/``--no-key`` flags; setting one of ``run.tokens``/``run.steps`` clears the other. Two keys are not
config paths [ours]: ``model=NAME`` swaps in a ``MODEL_PRESETS`` model (before any ``model.*`` override), and
``mix=text:0.5/image_text:0.3/audio_text:0.2`` sets constant mixing weights per component
(``data.weight_schedule``, one knot at step 0). An axis with a single value is a fixed override and stays out
of the run names. Run name [ours]: ``<key>-<value>`` for each axis of two or more values, joined by ``__``, where
``key`` is the last dotted component (the full path where two axes share it) and characters outside
``[A-Za-z0-9._+-]`` become ``-``; names must be distinct.

Statuses: ``pending`` (manifest written, not submitted), ``submitted``, then what the job itself records in
``<sweep>/status/<name>.json`` (``running``, ``requeued``, ``completed``, ``failed``), or ``failed`` when
the scheduler reports a job that ended without a status (killed, out of memory).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import re
import shutil
import subprocess
import time
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trimodal_train.launch import LaunchConfig, TrainJob, build_executor

log = logging.getLogger(__name__)
MANIFEST = "sweep.json"
FORMAT_VERSION = 1
_TERMINAL = ("completed", "failed")
_SLURM_DEAD = ("FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """A grid of overrides over one base config, and where and how its runs are launched."""

    config: str = "tiny"
    """Base config: a preset name or a ``.json``/``.toml`` file."""
    grid: tuple[str, ...] = ()
    """Axes ``key=v1,v2,...`` (see the module docstring)."""
    overrides: tuple[str, ...] = ()
    """Extra command-line overrides applied to every run (``--run.steps 20``)."""
    out_dir: Path = Path("runs/sweeps")
    """Parent folder of the sweep folder."""
    name: str | None = None
    """Sweep folder name (None: ``<config stem>-<UTC time>``)."""
    launch: LaunchConfig = dataclasses.field(default_factory=LaunchConfig)
    """Executor and resources (one array element per run)."""


@dataclasses.dataclass(frozen=True)
class GridAxis:
    key: str
    values: tuple[str, ...]


@dataclasses.dataclass
class SweepRun:
    """One point of the grid (a row of the manifest)."""

    index: int
    name: str
    overrides: dict[str, str]
    """Grid key -> value (strings as given), fixed axes included."""
    run_dir: str
    """Run directory, relative to the sweep folder."""
    job_id: str | None = None
    status: str = "pending"
    final_step: int | None = None
    error: str | None = None


def parse_axis(text: str) -> GridAxis:
    """``key=v1,v2`` -> ``GridAxis``; ``ValueError`` naming the axis otherwise."""
    key, sep, values = text.partition("=")
    key = key.strip().removeprefix("--")
    parts = tuple(v.strip() for v in values.split(","))
    if not sep or not key or not all(parts):
        raise ValueError(f"sweep --grid {text!r}: expected key=value[,value...] with non-empty values")
    if len(set(parts)) != len(parts):
        raise ValueError(f"sweep --grid {text!r}: repeated value")
    return GridAxis(key.replace("-", "_"), parts)


def expand_grid(axes: Sequence[GridAxis]) -> list[dict[str, str]]:
    """Every point of the grid, the last axis varying fastest."""
    keys = [a.key for a in axes]
    if len(set(keys)) != len(keys):
        raise ValueError(f"sweep --grid: a key appears twice ({', '.join(keys)})")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(a.values for a in axes))]


def run_name(point: dict[str, str], varying: Sequence[str]) -> str:
    """The run folder name of one point (see the module docstring)."""
    if not varying:
        return "run"
    last = [k.rsplit(".", 1)[-1] for k in varying]
    parts = []
    for key, short in zip(varying, last, strict=True):
        label = short if last.count(short) == 1 else key
        parts.append(f"{label}-{re.sub(r'[^A-Za-z0-9._+-]+', '-', point[key]).strip('-')}")
    return "__".join(parts)


def _field_type(cls: Any, dotted: str) -> Any:
    tp: Any = cls
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(tp):
            return None
        hints = typing.get_type_hints(tp)
        if part not in hints:
            return None
        tp = hints[part]
    return tp


def point_args(point: dict[str, str], config_cls: Any = None) -> list[str]:
    """Command-line tokens for one grid point (tyro syntax)."""
    args: list[str] = []
    for key, value in point.items():
        if value.lower() in ("true", "false") and config_cls is not None and _field_type(config_cls, key) is bool:
            head, _, leaf = key.rpartition(".")
            flag = leaf if value.lower() == "true" else f"no_{leaf}"
            args.append(f"--{head + '.' if head else ''}{flag}")
        else:
            args += [f"--{key}", *value.split()]
    return args


def parse_mix(value: str) -> dict[str, float]:
    """``text:0.5/image_text:0.3`` -> ``{"text": 0.5, "image_text": 0.3}``."""
    weights = {}
    for part in value.split("/"):
        name, sep, weight = part.partition(":")
        try:
            weights[name.strip()] = float(weight)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(f"sweep mix={value!r}: expected component:weight[/component:weight...]")
    return weights


def resolve_point(config: str, point: dict[str, str], overrides: Sequence[str] = (), *, run_dir: Path | None = None,
                  where: str = "") -> Any:
    """The ``TrainConfig`` of one grid point: base config, then ``model``/``mix``, then the overrides."""
    import tyro

    from trimodal_train.config import TrainConfig
    from trimodal_train.configs import load_config
    from trimodal_train.data import WeightPoint
    from trimodal_train.model.presets import MODEL_PRESETS

    where = where or f"point {point}"
    rest = {k: v for k, v in point.items() if k not in ("model", "mix")}
    args = [*overrides, *point_args(rest, TrainConfig)]
    for key, other in (("--run.tokens", "--run.steps"), ("--run.steps", "--run.tokens")):
        if key in args and other not in args:
            args += [other, "None"]
    if run_dir is not None:
        args += ["--run.run-dir", str(run_dir)]
    try:
        base = load_config(config)
        if "model" in point:
            if point["model"] not in MODEL_PRESETS:
                raise ValueError(f"model={point['model']!r} is not a model preset ({', '.join(MODEL_PRESETS)})")
            base = dataclasses.replace(base, model=MODEL_PRESETS[point["model"]])
        if "mix" in point:
            knot = WeightPoint(step=0, weights=parse_mix(point["mix"]))
            base = dataclasses.replace(base, data=dataclasses.replace(base.data, weight_schedule=(knot,)))
        return tyro.cli(TrainConfig, default=base, args=args, prog="trimodal-train sweep") if args else base
    except SystemExit:  # tyro printed the parse error
        raise ValueError(f"sweep {where}: the overrides {' '.join(args)!r} do not parse (see above)") from None
    except ValueError as exc:
        raise ValueError(f"sweep {where}: {exc}") from None


def write_manifest(sweep_dir: Path, header: dict[str, Any], runs: Sequence[SweepRun]) -> Path:
    """Atomically (re)write ``<sweep_dir>/sweep.json``."""
    path = sweep_dir / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.tmp")
    tmp.write_text(json.dumps({**header, "runs": [dataclasses.asdict(r) for r in runs]}, indent=1, default=str))
    tmp.replace(path)
    return path


def load_manifest(path: str | Path, *, refresh: bool = True) -> tuple[dict[str, Any], list[SweepRun]]:
    """A sweep's header and runs (``path``: the sweep folder or its ``sweep.json``), statuses refreshed."""
    p = Path(path)
    p = p / MANIFEST if p.is_dir() else p
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"sweep manifest {p}: cannot read ({exc})") from None
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"sweep manifest {p}: format {data.get('format')!r}, expected {FORMAT_VERSION}")
    runs = [SweepRun(**r) for r in data.pop("runs")]
    if refresh:
        refresh_statuses(p.parent, data, runs)
    return data, runs


def run_dirs(path: str | Path) -> dict[str, Path]:
    """Name -> absolute run directory of every run of a sweep (for eval)."""
    _, runs = load_manifest(path, refresh=False)
    root = Path(path) if Path(path).is_dir() else Path(path).parent
    return {r.name: (root / r.run_dir).resolve() for r in runs}


def refresh_statuses(sweep_dir: Path, header: dict[str, Any], runs: Sequence[SweepRun]) -> None:
    """Update each run from its status file, and mark runs the scheduler killed without one as failed."""
    for run in runs:
        status = sweep_dir / "status" / f"{run.name}.json"
        if status.is_file():
            data = json.loads(status.read_text())
            run.status = data["state"]
            run.job_id = data.get("job_id", run.job_id)
            run.final_step = data.get("final_step", run.final_step)
            run.error = data.get("error", run.error)
    live = [r for r in runs if r.job_id and r.status not in _TERMINAL]
    if header.get("executor") == "slurm" and live and shutil.which("sacct"):
        states = _sacct_states([r.job_id for r in live if r.job_id])
        for run in live:
            state = states.get(run.job_id or "", "")
            if state.split()[0:1] and state.split()[0] in _SLURM_DEAD:
                run.status, run.error = "failed", f"SLURM state {state} without a result"


def _sacct_states(job_ids: Sequence[str]) -> dict[str, str]:
    cmd = ["sacct", "--noheader", "--parsable2", "-o", "JobID,State", "-j", ",".join(sorted(set(job_ids)))]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("sacct failed (%s): statuses of unfinished runs not checked", exc)
        return {}
    states = {}
    for line in out.splitlines():
        job, _, state = line.partition("|")
        if "." not in job:
            states[job] = state
    return states


def run_sweep(config: SweepConfig) -> tuple[Path, list[SweepRun]]:
    """Resolve, submit and (with ``launch.wait``) wait for every run of the grid; returns the manifest path and runs.

    A run that fails does not stop the others; its status says ``failed`` with the error.
    """
    axes = [parse_axis(a) for a in config.grid]
    points = expand_grid(axes) if axes else [{}]
    varying = [a.key for a in axes if len(a.values) > 1]
    name = config.name or f"{Path(config.config).stem}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    sweep_dir = (config.out_dir / name).absolute()
    runs, train_configs = [], []
    for index, point in enumerate(points):
        run = SweepRun(index=index, name=run_name(point, varying), overrides=point, run_dir="")
        run.run_dir = f"runs/{run.name}"
        train_configs.append(resolve_point(config.config, point, config.overrides, run_dir=sweep_dir / run.run_dir))
        runs.append(run)
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"sweep --grid: two points share a run name ({names}); make the values distinct")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    header = {
        "format": FORMAT_VERSION, "name": name, "config": config.config, "created": time.time(),
        "grid": {a.key: list(a.values) for a in axes}, "overrides": list(config.overrides),
        "executor": config.launch.executor, "launch": dataclasses.asdict(config.launch),
    }
    manifest = write_manifest(sweep_dir, header, runs)
    executor = build_executor(config.launch, config.launch.folder or sweep_dir / "submitit")
    jobs = [TrainJob(cfg, status_file=str(sweep_dir / "status" / f"{run.name}.json"),
                     threads=config.launch.cpus_per_task) for cfg, run in zip(train_configs, runs, strict=True)]
    submitted = _submit_all(executor, config.launch, jobs, runs, sweep_dir, header)
    log.info("sweep %s: %d runs submitted (%s)", name, len(runs), manifest)
    if config.launch.wait:
        for job, run in zip(submitted, runs, strict=True):
            _collect(job, run)
        refresh_statuses(sweep_dir, header, runs)
        write_manifest(sweep_dir, header, runs)
    return manifest, runs


def _submit_all(executor: Any, launch: LaunchConfig, jobs: list[TrainJob], runs: list[SweepRun],
                sweep_dir: Path, header: dict[str, Any]) -> list[Any]:
    def mark(job: Any, run: SweepRun) -> None:
        run.job_id, run.status = str(job.job_id), "submitted"

    if launch.executor == "slurm" or not launch.wait:
        with executor.batch():
            futures = [executor.submit(job) for job in jobs]
        for job, run in zip(futures, runs, strict=True):
            mark(job, run)
        write_manifest(sweep_dir, header, runs)
        return futures
    # Local processes have no array throttle: start at most array_parallelism at a time.
    futures: list[Any] = []
    for job, run in zip(jobs, runs, strict=True):
        while sum(not f.done() for f in futures) >= launch.array_parallelism:
            time.sleep(0.5)
        futures.append(executor.submit(job))
        mark(futures[-1], run)
        write_manifest(sweep_dir, header, runs)
    return futures


def _collect(job: Any, run: SweepRun) -> None:
    import submitit

    try:
        result = job.result()
    except (submitit.core.utils.FailedJobError, submitit.core.utils.UncompletedJobError) as exc:
        run.status = "failed"
        lines = [ln for ln in str(exc).splitlines() if ln.strip() and not set(ln.strip()) <= {"-"}]
        run.error = run.error or " | ".join(lines[-3:])
        return
    run.status, run.final_step = "completed", getattr(result, "final_step", None)
