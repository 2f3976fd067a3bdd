"""A study's report: plots (PNG), a verdict table and notes, written as ``report.html`` plus ``results.json``.

Built from ``trimodal_eval.report``: :class:`~trimodal_eval.report.Section` blocks on a self-contained
:class:`~trimodal_eval.report.ReportPage` (figures inline as ``data:`` URIs), figures drawn with
``trimodal_eval.report.figures`` (matplotlib, Agg). Every figure is also saved as ``<out_dir>/plots/<name>.png``
(the docs commit those). :func:`panels_png` draws several panels side by side with a shared y axis (one per
rule, per modality, ...), each a set of named ``(x, y)`` lines.
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Mapping, Sequence
from typing import Any

from trimodal_eval.experiments.study import StudyConfig, StudyResult, write_results
from trimodal_eval.report import Figure, Paragraph, ReportPage, Section, Table
from trimodal_eval.report.figures import new_figure, to_png

Series = Mapping[str, tuple[Sequence[float], Sequence[float]]]


@dataclasses.dataclass(frozen=True)
class Plot:
    """A named PNG figure with its caption."""

    name: str
    """File stem under ``<out_dir>/plots``."""
    png: bytes
    caption: str


def panels_png(panels: Mapping[str, Series], *, xlabel: str, ylabel: str, log_x: bool = False,
               log_y: bool = False, title: str = "", markers: Mapping[str, Sequence[tuple[float, float]]] | None = None,
               reference: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
               scatter: Sequence[str] = ()) -> bytes:
    """One panel per entry of ``panels`` (shared y axis), each with its named lines; ``reference`` lines are
    drawn dashed and grey in every panel; ``markers`` adds black crosses per panel; series named in ``scatter``
    are drawn as points without a line. On a log x axis with at most 8 distinct x values the ticks are those
    values."""
    if not panels:
        raise ValueError("panels_png: no panels")
    plt, fig, _ = new_figure()
    plt.close(fig)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), dpi=90, sharey=True, squeeze=False)
    for ax, (panel, series) in zip(axes[0], panels.items(), strict=True):
        for name, (x, y) in series.items():
            if len(x) != len(y):
                raise ValueError(f"panel {panel!r}, series {name!r}: {len(x)} x values but {len(y)} y values")
            if len(x) and name in scatter:
                ax.plot(list(x), list(y), "o", label=name)
            elif len(x):
                ax.plot(list(x), list(y), label=name, marker="." if len(x) < 30 else None)
        for name, (x, y) in (reference or {}).items():
            ax.plot(list(x), list(y), "--", color="0.5", label=name)
        for x, y in (markers or {}).get(panel, ()):
            ax.plot([x], [y], "kx")
        if log_x:
            ax.set_xscale("log")
            xs = sorted({float(v) for x, _ in series.values() for v in x})
            if 0 < len(xs) <= 8:
                from matplotlib.ticker import NullFormatter

                ax.set_xticks(xs, [f"{v:.3g}" for v in xs])
                ax.xaxis.set_minor_formatter(NullFormatter())
        if log_y:
            ax.set_yscale("log")
        ax.set_title(panel)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, framealpha=0.5)
    axes[0][0].set_ylabel(ylabel)
    if title:
        fig.suptitle(title)
    return to_png(plt, fig)


def verdict_table(rows: Sequence[Sequence[object]], *, columns: Sequence[str] = ("check", "value", "note"),
                  caption: str = "") -> Table:
    """The study's verdict: one row per measured quantity or yes/no finding."""
    return Table(list(columns), [list(r) for r in rows], caption=caption)


def machine_note(study: StudyConfig) -> str:
    """Where the study ran (for the report and the docs)."""
    import os

    import torch

    return (f"Ran at size {study.size!r} on {platform.machine()} with {os.cpu_count()} CPU cores visible, torch "
            f"{torch.__version__}, {torch.get_num_threads()} threads, device {study.device}, executor "
            f"{study.executor}.")


def write_study(study: StudyConfig, *, name: str, title: str, intro: str, verdict: Table, plots: Sequence[Plot],
                tables: Sequence[Table] = (), notes: Sequence[str] = (), summary: dict[str, Any],
                details: dict[str, Any] | None = None) -> StudyResult:
    """Save the plots, write ``report.html`` (one section) and ``results.json``; returns the StudyResult."""
    out = study.out_dir
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for plot in plots:
        path = plot_dir / f"{plot.name}.png"
        path.write_bytes(plot.png)
        paths.append(path)
    blocks: list[Any] = [Paragraph(intro), verdict, *[Figure(p.png, caption=p.caption) for p in plots], *tables,
                         *[Paragraph(n, note=True) for n in notes], Paragraph(machine_note(study), note=True)]
    page = ReportPage(title=title, subtitle=f"trimodal experiment {name}", sections=[Section(title, blocks)])
    report = page.write(out / "report.html")
    results = write_results(out / "results.json", {"study": name, "size": study.size, "summary": summary,
                                                   "config": dataclasses.asdict(study), **(details or {})})
    return StudyResult(name=name, out_dir=out, report=report, results=results, summary=summary, plots=tuple(paths))
