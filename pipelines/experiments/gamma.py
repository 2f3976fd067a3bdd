"""``trimodal experiment gamma``: the horizon exponent gamma from the best learning rate per token horizon.

Run::

    uv run trimodal experiment gamma --study.size smoke|default|full [--study.executor inline|local|slurm]
        [--fit parabola|grid] [--seeds 0 1 2] [--study.mixture MIX.json] [--study.force]

Wiring only: :func:`trimodal_eval.experiments.gamma.run_gamma` does the work; see its docstring.
"""

from __future__ import annotations

import sys

import tyro

from pipelines.demo_inputs import DEMO_DATA
from trimodal_core import setup_logging
from trimodal_eval.experiments.gamma import GammaStudyConfig, run_gamma


def main(argv: list[str] | None = None) -> int:
    config = tyro.cli(GammaStudyConfig, args=argv, prog="trimodal experiment gamma")
    if config.study.demo_data is None:
        import dataclasses

        config = dataclasses.replace(config, study=dataclasses.replace(config.study, demo_data=DEMO_DATA))
    setup_logging("INFO")
    try:
        result = run_gamma(config)
    except ValueError as exc:
        print(f"trimodal experiment gamma: {exc}", file=sys.stderr)
        return 1
    s = result.summary
    low, high = s["gamma_ci"]
    print(f"horizons {s['horizons']}, best lr {[f'{v:.3g}' for v in s['best_lr']]} (at an edge: {s['at_edge']})")
    print(f"gamma = {s['gamma']:.3f}, {s['confidence']:.0%} interval [{low:.3f}, {high:.3f}] "
          f"(the paper's {s['paper_gamma']} is theirs, for comparison)")
    print(f"report: {result.report}\nresults: {result.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
