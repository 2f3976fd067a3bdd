"""Run a study's grids of ``TrainConfig`` overrides (as ``trimodal_train.sweep`` sweeps) and collect each run.

A study describes its runs as :class:`GridSpec` s: a Cartesian grid (``key=v1,v2`` axes, the sweep syntax of
``trimodal_train.sweep``) and fixed overrides, over one base ``TrainConfig`` that the study builds (written to
``<out_dir>/base_config.json`` and resolved per point by ``trimodal_train.sweep.resolve_point``, as
``trimodal-train sweep`` does). Each grid is one sweep folder ``<out_dir>/sweeps/<name>`` with its
``sweep.json`` manifest and ``runs/<run name>/`` run directories, whatever the executor:

* ``inline``: the points train one after another in this process (``trimodal_train.trainer.train``); each
  writes the sweep's status file (``trimodal_train.launch.write_status``) like a submitted job does;
* ``local`` / ``slurm``: ``trimodal_train.sweep.run_sweep`` (a submitit job array).

Reuse [ours]: without ``force`` a run whose status is ``completed``, whose ``model/`` export exists and whose
``config.json`` matches the point's config (``trimodal_train.run_files.check_resumable``: equal outside the
fields that do not change the training math) is not trained again; ``inline`` decides per run, ``local`` and
``slurm`` per sweep (a sweep with any run to redo is submitted whole; finished runs then resume from their
last checkpoint). ``local`` runs the grids one after another (each throttled to ``launch.array_parallelism``
processes); ``slurm`` submits every grid's array first, then polls the manifests until every run has ended
(``launch.wait=False``: submit and return; rerun the study later to collect). ``force`` deletes the sweep folder first.

:func:`collect` reads back every run: its overrides, the resolved config and derived optimizer from
``config.json``, the training curve from ``metrics.jsonl`` (``trimodal_train.metrics.read_metrics``), and the
held-out validation curve (:mod:`trimodal_eval.experiments.validation`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trimodal_eval.experiments.study import StudyConfig
from trimodal_train import sweep as sweeps
from trimodal_train.config import TrainConfig
from trimodal_train.config_io import to_dict
from trimodal_train.launch import write_status
from trimodal_train.metrics import read_metrics
from trimodal_train.run_files import check_resumable

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class GridSpec:
    """One sweep of a study: grid axes and fixed overrides over the study's base config."""

    name: str
    """Sweep folder name under ``<out_dir>/sweeps``."""
    grid: tuple[str, ...] = ()
    """Axes ``key=v1,v2,...`` (``trimodal_train.sweep`` syntax; the Cartesian product is run)."""
    overrides: tuple[str, ...] = ()
    """Command-line overrides applied to every point (``--run.tokens``, ``1e5``)."""


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One finished run of a study, read back from its run directory."""

    sweep: str
    name: str
    overrides: dict[str, str]
    run_dir: Path
    status: str
    config: dict[str, Any]
    """``config.json``: the resolved TrainConfig plus ``derived`` (total_steps, the resolved optimizer)."""
    metrics: list[dict[str, Any]]
    """``metrics.jsonl`` records, one per logged step."""
    validation: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Held-out ELBO per checkpoint (``step``, ``tokens``, ``nelbo``, ``nelbo_text``, ...; see validation.py)."""

    @property
    def optimizer(self) -> dict[str, Any]:
        """The resolved optimizer (lr, betas, eps, weight decay, kappa, critical batch) the run used."""
        return dict(self.config.get("derived", {}).get("optimizer", {}))


def write_base_config(out_dir: Path, base: TrainConfig) -> Path:
    """``<out_dir>/base_config.json``: the study's base config as a file every sweep point resolves from."""
    path = out_dir / "base_config.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_dict(base), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _points(spec: GridSpec, base_path: Path, sweep_dir: Path) -> tuple[list[sweeps.SweepRun], list[TrainConfig]]:
    axes = [sweeps.parse_axis(a) for a in spec.grid]
    points = sweeps.expand_grid(axes) if axes else [{}]
    varying = [a.key for a in axes if len(a.values) > 1]
    runs, configs = [], []
    for index, point in enumerate(points):
        name = sweeps.run_name(point, varying)
        runs.append(sweeps.SweepRun(index=index, name=name, overrides=point, run_dir=f"runs/{name}"))
        configs.append(sweeps.resolve_point(str(base_path), point, spec.overrides, run_dir=sweep_dir / "runs" / name,
                                            where=f"study grid {spec.name}, point {point}"))
    return runs, configs


def is_finished(sweep_dir: Path, run: sweeps.SweepRun, config: TrainConfig) -> bool:
    """Completed status, an exported model, and a ``config.json`` matching ``config`` (module docstring)."""
    run_dir = sweep_dir / run.run_dir
    status = sweep_dir / "status" / f"{run.name}.json"
    if not (status.is_file() and (run_dir / "model" / "model.safetensors").is_file()):
        return False
    try:
        if json.loads(status.read_text())["state"] != "completed":
            return False
        check_resumable(json.loads((run_dir / "config.json").read_text()), config, source=run_dir)
    except (OSError, KeyError, ValueError):
        return False
    return True


