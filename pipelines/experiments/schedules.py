"""``trimodal experiment schedules``: noise schedules (linear, cosine, polynomial) per modality span.

Run::

    uv run trimodal experiment schedules --study.size smoke|default|full [--design tied|per_modality]
        [--schedules linear cosine polynomial] [--polynomial-k 2] [--study.executor inline|local|slurm]
        [--study.launch.partition P --study.launch.gpus-per-node 1] [--study.mixture MIX.json] [--study.force]

Wiring only: :func:`trimodal_eval.experiments.schedules.run_schedules` does the work; see its docstring.
"""

from __future__ import annotations

import dataclasses
import sys

import tyro

from pipelines.demo_inputs import DEMO_DATA
from trimodal_core import setup_logging
from trimodal_eval.experiments.schedules import SchedulesStudyConfig, run_schedules


def main(argv: list[str] | None = None) -> int:
    config = tyro.cli(SchedulesStudyConfig, args=argv, prog="trimodal experiment schedules")
    if config.study.demo_data is None:
        config = dataclasses.replace(config, study=dataclasses.replace(config.study, demo_data=DEMO_DATA))
    setup_logging("INFO")
    try:
        result = run_schedules(config)
    except ValueError as exc:
        print(f"trimodal experiment schedules: {exc}", file=sys.stderr)
        return 1
    summary = result.summary
    print(f"design {summary['design']}, {summary['steps']} steps per run, {len(summary['runs'])} runs")
    for modality, entry in summary["per_modality"].items():
        deltas = ", ".join(f"{s} - linear {d['value']:+.4f} [{d['ci'][0]:+.4f}, {d['ci'][1]:+.4f}]"
                           for s, d in entry["delta_vs_linear"].items())
        print(f"{modality:5s} best {entry['best']:10s} {deltas}")
    print(f"report: {result.report}\nresults: {result.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
