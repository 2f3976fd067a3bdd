"""``trimodal experiment scaling_law``: ``L(N, D)`` per modality over model widths x token horizons, and
the compute-optimal frontier ``D*(N)``.

Run::

    uv run trimodal experiment scaling_law --study.size smoke|default|full [--widths 32 64 128]
        [--steps 50 100 200] [--fit.num-bootstrap 200] [--study.executor inline|local|slurm]
        [--study.launch.partition P --study.launch.gpus-per-node 1] [--study.mixture MIX.json] [--study.force]

Every run folder also holds ``eval/elbo.json``, so ``trimodal-eval fit-scaling --runs ...`` refits the same
points. Wiring only: :func:`trimodal_eval.experiments.scaling_law.run_scaling_law` does the work.
"""

from __future__ import annotations

import dataclasses
import sys

import tyro

from pipelines.demo_inputs import DEMO_DATA
from trimodal_core import setup_logging
from trimodal_eval.experiments.scaling_law import ScalingStudyConfig, run_scaling_law


def main(argv: list[str] | None = None) -> int:
    config = tyro.cli(ScalingStudyConfig, args=argv, prog="trimodal experiment scaling_law")
    if config.study.demo_data is None:
        config = dataclasses.replace(config, study=dataclasses.replace(config.study, demo_data=DEMO_DATA))
    setup_logging("INFO")
    try:
        result = run_scaling_law(config)
    except ValueError as exc:
        print(f"trimodal experiment scaling_law: {exc}", file=sys.stderr)
        return 1
    summary = result.summary
    print(f"widths {summary['widths']} x steps {summary['steps']}: {len(summary['points'])} runs")
    for modality, fit in summary["fits"].items():
        if "law" not in fit:
            print(f"{modality:5s} {fit['status']}")
            continue
        law, ci = fit["law"], fit["intervals"]
        print(f"{modality:5s} alpha {law['alpha']:.3g} [{ci['alpha'][0]:.3g}, {ci['alpha'][1]:.3g}], "
              f"beta {law['beta']:.3g} [{ci['beta'][0]:.3g}, {ci['beta'][1]:.3g}], E {law['E']:.3g} ({fit['status']})")
    print(f"report: {result.report}\nresults: {result.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
