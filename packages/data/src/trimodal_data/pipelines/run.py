"""Run a built corpus pipeline to completion and return the summary its manifest records.

Shared by the text, image-text and audio-text pipelines: the summary is computed as data inside the
pipeline and stored in ``manifest.json``'s provenance, so it is exact on every runner; Beam's counters are
logged when the runner reports them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.runners.runner import PipelineState

from trimodal_core import CorpusManifest
from trimodal_data.metrics import query_counters
from trimodal_data.transforms.write import MANIFEST_FILE

_log = logging.getLogger(__name__)


def run_to_summary(pipeline: beam.Pipeline, corpus_dir: Path, *, label: str) -> dict[str, Any]:
    """Run ``pipeline``, wait for it, and return the summary from ``corpus_dir``'s manifest."""
    result = pipeline.run()
    state = result.wait_until_finish()
    if state not in (PipelineState.DONE, None):
        raise RuntimeError(f"{label} pipeline ended in state {state}")
    counters = query_counters(result)
    if counters:
        _log.info("counters: %s", counters)
    manifest = CorpusManifest.load(corpus_dir / MANIFEST_FILE)
    summary = dict(manifest.provenance["summary"])
    if not summary["balanced"]:
        _log.error("%s: inputs are not all accounted for: %s", label, summary)
    return summary
