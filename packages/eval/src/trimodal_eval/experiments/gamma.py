"""The horizon exponent gamma: the best learning rate at each token horizon, fitted on log-log axes.

The SDE rule (``shared/paper.md``) sets ``kappa = (D_base / D)^gamma * B / B_base`` and ``lr = lr_base sqrt(kappa)``,
so at a fixed batch ``B`` the best learning rate follows

    ``log lr*(D) = const - (gamma / 2) log D``.

The study trains, at one batch and with the base hyperparameters used as given (``optim.mode="accumulate"``:
betas, eps and weight decay fixed, only the peak lr swept [ours]), a grid of horizons ``D`` x learning rates
(x seeds), and evaluates each final model on the held-out rows (validation NELBO, all modalities pooled). Per
horizon the best lr is, with ``fit="parabola"`` (default [ours]), the vertex of the parabola through the loss at
the grid's best lr and its two neighbours in ``log lr`` (sub-grid resolution; the grid point when the best lr is
at an end of the grid, flagged ``at_edge``, or when the parabola is not convex), with ``fit="grid"`` the best
grid point. Then ``gamma = -2 s`` where ``s`` is the least-squares slope of ``log lr*`` on ``log D``.

Interval: a percentile bootstrap [ours]: each replicate resamples the held-out rows (the same rows for every
run, so runs stay comparable) and, with several seeds, the seeds of every (horizon, lr) cell, then recomputes
every loss, best lr and the fit. It covers the evaluation noise (and the seed noise given seeds), not the
choice of grid. The paper's gamma = 0.44 was fitted for its own setup; it is drawn beside ours, labelled theirs.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from trimodal_core import derive_seed
from trimodal_eval.experiments.data import study_data
from trimodal_eval.experiments.grid_runs import GridSpec, collect, run_grids, study_base_config
from trimodal_eval.experiments.section import Plot, panels_png, verdict_table, write_study
from trimodal_eval.experiments.study import StudyConfig, StudyResult
from trimodal_eval.experiments.validation import final_row_sums, validation_curve, validation_rows
from trimodal_eval.report import Table

PAPER_GAMMA = 0.44
"""The paper's fitted value [2nd], for comparison only."""
HORIZONS = {"smoke": (2.0**12, 2.0**13), "default": (2.0**13, 2.0**14, 2.0**15, 2.0**16),
            "full": (2.0**18, 2.0**19, 2.0**20, 2.0**21, 2.0**22)}
LRS = {"smoke": (2e-3, 8e-3, 3.2e-2), "default": (5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2),
       "full": (5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2)}
PRESETS = {"smoke": "tiny", "default": "tiny", "full": "small"}
SEEDS = {"smoke": (0,), "default": (0, 1), "full": (0, 1, 2)}
GammaFit = Literal["parabola", "grid"]


