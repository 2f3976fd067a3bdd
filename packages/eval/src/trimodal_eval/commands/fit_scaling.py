"""``trimodal-eval fit-scaling``: collect a sweep's runs, fit ``L(N, D)`` per modality, plot, write a report.

Writes into ``--out`` (default ``<sweep>/scaling``): ``fit.json`` (per modality: the law, bootstrap intervals,
the points used and whether their losses are validation or training NELBO), ``fit_<modality>.png``,
``frontier.png`` (compute-optimal ``D*(N)``), ``batch_curves.png`` (loss against tokens, one line per run,
for batch-size studies) and ``report.html``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from trimodal_core.atomic import atomic_write_bytes, atomic_write_text
from trimodal_eval.report.page import Figure, Paragraph, ReportPage, Section, Table
from trimodal_eval.scaling.collect import MODALITIES, collect_runs, read_metrics
from trimodal_eval.scaling.fit import ScalingFitConfig, compute_optimal_tokens, fit_scaling_law
from trimodal_eval.scaling.plots import plot_batch_curves_png, plot_fit_png, plot_frontier_png

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FitScalingConfig:
    """Fit scaling laws to the runs of a sweep."""

    sweep: Path | None = None
    """Sweep folder (or its ``sweep.json``) written by ``trimodal-train sweep``."""
    runs: tuple[Path, ...] = ()
    """Run folders, instead of (or in addition to) a sweep."""
    out: Path | None = None
    """Output folder (default ``<sweep>/scaling``; required without ``--sweep``)."""
    fit: ScalingFitConfig = dataclasses.field(default_factory=ScalingFitConfig)
    tail: int = 5
    """Logged steps averaged for a run's loss when it has no ``eval/elbo.json``."""


def _finite(value: np.ndarray) -> float | None:
    """A JSON number, or ``None`` where ``D*`` is beyond the float range (a degenerate fit)."""
    value = float(value)
    return value if math.isfinite(value) else None


def run_fit_scaling(config: FitScalingConfig) -> dict[str, Any]:
    run_dirs = list(config.runs)
    if config.sweep is not None:
        from trimodal_train.sweep import run_dirs as sweep_run_dirs

        run_dirs += [p for p in sweep_run_dirs(config.sweep).values() if (p / "metrics.jsonl").is_file()]
    if not run_dirs:
        raise ValueError("no finished runs: give --sweep or --runs")
    if config.out is None and config.sweep is None:
        raise ValueError("--out is required without --sweep")
    sweep_dir = None if config.sweep is None else (config.sweep.parent if config.sweep.is_file() else config.sweep)
    out = config.out or sweep_dir / "scaling"  # type: ignore[operator]
    out.mkdir(parents=True, exist_ok=True)
    points = collect_runs(run_dirs, tail=config.tail)
    sources = sorted({p.source for p in points})
    result: dict[str, Any] = {"runs": [str(p.run_dir) for p in points], "loss_source": sources, "fits": {},
                              "skipped": {}}
    sections = [Section("Runs", [Table(["run", "N (non-emb.)", "tokens", "batch", *MODALITIES, "loss from"],
                                       [[p.name, p.parameters, p.tokens, p.batch_size,
                                         *(p.loss.get(m, float("nan")) for m in MODALITIES), p.source]
                                        for p in points])])]
    fits = {}
    for modality in MODALITIES:
        usable = [p for p in points if modality in p.loss]
        try:
            fit = fit_scaling_law([p.parameters for p in usable], [p.tokens for p in usable],
                                  [p.loss[modality] for p in usable], config.fit)
        except ValueError as exc:
            result["skipped"][modality] = str(exc)
            continue
        fits[modality] = fit
        png = plot_fit_png([p.parameters for p in usable], [p.tokens for p in usable],
                           [p.loss[modality] for p in usable], fit, title=f"{modality} NELBO per token")
        atomic_write_bytes(out / f"fit_{modality}.png", png)
        sizes = sorted({p.parameters for p in usable})
        result["fits"][modality] = {**fit.as_dict(), "d_star": {str(n): _finite(compute_optimal_tokens(fit.law, n))
                                                               for n in sizes}}
        rows = [[name, value, *fit.intervals.get(name, (float("nan"), float("nan")))]
                for name, value in fit.law.as_dict().items()]
        sections.append(Section(f"Scaling law: {modality}", [
            Figure(png, caption=f"{modality}: measured points and fitted L(N, D)"),
            Table(["parameter", "value", "2.5%", "97.5%"], rows,
                  caption=f"{fit.num_points} runs, RMSE of log loss {fit.rmse_log:.4f}"),
        ]))
    for modality, why in result["skipped"].items():
        sections.append(Section(f"Scaling law: {modality}", [Paragraph(f"not fitted: {why}", note=True)]))
    if fits:
        sizes = [p.parameters for p in points]
        png = plot_frontier_png(fits, (min(sizes) / 2, max(sizes) * 4), title="compute-optimal tokens D*(N)")
        atomic_write_bytes(out / "frontier.png", png)
        sections.append(Section("Compute-optimal frontier", [Figure(png, caption="D*(N) per modality, 95% band")]))
    curves = {}
    for p in points:
        records = read_metrics(p.run_dir / "metrics.jsonl")
        curves[f"{p.name} (B={p.batch_size})"] = ([float(r["tokens"]) for r in records if "loss" in r],
                                                  [float(r["loss"]) for r in records if "loss" in r])
    png = plot_batch_curves_png(curves, title="training loss against tokens seen", ylabel="training loss")
    atomic_write_bytes(out / "batch_curves.png", png)
    sections.append(Section("Loss against tokens", [Figure(png, caption="one line per run")]))
    if "train" in sources:
        sections.insert(0, Section("Note", [Paragraph(
            "Some losses are training NELBO (no eval/elbo.json in the run): run trimodal-eval elbo on each run "
            "for validation losses.", note=True)]))
    atomic_write_text(out / "fit.json", json.dumps(result, indent=1, sort_keys=True) + "\n")
    report = ReportPage(title="Scaling-law fit", sections=sections).write(out / "report.html")
    result["report"] = str(report)
    return result
