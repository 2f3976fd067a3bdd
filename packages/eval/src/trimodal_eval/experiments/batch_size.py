"""Batch-size invariance: does the SDE rule keep the validation curves together across physical batches?

One token horizon ``D``; physical batches ``B = f * B_base`` for the factors ``f`` (default 1/4 .. 8); each batch
trained under two rules on the same data, seed and warmup share:

* ``sde``: ``optim.mode="sde"`` with ``adamw`` tuned at ``(B_base, D_base = D)``, so the trainer derives
  ``kappa = (D_base / D)^gamma * B / B_base = B / B_base`` and ``lr = lr_base sqrt(kappa)``,
  ``beta_i = beta_i_base^kappa``, ``eps = eps_base / sqrt(kappa)``, ``wd = wd_base sqrt(kappa)`` (``per_token``),
  and warns above ``B_crit = D / (L * S_crit)`` (``critical_steps`` = ``S_crit``);
* ``naive``: ``optim.mode="accumulate"``: the base hyperparameters unchanged at every batch.

At ``B = B_base`` both rules give the same hyperparameters (``kappa = 1``): one run serves both [ours].
Warmup is ``warmup_fraction`` of each run's steps (the same share of the horizon at every batch) [ours].

Measured per run: the held-out validation NELBO (all modalities pooled; nats/token) at ``checkpoints`` points
and at the end (:mod:`trimodal_eval.experiments.validation`), against tokens seen. Reported per rule:

* ``spread = max_B L_final(B) - min_B L_final(B)`` and ``relative spread = spread / median_B L_final(B)``,
  over all batches and over the batches ``B <= B_crit``;
* the batch at which the curves *leave the common curve* [ours]: scanning batches upwards, the first ``B``
  whose final loss exceeds ``(1 + leave_tolerance)`` times the median final loss of all smaller batches (None:
  no batch leaves), next to the trainer's predicted ``B_crit`` (also for the tolerances 0.5%, 1%, 2%, 5%);
* a paired bootstrap over the held-out rows (the same resampled rows for every run) of each rule's spread and
  of ``spread(sde) - spread(naive)``: the evaluation noise of the comparison. One training seed per run: the
  seed-to-seed noise is not in it.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from trimodal_eval.experiments.data import study_data
from trimodal_eval.experiments.grid_runs import GridSpec, RunRecord, collect, run_grids, study_base_config
from trimodal_eval.experiments.section import Plot, panels_png, verdict_table, write_study
from trimodal_eval.experiments.spread_stats import leave_batch, paired_spread_bootstrap, spread
from trimodal_eval.experiments.study import StudyConfig, StudyResult
from trimodal_eval.experiments.validation import final_row_sums, validation_curve, validation_rows
from trimodal_eval.report import Table

RULES = {"sde": "sde", "naive": "accumulate"}
"""Rule name -> ``optim.mode``."""
_WIDE = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
FACTORS = {"smoke": (0.5, 1.0, 4.0), "default": _WIDE, "full": _WIDE}
TOKENS = {"smoke": 2.0**13, "default": 2.0**17, "full": 2.0**22}
CHECKPOINTS = {"smoke": 1, "default": 4, "full": 8}
PRESETS = {"smoke": "tiny", "default": "tiny", "full": "small"}


def _study() -> StudyConfig:
    return StudyConfig(out_dir=Path("runs/experiments/batch_size"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class BatchSizeStudyConfig:
    """Batch-size invariance of the SDE rule against the naive rule (module docstring)."""

    study: StudyConfig = dataclasses.field(default_factory=_study)
    base_batch: int = 8
    """``B_base`` (sequences per optimizer step) at which the base hyperparameters hold."""
    batch_factors: tuple[float, ...] | None = None
    """Physical batches as multiples of ``B_base`` (None: by size, ``FACTORS``)."""
    tokens: float | None = None
    """Token horizon ``D`` of every run (None: by size, ``TOKENS``)."""
    preset: str | None = None
    """Training preset (None: by size, ``PRESETS``)."""
    seq_len: int = 128
    """Sequence length ``L``."""
    lr: float = 2e-3
    """Base peak learning rate (the ``tiny`` preset's)."""
    beta1: float = 0.9
    beta2: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.1
    """Base weight decay [ours] (scaled by sqrt(kappa) under the SDE rule)."""
    gamma: float = 0.44
    """Horizon exponent of the SDE rule (inactive here: ``D_base = D``)."""
    critical_steps: int = 64
    """``S_crit`` for the predicted ``B_crit = D / (L * S_crit)`` [ours: the paper gives no value]."""
    warmup_fraction: float = 0.1
    """Warmup share of each run's steps [ours]."""
    checkpoints: int | None = None
    """Validation points per run besides the final one, a checkpoint every ``steps // (checkpoints + 1)``
    (None: by size, ``CHECKPOINTS``)."""
    leave_tolerance: float = 0.02
    """A batch leaves the common curve when its final loss is this fraction above the smaller batches' median."""
    num_bootstrap: int = 500
    """Paired bootstrap replicates (held-out rows resampled) of the spreads."""

    def __post_init__(self) -> None:
        if self.base_batch < 1:
            raise ValueError(f"BatchSizeStudyConfig.base_batch must be positive, got {self.base_batch}")
        if self.batch_factors is not None and (len(self.batch_factors) < 2 or min(self.batch_factors) <= 0):
            raise ValueError(f"BatchSizeStudyConfig.batch_factors needs 2+ positive factors, got {self.batch_factors}")
        if self.tokens is not None and not self.tokens > 0:
            raise ValueError(f"BatchSizeStudyConfig.tokens must be positive, got {self.tokens}")
        if not self.leave_tolerance >= 0:
            raise ValueError(f"BatchSizeStudyConfig.leave_tolerance must be >= 0, got {self.leave_tolerance}")
        if (self.checkpoints is not None and self.checkpoints < 0) or self.critical_steps < 1:
            raise ValueError("BatchSizeStudyConfig.checkpoints must be >= 0 and critical_steps >= 1")

    def batches(self) -> list[int]:
        """The physical batches, ascending (each a positive integer)."""
        factors = self.batch_factors or FACTORS[self.study.size]
        batches = sorted({round(f * self.base_batch) for f in factors})
        if batches[0] < 1:
            raise ValueError(f"BatchSizeStudyConfig.batch_factors: {factors} x {self.base_batch} gives a batch < 1")
        return batches

    def num_checkpoints(self) -> int:
        return self.checkpoints if self.checkpoints is not None else CHECKPOINTS[self.study.size]

    def horizon(self) -> float:
        return float(self.tokens if self.tokens is not None else TOKENS[self.study.size])


def sde_hyperparameters(config: BatchSizeStudyConfig, batch: int) -> dict[str, float]:
    """What the SDE rule must give at ``batch`` (the formulas of the module docstring, ``D_base = D``)."""
    kappa = (config.horizon() / config.horizon()) ** config.gamma * batch / config.base_batch
    return {"kappa": kappa, "lr": config.lr * math.sqrt(kappa), "beta1": config.beta1**kappa,
            "beta2": config.beta2**kappa, "eps": config.eps / math.sqrt(kappa),
            "weight_decay": config.weight_decay * math.sqrt(kappa)}


def _grids(config: BatchSizeStudyConfig) -> list[GridSpec]:
    D, L = config.horizon(), config.seq_len
    grids = []
    for batch in config.batches():
        steps = max(1, int(D // (L * batch)))
        points = config.num_checkpoints()
        interval = max(1, steps // (points + 1)) if points else 0
        modes = "accumulate" if batch == config.base_batch else "sde,accumulate"
        grids.append(GridSpec(name=f"batch-{batch:05d}", grid=(f"optim.mode={modes}",), overrides=(
            "--data.global-batch-size", str(batch), "--run.tokens", str(D), "--run.steps", "None",
            "--checkpoint.interval", str(interval), "--checkpoint.keep-last", str(points + 2),
            "--run.log-interval", str(max(1, steps // 20)))))
    return grids


def _base(config: BatchSizeStudyConfig, mixture: Path) -> Any:
    preset = config.preset or PRESETS[config.study.size]
    return study_base_config(config.study, mixture, preset=preset, seq_len=config.seq_len,
                             batch_size=config.base_batch, overrides=[
        "--optim.adamw.lr", str(config.lr), "--optim.adamw.beta1", str(config.beta1),
        "--optim.adamw.beta2", str(config.beta2), "--optim.adamw.eps", str(config.eps),
        "--optim.adamw.weight-decay", str(config.weight_decay),
        "--optim.adamw.batch-size", str(config.base_batch), "--optim.adamw.tokens", str(config.horizon()),
        "--optim.gamma", str(config.gamma), "--optim.critical-steps", str(config.critical_steps),
        "--optim.schedule.warmup-steps", str(10**9), "--optim.schedule.max-warmup-fraction",
        str(config.warmup_fraction), "--run.steps", "None", "--run.tokens", str(config.horizon())])


def _by_rule(records: list[RunRecord], base_batch: int) -> dict[str, dict[int, RunRecord]]:
    out: dict[str, dict[int, RunRecord]] = {rule: {} for rule in RULES}
    for record in records:
        batch = int(record.config["data"]["global_batch_size"])
        mode = record.config["optim"]["mode"]
        for rule, rule_mode in RULES.items():
            if mode == rule_mode or batch == base_batch:
                out[rule][batch] = record
    return out


def _rule_summary(runs: dict[int, RunRecord], finals: dict[int, float], b_crit: float | None,
                  tolerance: float) -> dict[str, Any]:
    below = [finals[b] for b in finals if b_crit is None or b <= b_crit]
    return {"final_nelbo": {str(b): finals[b] for b in sorted(finals)},
            "all": spread(list(finals.values())), "below_critical": spread(below),
            "leaves_at": leave_batch(finals, tolerance),
            "leaves_at_by_tolerance": {f"{t:g}": leave_batch(finals, t) for t in (0.005, 0.01, 0.02, 0.05)},
            "optimizer": {str(b): {k: runs[b].optimizer.get(k) for k in
                                   ("kappa", "lr", "beta1", "beta2", "eps", "weight_decay", "total_steps")}
                          for b in sorted(runs)}}


def run_batch_size(config: BatchSizeStudyConfig) -> StudyResult:
    """Train both rules at every batch (or reuse the runs), evaluate their checkpoints, write the report."""
    study = config.study
    data = study_data(cache_dir=study.cache_dir, mixture=study.mixture, demo_data=study.demo_data)
    base = _base(config, data.train)
    dirs = run_grids(study, base, _grids(config))
    rows = validation_rows(data.val, seq_len=config.seq_len, pad_id=data.token_space.pad_id,
                           max_examples=study.num_eval_examples)
    records = [r for d in dirs.values() for r in collect(d)]
    from trimodal_core.progress import progress

    curves = {}
    for record in progress(records, desc="validation", total=len(records), unit="run"):
        curves[str(record.run_dir)] = validation_curve(record.run_dir, rows, config=study.elbo_config(),
                                                       device=study.device, force=study.force)
    by_rule = _by_rule(records, config.base_batch)
    b_crit = by_rule["sde"][config.batches()[0]].optimizer.get("critical_batch_size")
    summary: dict[str, Any] = {"tokens": config.horizon(), "seq_len": config.seq_len, "base_batch": config.base_batch,
                               "batches": config.batches(), "critical_steps": config.critical_steps,
                               "predicted_critical_batch": b_crit, "leave_tolerance": config.leave_tolerance,
                               "rules": {}}
    panels: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    for rule, runs in by_rule.items():
        finals = {b: curves[str(r.run_dir)][-1]["nelbo"] for b, r in runs.items()}
        summary["rules"][rule] = _rule_summary(runs, finals, b_crit, config.leave_tolerance)
        panels[f"{rule} rule"] = {f"B={b}": ([p["tokens"] for p in curves[str(runs[b].run_dir)]],
                                            [p["nelbo"] for p in curves[str(runs[b].run_dir)]]) for b in sorted(runs)}
    summary["sde_formula"] = {str(b): sde_hyperparameters(config, b) for b in config.batches()}
    sde, naive = summary["rules"]["sde"], summary["rules"]["naive"]
    summary["sde_tighter"] = bool(sde["all"]["spread"] < naive["all"]["spread"])
    summary["bootstrap"] = paired_spread_bootstrap(
        {rule: {b: final_row_sums(r.run_dir) for b, r in runs.items()} for rule, runs in by_rule.items()},
        replicates=config.num_bootstrap, seed=study.seed)
    boot = summary["bootstrap"]
    finals_plot = {f"{rule} rule": ([float(b) for b in config.batches()],
                                    [summary["rules"][rule]["final_nelbo"][str(b)] for b in config.batches()])
                   for rule in RULES}
    y_all = [v for _, ys in finals_plot.values() for v in ys]
    reference = ({"predicted B_crit": ([b_crit, b_crit], [min(y_all), max(y_all)])} if b_crit else None)
    plots = [
        Plot("batch_size_curves", panels_png(panels, xlabel="tokens seen", ylabel="validation NELBO (nats/token)",
                                             title=f"D = {config.horizon():.3g} tokens"),
             "Validation NELBO against tokens seen, one line per physical batch; left: SDE rule, right: naive."),
        Plot("batch_size_final", panels_png({"final validation NELBO": finals_plot}, xlabel="physical batch B",
                                            ylabel="final validation NELBO", log_x=True, reference=reference),
             "Final validation NELBO against the physical batch, both rules; dashed: the predicted B_crit."),
    ]
    fmt = "{:.4f}".format
    verdict = verdict_table([
        ["spread of the final loss, SDE rule (all batches)", sde["all"]["spread"],
         f"relative {sde['all']['relative_spread']:.2%}"],
        ["spread of the final loss, naive rule (all batches)", naive["all"]["spread"],
         f"relative {naive['all']['relative_spread']:.2%}"],
        ["spread(SDE) - spread(naive), 95% interval over held-out rows",
         f"[{boot['sde_minus_naive_ci'][0]:+.4f}, {boot['sde_minus_naive_ci'][1]:+.4f}]",
         f"SDE tighter in {boot['fraction_sde_tighter']:.0%} of {boot['replicates']} paired resamples (one seed)"],
        ["spread, SDE rule, B <= B_crit", sde["below_critical"]["spread"], ""],
        ["spread, naive rule, B <= B_crit", naive["below_critical"]["spread"], ""],
        ["SDE rule keeps the curves closer than the naive rule", "yes" if summary["sde_tighter"] else "no",
         "smaller spread of the final loss over all batches"],
        ["batch where the SDE curves leave the common curve", str(sde["leaves_at"] or "none"),
         f"final loss > (1 + {config.leave_tolerance:g}) x median of the smaller batches"],
        ["batch where the naive curves leave", str(naive["leaves_at"] or "none"), "same definition"],
        ["predicted B_crit = D / (L S_crit)", float(b_crit) if b_crit else math.nan,
         f"S_crit = {config.critical_steps} steps, as the trainer computes it"],
    ])
    columns = ["B", "steps", "kappa (SDE)", "lr (SDE)", "beta2 (SDE)", "final NELBO, SDE", "final NELBO, naive"]
    per_batch = Table(columns,
                      [[b, sde["optimizer"][str(b)]["total_steps"], sde["optimizer"][str(b)]["kappa"],
                        sde["optimizer"][str(b)]["lr"], sde["optimizer"][str(b)]["beta2"],
                        fmt(sde["final_nelbo"][str(b)]), fmt(naive["final_nelbo"][str(b)])] for b in config.batches()],
                      caption="Per batch: the hyperparameters the trainer derived under the SDE rule, final losses.")
    intro = (f"One horizon D = {config.horizon():.4g} tokens (L = {config.seq_len}), physical batches "
             f"{config.batches()} around B_base = {config.base_batch}; the SDE rule derives lr, betas, eps and weight "
             "decay from kappa = B / B_base, the naive rule keeps the base values. Loss: held-out validation NELBO, "
             "all modalities pooled.")
    return write_study(study, name="batch_size", title="Batch-size invariance: SDE rule vs naive rule", intro=intro,
                       verdict=verdict, plots=plots, tables=[per_batch], summary=summary,
                       notes=["At B = B_base both rules have the same hyperparameters (kappa = 1): one run "
                              "serves both."],
                       details={"study_config": dataclasses.asdict(config),
                                "runs": [{"name": r.name, "sweep": r.sweep, "run_dir": r.run_dir,
                                          "optimizer": r.optimizer, "validation": curves[str(r.run_dir)]}
                                         for r in records]})