def _study() -> StudyConfig:
    return StudyConfig(out_dir=Path("runs/experiments/gamma"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class GammaStudyConfig:
    """Best lr per token horizon and the fitted gamma (module docstring)."""

    study: StudyConfig = dataclasses.field(default_factory=_study)
    batch: int = 8
    """Physical batch of every run (sequences)."""
    horizons: tuple[float, ...] | None = None
    """Token horizons ``D`` (None: by size, ``HORIZONS``)."""
    lrs: tuple[float, ...] | None = None
    """Peak learning rates swept at every horizon, ascending (None: by size, ``LRS``)."""
    seeds: tuple[int, ...] | None = None
    """Run seeds per (horizon, lr) cell, added to ``study.seed`` (None: by size, ``SEEDS``)."""
    preset: str | None = None
    """Training preset (None: by size, ``PRESETS``)."""
    seq_len: int = 128
    beta1: float = 0.9
    beta2: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.1
    warmup_fraction: float = 0.1
    """Warmup share of each run's steps [ours]."""
    fit: GammaFit = "parabola"
    """Best lr per horizon: ``parabola`` (vertex in log lr around the best grid point) or ``grid``."""
    num_bootstrap: int = 500
    """Bootstrap replicates of the interval."""
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.horizons is not None and (len(set(self.horizons)) < 2 or min(self.horizons) <= 0):
            raise ValueError(f"GammaStudyConfig.horizons needs 2+ distinct positive horizons, got {self.horizons}")
        if self.lrs is not None and (len(self.lrs) < 3 or list(self.lrs) != sorted(set(self.lrs))
                                     or min(self.lrs) <= 0):
            raise ValueError(f"GammaStudyConfig.lrs needs 3+ distinct positive values, ascending, got {self.lrs}")
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise ValueError(f"GammaStudyConfig.seeds must be distinct and non-empty, got {self.seeds}")
        if self.fit not in ("parabola", "grid"):
            raise ValueError(f"GammaStudyConfig.fit must be parabola or grid, got {self.fit!r}")
        if self.num_bootstrap < 0 or not 0 < self.confidence < 1:
            raise ValueError("GammaStudyConfig.num_bootstrap must be >= 0 and confidence in (0, 1)")

    def grid_horizons(self) -> tuple[float, ...]:
        return tuple(sorted(self.horizons or HORIZONS[self.study.size]))

    def grid_seeds(self) -> tuple[int, ...]:
        return tuple(self.seeds if self.seeds is not None else SEEDS[self.study.size])

    def grid_lrs(self) -> tuple[float, ...]:
        return tuple(self.lrs or LRS[self.study.size])


def best_log_lr(log_lrs: np.ndarray, losses: np.ndarray, fit: GammaFit) -> tuple[float, bool]:
    """``(log lr*, at_edge)`` for one horizon (module docstring)."""
    i = int(np.argmin(losses))
    if fit == "grid" or i in (0, len(losses) - 1):
        return float(log_lrs[i]), i in (0, len(losses) - 1)
    x, y = log_lrs[i - 1 : i + 2], losses[i - 1 : i + 2]
    a, b, _ = np.polyfit(x, y, 2)
    if not a > 0:
        return float(log_lrs[i]), False
    return float(np.clip(-b / (2 * a), x[0], x[-1])), False


def fit_gamma(log_d: np.ndarray, log_lr_star: np.ndarray) -> tuple[float, float]:
    """Least squares ``log lr* = c + s log D``; returns ``(gamma = -2 s, c)``."""
    s, c = np.polyfit(log_d, log_lr_star, 1)
    return float(-2 * s), float(c)


def estimate(log_d: np.ndarray, log_lrs: np.ndarray, nll: np.ndarray, count: np.ndarray, fit: GammaFit,
             rows: np.ndarray | None = None, seeds: np.ndarray | None = None) -> dict[str, Any]:
    """gamma from per-row sums ``nll[h, l, s, r]`` / ``count[...]`` (horizon, lr, seed, row), optionally on
    resampled row indices ``rows`` and seed indices ``seeds[h, l, :]``."""
    if rows is not None:
        nll, count = nll[..., rows], count[..., rows]
    loss = nll.sum(-1) / count.sum(-1)  # [H, Lr, S]
    if seeds is not None:
        loss = np.take_along_axis(loss, seeds, axis=-1)
    loss = loss.mean(-1)
    best = [best_log_lr(log_lrs, loss[h], fit) for h in range(len(log_d))]
    star = np.array([b[0] for b in best])
    gamma, intercept = fit_gamma(log_d, star)
    return {"gamma": gamma, "intercept": intercept, "log_lr_star": star, "at_edge": [b[1] for b in best],
            "loss": loss}


def _grids(config: GammaStudyConfig) -> list[GridSpec]:
    lrs = ",".join(f"{lr:g}" for lr in config.grid_lrs())
    seeds = ",".join(str(config.study.seed + s) for s in config.grid_seeds())
    grids = []
    for tokens in config.grid_horizons():
        steps = max(1, int(tokens // (config.batch * config.seq_len)))
        grids.append(GridSpec(name=f"horizon-{int(tokens):012d}", grid=(f"optim.adamw.lr={lrs}", f"run.seed={seeds}"),
                              overrides=("--run.tokens", str(tokens), "--run.steps", "None", "--checkpoint.interval",
                                         "0", "--run.log-interval", str(max(1, steps // 20)))))
    return grids


def _base(config: GammaStudyConfig, mixture: Path) -> Any:
    return study_base_config(config.study, mixture, preset=config.preset or PRESETS[config.study.size],
                             seq_len=config.seq_len, batch_size=config.batch, overrides=[
        "--optim.mode", "accumulate", "--optim.adamw.beta1", str(config.beta1), "--optim.adamw.beta2",
        str(config.beta2), "--optim.adamw.eps", str(config.eps), "--optim.adamw.weight-decay",
        str(config.weight_decay), "--optim.schedule.warmup-steps", str(10**9),
        "--optim.schedule.max-warmup-fraction", str(config.warmup_fraction)])


def run_gamma(config: GammaStudyConfig) -> StudyResult:
    """Train the horizon x lr grid (or reuse it), evaluate every final model, fit gamma, write the report."""
    study = config.study
    data = study_data(cache_dir=study.cache_dir, mixture=study.mixture, demo_data=study.demo_data)
    dirs = run_grids(study, _base(config, data.train), _grids(config))
    rows = validation_rows(data.val, seq_len=config.seq_len, pad_id=data.token_space.pad_id,
                           max_examples=study.num_eval_examples)
    horizons, lrs = config.grid_horizons(), config.grid_lrs()
    seeds = [study.seed + s for s in config.grid_seeds()]
    cells: dict[tuple[int, int, int], Any] = {}
    runs = []
    for record in (r for d in dirs.values() for r in collect(d)):
        curve = validation_curve(record.run_dir, rows, config=study.elbo_config(), device=study.device,
                                 force=study.force)
        h = horizons.index(float(record.config["run"]["tokens"]))
        lr_index = int(np.argmin([abs(math.log(lr / record.config["optim"]["adamw"]["lr"])) for lr in lrs]))
        cells[h, lr_index, seeds.index(int(record.config["run"]["seed"]))] = final_row_sums(record.run_dir)
        runs.append({"name": record.name, "run_dir": record.run_dir, "tokens": horizons[h], "lr": lrs[lr_index],
                     "seed": record.config["run"]["seed"], "final_nelbo": curve[-1]["nelbo"],
                     "steps": record.optimizer.get("total_steps")})
    shape = (len(horizons), len(lrs), len(seeds), rows.rows.num_rows)
    nll, count = np.zeros(shape), np.zeros(shape)
    for (h, i, s), sums in cells.items():
        nll[h, i, s], count[h, i, s] = sums.nll_RM.sum(1), sums.n_RM.sum(1)
    log_d, log_lrs = np.log(np.array(horizons)), np.log(np.array(lrs))
    point = estimate(log_d, log_lrs, nll, count, config.fit)
    rng = np.random.default_rng(derive_seed(study.seed, "experiments/gamma/bootstrap"))
    boots = []
    for _ in range(config.num_bootstrap):
        pick_rows = rng.integers(0, shape[3], shape[3])
        pick_seeds = rng.integers(0, shape[2], shape[:3])
        boots.append(estimate(log_d, log_lrs, nll, count, config.fit, rows=pick_rows, seeds=pick_seeds)["gamma"])
    tail = (1 - config.confidence) / 2 * 100
    low, high = (float(v) for v in np.percentile(boots, [tail, 100 - tail])) if boots else (math.nan, math.nan)
    lr_star = np.exp(point["log_lr_star"])
    summary = {"gamma": point["gamma"], "gamma_ci": [low, high], "confidence": config.confidence,
               "num_bootstrap": config.num_bootstrap, "fit": config.fit, "batch": config.batch,
               "seq_len": config.seq_len, "horizons": list(horizons), "lrs": list(lrs), "seeds": seeds,
               "best_lr": [float(v) for v in lr_star], "at_edge": point["at_edge"], "intercept": point["intercept"],
               "loss": point["loss"].tolist(), "paper_gamma": PAPER_GAMMA}
    plots = _plots(summary, log_d)
    verdict = verdict_table([
        ["gamma (ours, this setup)", point["gamma"], f"{config.confidence:.0%} bootstrap interval "
                                                     f"[{low:.3f}, {high:.3f}], {config.num_bootstrap} replicates"],
        ["gamma (the paper's, its own setup)", PAPER_GAMMA, "theirs, for comparison only [2nd]"],
        ["paper's value inside our interval", "yes" if low <= PAPER_GAMMA <= high else "no", ""],
        ["best lr at an end of the lr grid", ", ".join(f"D={d:.3g}" for d, e in zip(horizons, point["at_edge"],
                                                                                  strict=True) if e) or "none",
         "an edge makes that horizon's best lr a bound, not an estimate"],
    ])
    table = Table(["D (tokens)", "steps", "best lr", *[f"loss @ lr {lr:g}" for lr in lrs]],
                  [[d, int(d // (config.batch * config.seq_len)), float(lr_star[h]), *point["loss"][h].tolist()]
                   for h, d in enumerate(horizons)], caption="Validation NELBO per horizon and lr (mean over seeds).")
    intro = (f"Batch {config.batch} x {config.seq_len} tokens, horizons {[f'{d:.3g}' for d in horizons]}, peak lrs "
             f"{list(lrs)} (base betas, eps, weight decay fixed), {len(seeds)} seed(s). Best lr per horizon by "
             f"{config.fit} fit; gamma = -2 x slope of log lr* on log D (from lr = lr_base sqrt(kappa), kappa "
             "proportional to D^-gamma at fixed B).")
    return write_study(study, name="gamma", title="The horizon exponent gamma", intro=intro, verdict=verdict,
                       plots=plots, tables=[table], summary=summary,
                       notes=["The interval resamples held-out rows (and seeds): evaluation noise, not the grid."],
                       details={"study_config": dataclasses.asdict(config), "runs": runs, "bootstrap": boots})


def _plots(summary: dict[str, Any], log_d: np.ndarray) -> list[Plot]:
    horizons, lrs = summary["horizons"], summary["lrs"]
    curves = {f"D={d:.3g}": (list(lrs), summary["loss"][h]) for h, d in enumerate(horizons)}
    markers = {"validation NELBO vs lr": []}  # type: dict[str, list[tuple[float, float]]]
    for h, lr in enumerate(summary["best_lr"]):
        markers["validation NELBO vs lr"].append((lr, float(np.interp(np.log(lr), np.log(lrs), summary["loss"][h]))))
    fitted = np.exp(summary["intercept"] - summary["gamma"] / 2 * log_d)
    anchor = float(np.mean(np.log(summary["best_lr"]) + PAPER_GAMMA / 2 * log_d))
    theirs = np.exp(anchor - PAPER_GAMMA / 2 * log_d)
    lo, hi = summary["gamma_ci"]
    fit_plot = {"best lr per horizon": {
        "best lr (measured)": (list(horizons), summary["best_lr"]),
        f"fit: gamma = {summary['gamma']:.3f} [{lo:.3f}, {hi:.3f}]": (list(horizons), fitted.tolist())}}
    return [
        Plot("gamma_lr_sweep", panels_png({"validation NELBO vs lr": curves}, xlabel="peak learning rate",
                                          ylabel="validation NELBO", log_x=True, markers=markers),
             "Validation NELBO against the peak lr, one line per horizon; x: the best lr of each horizon."),
        Plot("gamma_fit", panels_png(fit_plot, xlabel="token horizon D", ylabel="best lr", log_x=True, log_y=True,
                                     scatter=("best lr (measured)",),
                                     reference={f"paper's gamma = {PAPER_GAMMA} (theirs, other setup)":
                                                (list(horizons), theirs.tolist())}),
             "Best lr against the horizon (log-log) with our fit; dashed: the paper's slope through our points' "
             "mean."),
    ]