def _run_inline(spec: GridSpec, sweep_dir: Path, runs: list[sweeps.SweepRun], configs: list[TrainConfig],
                header: dict[str, Any]) -> None:
    from trimodal_train.trainer import train

    sweeps.write_manifest(sweep_dir, header, runs)
    for run, config in zip(runs, configs, strict=True):
        status = sweep_dir / "status" / f"{run.name}.json"
        if is_finished(sweep_dir, run, config):
            log.info("study grid %s: reusing finished run %s", spec.name, run.name)
            run.status = "completed"
            continue
        shutil.rmtree(sweep_dir / run.run_dir, ignore_errors=True)
        write_status(status, "running", job_id="inline")
        started = time.perf_counter()
        try:
            result = train(config)
        except Exception as exc:
            write_status(status, "failed", job_id="inline", error=f"{type(exc).__name__}: {exc}")
            raise
        write_status(status, "completed", job_id="inline", final_step=result.final_step, run_dir=result.run_dir,
                     seconds=time.perf_counter() - started)
        run.status, run.final_step = "completed", result.final_step
        sweeps.write_manifest(sweep_dir, header, runs)


def run_grids(study: StudyConfig, base: TrainConfig, grids: Sequence[GridSpec]) -> dict[str, Path]:
    """Train every grid (or reuse it); returns grid name -> sweep folder."""
    base_path = write_base_config(study.out_dir, base)
    names = [g.name for g in grids]
    if len(set(names)) != len(names):
        raise ValueError(f"study grids: names must be distinct, got {names}")
    out: dict[str, Path] = {}
    submitted: list[Path] = []
    for spec in grids:
        sweep_dir = (study.out_dir / "sweeps" / spec.name).absolute()
        if study.force:
            shutil.rmtree(sweep_dir, ignore_errors=True)
        runs, configs = _points(spec, base_path, sweep_dir)
        out[spec.name] = sweep_dir
        if study.executor == "inline":
            axes = [sweeps.parse_axis(a) for a in spec.grid]
            header = {"format": sweeps.FORMAT_VERSION, "name": spec.name, "config": str(base_path),
                      "created": time.time(), "grid": {a.key: list(a.values) for a in axes},
                      "overrides": list(spec.overrides), "executor": "inline", "launch": {}}
            sweep_dir.mkdir(parents=True, exist_ok=True)
            _run_inline(spec, sweep_dir, runs, configs, header)
            continue
        if all(is_finished(sweep_dir, r, c) for r, c in zip(runs, configs, strict=True)):
            log.info("study grid %s: every run finished, reused", spec.name)
            continue
        launch = study.launch_config(f"study-{spec.name}")
        if launch.executor == "slurm":  # every grid's array in the queue at once; waited for below
            launch = dataclasses.replace(launch, wait=False)
            submitted.append(sweep_dir)
        sweeps.run_sweep(sweeps.SweepConfig(config=str(base_path), grid=spec.grid, overrides=spec.overrides,
                                            out_dir=sweep_dir.parent, name=spec.name, launch=launch))
    if submitted and study.launch.wait:
        wait_for_sweeps(submitted)
    return out


def wait_for_sweeps(sweep_dirs: Sequence[Path], *, poll_s: float = 30.0) -> None:
    """Poll the manifests (statuses refreshed from the status files and sacct) until every run has ended."""
    while True:
        states = [r.status for d in sweep_dirs for r in sweeps.load_manifest(d)[1]]
        done = sum(s in ("completed", "failed") for s in states)
        if done == len(states):
            return
        log.info("study: %d of %d runs finished; waiting %.0f s", done, len(states), poll_s)
        time.sleep(poll_s)


def collect(sweep_dir: Path, *, sweep: str | None = None) -> list[RunRecord]:
    """Every run of a sweep folder with its config and training curve (validation is added by the caller)."""
    _, runs = sweeps.load_manifest(sweep_dir)
    records = []
    for run in runs:
        run_dir = (sweep_dir / run.run_dir).resolve()
        if run.status != "completed":
            raise ValueError(f"study run {run_dir}: status {run.status!r} ({run.error or 'not finished'}); "
                             "rerun the study when the jobs are done")
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        records.append(RunRecord(sweep=sweep or sweep_dir.name, name=run.name, overrides=dict(run.overrides),
                                 run_dir=run_dir, status=run.status, config=config,
                                 metrics=read_metrics(run_dir / "metrics.jsonl")))
    return records


def study_base_config(study: StudyConfig, mixture: Path, *, preset: str = "tiny", seq_len: int = 64,
                      batch_size: int = 8, overrides: Sequence[str] = ()) -> TrainConfig:
    """The ``preset`` training config on the study's mixture, seed, device and threads, quiet (no progress bar
    per run, warnings only), with ``overrides`` (tyro syntax) applied last."""
    from trimodal_train.configs import load_config

    args = ["--data.mixture", str(mixture), "--data.seq-len", str(seq_len), "--data.global-batch-size",
            str(batch_size), "--data.prefetch", "0", "--run.seed", str(study.seed), "--run.device", study.device,
            "--run.no-progress", "--run.log-level", "WARNING"]
    if study.cpu_threads is not None:
        args += ["--run.cpu-threads", str(study.cpu_threads)]
    return load_config(preset, [*args, *overrides])
