"""Beam pipeline options for every trimodal data pipeline: whatever our own CLI does not know goes to Beam.

``trimodal-data text --input ... --output ... --runner=DataflowRunner --project=... --region=...`` hands
``--runner ...`` and everything after it to :class:`apache_beam.options.pipeline_options.PipelineOptions`
unchanged, so the same recipe runs on the DirectRunner (the default here), Flink, Spark or Dataflow.

Worker code ships as a package, never through ``save_main_session`` (our DoFns live in importable modules):
build wheels with ``uv build --all-packages -o dist/`` and pass ``--extra_package dist/trimodal_core-*.whl``
``--extra_package dist/trimodal_tokenizers-*.whl --extra_package dist/trimodal_data-*.whl``, or give a
``--setup_file`` / a custom SDK container image with the workspace installed. The DaskRunner is refused:
it computes wrong results for multi-output pipelines (only the last branch; no metrics).
"""

from __future__ import annotations

from collections.abc import Sequence

from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

DEFAULT_RUNNER = "DirectRunner"
REFUSED_RUNNERS = {"DaskRunner": "it drops pipeline branches and metrics (see /work/shared/INFRA.md)"}


def make_pipeline_options(beam_args: Sequence[str], *, default_runner: str = DEFAULT_RUNNER) -> PipelineOptions:
    """``PipelineOptions`` from the arguments our CLI did not consume; ``ValueError`` for refused settings."""
    options = PipelineOptions(list(beam_args))
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = default_runner
    runner_name = str(standard.runner).rsplit(".", 1)[-1]
    if runner_name in REFUSED_RUNNERS:
        raise ValueError(f"--runner={standard.runner} is not supported: {REFUSED_RUNNERS[runner_name]}")
    if options.view_as(SetupOptions).save_main_session:
        raise ValueError("--save_main_session is not supported: ship the code as packages (--extra_package)")
    return options

