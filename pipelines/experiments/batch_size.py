"""``trimodal experiment batch_size``: batch-size invariance of the SDE rule against the naive rule.

Run::

    uv run trimodal experiment batch_size --study.size smoke|default|full [--study.executor inline|local|slurm]
        [--study.launch.partition P --study.launch.gpus-per-node 1] [--study.mixture MIX.json] [--study.force]

Wiring only: :func:`trimodal_eval.experiments.batch_size.run_batch_size` does the work; see its docstring.
"""

from __future__ import annotations

import sys

import tyro

from pipelines.demo_inputs import DEMO_DATA
from trimodal_core import setup_logging
from trimodal_eval.experiments.batch_size import BatchSizeStudyConfig, run_batch_size


def main(argv: list[str] | None = None) -> int:
    config = tyro.cli(BatchSizeStudyConfig, args=argv, prog="trimodal experiment batch_size")
    if config.study.demo_data is None:
        import dataclasses

        config = dataclasses.replace(config, study=dataclasses.replace(config.study, demo_data=DEMO_DATA))
    setup_logging("INFO")
    try:
        result = run_batch_size(config)
    except ValueError as exc:
        print(f"trimodal experiment batch_size: {exc}", file=sys.stderr)
        return 1
    summary = result.summary
    print(f"batches {summary['batches']}, D = {summary['tokens']:.4g} tokens, predicted B_crit = "
          f"{summary['predicted_critical_batch']}")
    for rule, values in summary["rules"].items():
        print(f"{rule:6s} spread {values['all']['spread']:.4f} nats/token "
              f"(relative {values['all']['relative_spread']:.2%}), leaves the common curve at "
              f"B = {values['leaves_at']}")
    print(f"SDE rule tighter than naive: {summary['sde_tighter']}")
    print(f"report: {result.report}\nresults: {result.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
