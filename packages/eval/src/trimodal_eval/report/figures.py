"""Line plots as PNG bytes (matplotlib, Agg backend) for reports: loss curves and any x/y series.

matplotlib is imported inside the functions so importing the report package stays cheap.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence


def new_figure(width: float = 6.4, height: float = 3.8):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    return plt, fig, ax


def to_png(plt, fig) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def line_plot_png(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    log_x: bool = False,
    log_y: bool = False,
) -> bytes:
    """One line per named ``(x, y)`` series; empty series are skipped (a plot with none says so)."""
    plt, fig, ax = new_figure()
    drawn = 0
    for name, (x, y) in series.items():
        if len(x) == 0:
            continue
        if len(x) != len(y):
            raise ValueError(f"series {name!r}: {len(x)} x values but {len(y)} y values")
        ax.plot(list(x), list(y), label=name, marker="." if len(x) < 30 else None)
        drawn += 1
    if drawn == 0:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    return to_png(plt, fig)


def metric_curves_png(
    records: Sequence[Mapping[str, object]], keys: Sequence[str], *, title: str, x_key: str = "step",
    ylabel: str = "", log_y: bool = False,
) -> bytes:
    """Plot ``keys`` of JSONL metric records against ``x_key``; records missing a key are skipped for it."""
    series: dict[str, tuple[list[float], list[float]]] = {}
    for key in keys:
        xs, ys = [], []
        for record in records:
            x, y = record.get(x_key), record.get(key)
            if isinstance(x, int | float) and isinstance(y, int | float):
                xs.append(float(x))
                ys.append(float(y))
        series[key] = (xs, ys)
    return line_plot_png(series, title=title, xlabel=x_key, ylabel=ylabel, log_y=log_y)
