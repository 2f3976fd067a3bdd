"""Command-line side of launching: ``--launch.*`` options for ``trimodal-train run``, and ``trimodal-train sweep``.

``trimodal-train run --config tiny --launch.executor slurm --launch.partition gpu --launch.gpus-per-node 8
--launch.tasks-per-node 8 [overrides]`` submits the run instead of training in this process; without any
``--launch.*`` option ``run`` trains in-process (or under torchrun). ``--launch.*`` options are the fields of
:class:`~trimodal_train.launch.LaunchConfig` in tyro syntax, for both commands.

``trimodal-train sweep --config NAME --grid key=v1,v2 [key=...] [--name N] [--out-dir D] [--launch.*]
[overrides]``: see :mod:`trimodal_train.sweep`. Tokens that are neither sweep nor launch options are overrides
applied to every run (``--run.steps 20``).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tyro

from trimodal_train.launch import LaunchConfig, TrainJob, build_executor

_SWEEP_OPTIONS = {"--config": "config", "--name": "name", "--out-dir": "out_dir", "--out_dir": "out_dir"}


@dataclasses.dataclass(frozen=True)
class _LaunchArgs:
    launch: LaunchConfig = dataclasses.field(default_factory=LaunchConfig)


def _take_values(args: list[str], i: int) -> int:
    """Index after the values that follow the option at ``i`` (tokens not starting with ``--``)."""
    j = i + 1
    if "=" in args[i]:
        return j
    while j < len(args) and not args[j].startswith("--"):
        j += 1
    return j


def split_launch_args(argv: Sequence[str], prog: str = "trimodal-train") -> tuple[LaunchConfig | None, list[str]]:
    """``(LaunchConfig, the other tokens)``, or ``(None, argv)`` when no ``--launch.*`` option is given."""
    args, launch, rest, i = list(argv), [], [], 0
    while i < len(args):
        if args[i].startswith("--launch."):
            j = _take_values(args, i)
            launch += args[i:j]
            i = j
        else:
            rest.append(args[i])
            i += 1
    if not launch:
        return None, rest
    return tyro.cli(_LaunchArgs, args=launch, prog=prog).launch, rest


def launch_help() -> str:
    """The ``--launch.*`` options, for the commands' ``--help`` (documented in ``LaunchConfig``)."""
    lines = ["launch options (fields of trimodal_train.launch.LaunchConfig):"]
    for field in dataclasses.fields(LaunchConfig):
        name = field.name.replace("_", "-")
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        flag = f"--launch.{name} / --launch.no-{name}" if isinstance(default, bool) else f"--launch.{name} VALUE"
        lines.append(f"  {flag:44s} default {default!r}")
    return "\n".join(lines)


def submit_and_wait(config: Any, launch: LaunchConfig, *, target: str | None = None) -> int:
    """Submit one run (``TrainJob``) with ``launch``; with ``launch.wait`` wait for it. Returns an exit code."""
    import submitit

    folder = launch.folder or Path(config.run.run_dir) / "submitit"
    executor = build_executor(launch, folder)
    kwargs = {"target": target} if target else {}
    job = executor.submit(TrainJob(config, threads=launch.cpus_per_task, **kwargs))
    print(f"submitted job {job.job_id} ({launch.executor}); logs in {folder}", flush=True)
    if not launch.wait:
        return 0
    try:
        result = job.result()
    except (submitit.core.utils.FailedJobError, submitit.core.utils.UncompletedJobError) as exc:
        print(f"error: job {job.job_id} failed:\n{exc}", file=sys.stderr)
        return 1
    print(f"job {job.job_id} done: step {getattr(result, 'final_step', '?')} in {getattr(result, 'run_dir', '?')}")
    return 0


def parse_sweep_args(argv: Sequence[str]) -> Any:
    """A :class:`~trimodal_train.sweep.SweepConfig` from the ``sweep`` command line."""
    from trimodal_train.sweep import SweepConfig

    launch, args = split_launch_args(argv, prog="trimodal-train sweep")
    fields: dict[str, Any] = {"grid": [], "overrides": []}
    i = 0
    while i < len(args):
        token = args[i]
        key, eq, inline = token.partition("=")
        if key == "--grid":
            j = _take_values(args, i)
            fields["grid"] += [inline] if eq else args[i + 1:j]
            i = j
        elif key in _SWEEP_OPTIONS:
            if not eq and (i + 1 >= len(args) or args[i + 1].startswith("--")):
                raise ValueError(f"sweep {key}: expected a value")
            fields[_SWEEP_OPTIONS[key]] = inline if eq else args[i + 1]
            i += 1 if eq else 2
        else:
            fields["overrides"].append(token)
            i += 1
    if "out_dir" in fields:
        fields["out_dir"] = Path(fields["out_dir"])
    if not fields["grid"]:
        raise ValueError("sweep: give at least one --grid key=v1,v2 axis")
    fields["grid"], fields["overrides"] = tuple(fields["grid"]), tuple(fields["overrides"])
    return SweepConfig(**fields, launch=launch or LaunchConfig())


SWEEP_USAGE = """usage: trimodal-train sweep --config NAME_OR_FILE --grid key=v1,v2 [key=v1,v2 ...]
                             [--name NAME] [--out-dir DIR] [--launch.OPTION VALUE ...] [overrides ...]

One training run per grid point, submitted as a job array; writes <out-dir>/<name>/sweep.json."""


def sweep_main(argv: list[str]) -> int:
    """``trimodal-train sweep``: run a grid; exit code 1 when a run failed."""
    from trimodal_train.sweep import run_sweep

    if not argv or argv[0] in ("-h", "--help"):
        print(f"{SWEEP_USAGE}\n\n{launch_help()}")
        return 0 if argv else 2
    try:
        config = parse_sweep_args(argv)
        manifest, runs = run_sweep(config)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for run in runs:
        line = f"{run.status:10s} {run.job_id or '-':12s} {run.name}"
        print(line + (f"  ({run.error})" if run.error else ""))
    print(f"manifest: {manifest}")
    return 1 if any(r.status == "failed" for r in runs) else 0
