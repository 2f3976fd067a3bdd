"""Plots shared by the schedule, mixing and scaling studies (PNG bytes, matplotlib Agg via
``trimodal_eval.report.figures``): grouped bars with interval whiskers, and loss-against-weight panels."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from trimodal_eval.report.figures import new_figure, to_png

Bar = tuple[float, float, float]
"""``(value, low, high)``; NaN bounds draw no whisker."""


def grouped_bars_png(groups: Mapping[str, Mapping[str, Bar]], *, title: str, ylabel: str) -> bytes:
    """One group of bars per key of ``groups`` (e.g. a modality), one bar per inner key (e.g. a schedule),
    each with its interval as a whisker; bars of the same inner key share a colour across groups."""
    if not groups:
        raise ValueError("grouped_bars_png: no groups")
    plt, fig, ax = new_figure()
    names: list[str] = []
    for bars in groups.values():
        names += [n for n in bars if n not in names]
    width = 0.8 / max(1, len(names))
    for j, name in enumerate(names):
        xs, ys, lo, hi = [], [], [], []
        for i, bars in enumerate(groups.values()):
            if name not in bars:
                continue
            value, low, high = bars[name]
            xs.append(i + (j - (len(names) - 1) / 2) * width)
            ys.append(value)
            lo.append(value - low if math.isfinite(low) else 0.0)
            hi.append(high - value if math.isfinite(high) else 0.0)
        ax.bar(xs, ys, width=width, label=name, yerr=[lo, hi], capsize=3)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(list(groups))
    finite = [b[0] for bars in groups.values() for b in bars.values() if math.isfinite(b[0])]
    if finite:  # zoom on the differences: bars start a little below the smallest value
        top = max(b[2] if math.isfinite(b[2]) else b[0] for bars in groups.values() for b in bars.values())
        low = min(b[1] if math.isfinite(b[1]) else b[0] for bars in groups.values() for b in bars.values())
        ax.set_ylim(max(0.0, low - 0.15 * (top - low + 1e-9) - 0.05 * abs(low)), top + 0.1 * (top - low + 1e-9))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return to_png(plt, fig)


def loss_vs_weight_png(points: Mapping[str, Sequence[tuple[float, float, float, float]]], *, title: str,
                       xlabel: str, ylabel: str, fits: Mapping[str, tuple[float, float]] | None = None) -> bytes:
    """One panel per modality: ``(weight, loss, low, high)`` points with whiskers, on a log weight axis, and
    optionally the fitted line ``loss = a + b * ln(weight)`` (``fits[modality] = (a, b)``)."""
    import numpy as np

    if not points:
        raise ValueError("loss_vs_weight_png: no panels")
    plt, fig, _ = new_figure()
    plt.close(fig)
    fig, axes = plt.subplots(1, len(points), figsize=(4.0 * len(points), 3.5), dpi=90, squeeze=False)
    for ax, (name, pts) in zip(axes[0], points.items(), strict=True):
        pts = sorted(pts)
        w = [p[0] for p in pts]
        y = [p[1] for p in pts]
        err = [[max(0.0, p[1] - p[2]) for p in pts], [max(0.0, p[3] - p[1]) for p in pts]]
        ax.errorbar(w, y, yerr=err, fmt="o", capsize=3, label="measured")
        if fits and name in fits and len(w) > 1:
            a, b = fits[name]
            grid = np.geomspace(min(w), max(w), 32)
            ax.plot(grid, a + b * np.log(grid), "--", color="0.4", label=f"fit: slope {b:+.3f} per ln w")
        ax.set_xscale("log")
        ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0) if min(w) / 1.2 <= t <= max(w) * 1.2]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])  # round weights, not overlapping data ticks
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title)
    return to_png(plt, fig)
