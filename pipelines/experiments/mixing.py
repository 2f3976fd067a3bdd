"""``trimodal experiment mixing``: each modality's validation loss against its component's mixing weight.

Run::

    uv run trimodal experiment mixing --study.size smoke|default|full
        [--mixes text:0.6/image_text:0.2/audio_text:0.2 ...] [--levels 0.1 0.3 0.6]
        [--study.executor inline|local|slurm] [--study.mixture MIX.json] [--study.force]

Wiring only: :func:`trimodal_eval.experiments.mixing.run_mixing` does the work; see its docstring.
"""

from __future__ import annotations

import dataclasses
import sys

import tyro

from pipelines.demo_inputs import DEMO_DATA
from trimodal_core import setup_logging
from trimodal_eval.experiments.mixing import MixingStudyConfig, run_mixing


def main(argv: list[str] | None = None) -> int:
    config = tyro.cli(MixingStudyConfig, args=argv, prog="trimodal experiment mixing")
    if config.study.demo_data is None:
        config = dataclasses.replace(config, study=dataclasses.replace(config.study, demo_data=DEMO_DATA))
    setup_logging("INFO")
    try:
        result = run_mixing(config)
    except ValueError as exc:
        print(f"trimodal experiment mixing: {exc}", file=sys.stderr)
        return 1
    summary = result.summary
    print(f"{len(summary['runs'])} mixes, {summary['steps']} steps each (weights in {summary['weight_unit']})")
    for modality, fit in summary["fits"].items():
        print(f"{modality:5s} d NELBO / d ln(w_{fit['component']}) = {fit['b']:+.4f} "
              f"[{fit['low']:+.4f}, {fit['high']:+.4f}] over {fit['points']} runs")
    print(f"report: {result.report}\nresults: {result.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
