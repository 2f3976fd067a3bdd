"""``trimodal-eval report``: one self-contained HTML page for a run (config, curves, ELBO, gaps, samples)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from trimodal_eval.report.run_report import build_run_report


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReportCommandConfig:
    """Write the HTML report of a training run."""

    run: Path
    """Run folder written by ``trimodal-train run`` (``eval/elbo.json`` is shown when present)."""
    samples: Path | None = None
    """Generation output folder (``trimodal-eval generate --out``); default ``<run>/samples`` if it exists."""
    metrics: Path | None = None
    """``trimodal-eval metrics`` output JSON; default ``<samples>/metrics.json``, shown when it exists."""
    out: Path | None = None
    """Output HTML (default ``<run>/report.html``)."""
    title: str | None = None
    check: bool = False
    """Open the page in headless Chromium afterwards and fail on console errors, missing resources or a blank
    screenshot (needs Playwright and a system Chromium)."""


def run_report(config: ReportCommandConfig) -> Path:
    if not config.run.is_dir():
        raise ValueError(f"run folder not found: {config.run}")
    samples = config.samples
    if samples is None and (config.run / "samples").is_dir():
        samples = config.run / "samples"
    if config.metrics is not None and not config.metrics.is_file():
        raise ValueError(f"--metrics {config.metrics}: file not found")
    page = build_run_report(config.run, samples_dir=samples, title=config.title, metrics=config.metrics)
    out = page.write(config.out or config.run / "report.html")
    if config.check:
        from trimodal_eval.report.browser_check import check_report

        result = check_report(out)
        if not result.ok:
            raise ValueError(f"{out} did not render cleanly in Chromium: {result}")
    return out
