"""Plots of scaling fits (PNG bytes): measured loss against tokens per model size with the fitted law, the
compute-optimal frontier ``D*(N)``, and validation loss against tokens for several physical batch sizes
(where SDE batch-size invariance holds, the curves of different batches lie on one another)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from trimodal_eval.report.figures import new_figure, to_png
from trimodal_eval.scaling.fit import ScalingFit, compute_optimal_tokens


def plot_fit_png(n: Sequence[float], d: Sequence[float], loss: Sequence[float], fit: ScalingFit, *,
                 title: str) -> bytes:
    """Measured points (one colour per model size) and the fitted law as lines over the token range."""
    plt, fig, ax = new_figure()
    n_arr, d_arr, l_arr = (np.asarray(x, dtype=np.float64) for x in (n, d, loss))
    grid = np.geomspace(d_arr.min() / 1.5, d_arr.max() * 1.5, 64)
    for size in np.unique(n_arr):
        sel = n_arr == size
        (line,) = ax.plot(grid, fit.law.predict(size, grid), alpha=0.7)
        ax.scatter(d_arr[sel], l_arr[sel], color=line.get_color(), label=f"N={size:.3g}", zorder=3)
    law = fit.law
    ax.set_xscale("log")
    ax.set_title(f"{title}\nL = {law.E:.3g} + {law.A:.3g} N^-{law.alpha:.3f} + {law.B:.3g} D^-{law.beta:.3f}",
                 fontsize=9)
    ax.set_xlabel("training tokens D")
    ax.set_ylabel("NELBO per token")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return to_png(plt, fig)


def plot_frontier_png(fits: Mapping[str, ScalingFit], n_range: tuple[float, float], *, title: str) -> bytes:
    """``D*(N)`` per modality, with the bootstrap 95% band where the fit has refits."""
    plt, fig, ax = new_figure()
    grid = np.geomspace(n_range[0], n_range[1], 64)
    for name, fit in fits.items():
        (line,) = ax.plot(grid, compute_optimal_tokens(fit.law, grid), label=name)
        curves = [compute_optimal_tokens(law, grid) for law in fit.bootstrap if law.alpha > 0 and law.beta > 0]
        if len(curves) >= 10:
            lo, hi = np.percentile(np.stack(curves), [2.5, 97.5], axis=0)
            ax.fill_between(grid, lo, hi, color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel("compute-optimal tokens D*(N)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return to_png(plt, fig)


def plot_batch_curves_png(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, title: str,
                          ylabel: str = "validation loss", critical_tokens: float | None = None) -> bytes:
    """Loss against tokens seen, one line per run (label e.g. ``B=64 sde``); an optional marker where the
    predicted critical batch is reached."""
    plt, fig, ax = new_figure()
    for label, (tokens, loss) in curves.items():
        ax.plot(list(tokens), list(loss), label=label)
    if critical_tokens is not None:
        ax.axvline(critical_tokens, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel("tokens seen")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return to_png(plt, fig)
