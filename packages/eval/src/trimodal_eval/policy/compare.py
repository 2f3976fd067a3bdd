"""Accuracy against NFE: learned policies against the heuristic selection rules, with intervals.

For each mode (full diffusion; semi-autoregressive blocks of ``block_length``) and each evaluated length
(``length_multipliers`` x the task's ``L``: a policy trained at ``L`` is also run at ``2 L``), every method
decodes the same ``num_examples`` test-split prompts under each sampler seed (greedy base model):

- ``policy``: each trained policy (its alpha, and "additive" for that reward form, in the label) at each
  test-time knob ``beta``;
- ``threshold``: confidence threshold at each ``lambda`` (dynamic; at least one token per step);
- ``confidence`` (top-k confidence), ``margin``, ``random``: scheduled rules with
  ``steps = max(1, round(f * L))`` for each step fraction ``f``.

A cell's accuracy is the mean over examples and seeds of the judge's verdict; its NFE the mean model calls.
The interval is a percentile bootstrap over examples (each resampled example keeps all its seeds) [ours].
*Policy vs random at equal NFE*: random with ``steps = ceil(NFE of the policy)`` (so random never gets
fewer calls) on the same prompts and seeds; the paired difference ``acc(policy) - acc(random)`` per example,
with its bootstrap interval. Outputs: ``comparison.json``, one ``accuracy_vs_nfe_<mode>_L<n>.png`` per panel
(``trimodal_eval.report.figures``) and ``report.html`` holding :func:`report_section`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from trimodal_core import derive_seed, progress
from trimodal_eval.json_values import json_value
from trimodal_eval.policy.export import load_policy
from trimodal_eval.policy.rollout import run_episodes
from trimodal_eval.policy.tasks import TaskConfig, build_examples
from trimodal_eval.sampling import SamplerConfig, build_rule


@dataclasses.dataclass(frozen=True, kw_only=True)
class CompareConfig:
    """One comparison run."""

    model: Path
    """Base model (run folder or ``model/``)."""
    policies: tuple[Path, ...] = ()
    """Trained policy folders (``policy train`` outputs)."""
    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    """Task; its ``length`` is ``L``."""
    out_dir: Path = Path("runs/policy_compare")
    """Where the JSON, plots and report go."""
    num_examples: int = 200
    """Test-split prompts."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Sampler seeds (the policy's and random's draws)."""
    length_multipliers: tuple[int, ...] = (1, 2)
    """Evaluated lengths as multiples of ``L``."""
    block_length: int | None = 4
    """Semi-autoregressive block length (None: full diffusion only)."""
    thresholds: tuple[float, ...] = (0.5, 0.7, 0.9)
    """``lambda`` of the threshold rule."""
    step_fractions: tuple[float, ...] = (0.2, 0.4, 0.6, 1.0)
    """Steps of the scheduled rules as fractions of the length."""
    betas: tuple[float, ...] = (1.0,)
    """Test-time speed knob of the policies."""
    num_bootstrap: int = 1000
    """Bootstrap resamples."""
    confidence: float = 0.95
    """Interval coverage."""
    threads: int | None = 1
    """torch CPU threads (None: leave as is)."""

    def __post_init__(self) -> None:
        if self.num_examples < 2 or not self.seeds or not self.length_multipliers:
            raise ValueError("CompareConfig: num_examples >= 2, at least one seed and one length multiplier")
        if not 0 < self.confidence < 1:
            raise ValueError(f"CompareConfig.confidence must be in (0, 1), got {self.confidence!r}")
        if any(not 0 < f <= 1 for f in self.step_fractions):
            raise ValueError(f"CompareConfig.step_fractions must be in (0, 1], got {self.step_fractions}")


def bootstrap_mean(values_NS: np.ndarray, *, num: int, confidence: float, seed: int) -> tuple[float, float, float]:
    """Mean over examples and seeds, with a percentile bootstrap interval over examples."""
    per_N = values_NS.mean(axis=1)
    rng = np.random.default_rng(seed)
    boots = per_N[rng.integers(0, per_N.size, size=(num, per_N.size))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(boots, [tail, 100 - tail])
    return float(per_N.mean()), float(low), float(high)


def _evaluate(rule_factory, examples, config: CompareConfig, sampler: SamplerConfig, space, denoiser):  # type: ignore[no-untyped-def]
    """``correct [N, S]`` and ``nfe [N, S]`` of one method over the seeds."""
    correct, nfe = [], []
    for s in config.seeds:
        seeds = [derive_seed(s, "policy-compare", i) for i in range(len(examples))]
        ep = run_episodes(rule_factory(), denoiser, examples, seeds=seeds, space=space, sampler=sampler.replace(seed=s))
        correct.append(ep.correct_B.numpy())
        nfe.append(ep.nfe_B.numpy())
    return np.stack(correct, 1).astype(np.float64), np.stack(nfe, 1).astype(np.float64)


def run_compare(config: CompareConfig) -> dict[str, Any]:
    """Run the comparison, write its files; returns the JSON-able result."""
    import torch

    from trimodal_train.model_export import load_model

    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        loaded = load_model(config.model)
        policies = [(Path(p), load_policy(p)) for p in config.policies]
        cells, versus = [], []
        modes = [("full", None)] + ([("semi-ar", config.block_length)] if config.block_length else [])
        plan = [(m, b, k) for m, b in modes for k in config.length_multipliers]
        for mode, block, mult in progress(plan, desc="policy compare", total=len(plan), unit="panel"):
            task = dataclasses.replace(config.task, length=config.task.length * mult)
            length = task.length
            examples = build_examples(task, config.num_examples, split="test")
            base = SamplerConfig(temperature=0.0, block_length=block)

            where = {"mode": mode, "length": length, "length_multiplier": mult}

            def cell(method: str, setting: str, label: str, factory, sampler: SamplerConfig,  # type: ignore[no-untyped-def]
                     examples: list = examples, where: dict = where) -> np.ndarray:
                c_NS, n_NS = _evaluate(factory, examples, config, sampler, loaded.token_space, loaded.model)
                acc, lo, hi = bootstrap_mean(c_NS, num=config.num_bootstrap, confidence=config.confidence,
                                             seed=derive_seed(0, "boot", where["mode"], where["length"], label))
                cells.append({**where, "method": method, "setting": setting, "label": label, "accuracy": acc,
                              "ci_low": lo, "ci_high": hi, "nfe": float(n_NS.mean())})
                return c_NS

            for path, pol in policies:
                reward_cfg = pol.train_config.get("reward", {})
                alpha = reward_cfg.get("alpha")
                form = " additive" if reward_cfg.get("form") == "additive" else ""
                for beta in config.betas:
                    label = f"policy a={alpha}{form} b={beta}"
                    c_pol = cell("policy", f"alpha={alpha}, beta={beta}", label,
                                 lambda pol=pol, beta=beta: pol.rule(beta=beta), base)
                    steps = max(1, math.ceil(cells[-1]["nfe"] - 1e-9))
                    c_rand, _ = _evaluate(lambda: build_rule(SamplerConfig(selection="random")), examples, config,
                                          base.replace(selection="random", steps=steps), loaded.token_space,
                                          loaded.model)
                    diff, lo, hi = bootstrap_mean(c_pol - c_rand, num=config.num_bootstrap,
                                                  confidence=config.confidence,
                                                  seed=derive_seed(0, "boot-diff", mode, length, label))
                    versus.append({"mode": mode, "length": length, "policy": str(path), "label": label,
                                   "policy_nfe": cells[-1]["nfe"], "random_steps": steps,
                                   "policy_accuracy": cells[-1]["accuracy"],
                                   "random_accuracy": float(c_rand.mean()),
                                   "difference": diff, "ci_low": lo, "ci_high": hi})
            for lam in config.thresholds:
                sc = base.replace(selection="threshold", threshold=lam)
                cell("threshold", f"lambda={lam}", f"threshold {lam}", lambda sc=sc: build_rule(sc), sc)
            for method in ("confidence", "margin", "random"):
                for f in config.step_fractions:
                    steps = max(1, round(f * length))
                    sc = base.replace(selection=method, steps=steps)
                    cell(method, f"steps={steps}", f"{method} {steps}", lambda sc=sc: build_rule(sc), sc)
        result = {"format": 1, "config": json_value(config), "cells": cells, "versus_random": versus}
        write_outputs(result, Path(config.out_dir))
        return result
    finally:
        torch.set_num_threads(threads)


def panel_pngs(result: dict[str, Any]) -> dict[str, bytes]:
    """One accuracy-vs-NFE plot per (mode, length): a line per method (policies: one per alpha)."""
    from trimodal_eval.report.figures import line_plot_png

    panels: dict[tuple[str, int], dict[str, list[tuple[float, float]]]] = {}
    for c in result["cells"]:
        family = c["label"].rsplit(" b=", 1)[0] if c["method"] == "policy" else c["method"]
        panels.setdefault((c["mode"], c["length"]), {}).setdefault(family, []).append((c["nfe"], c["accuracy"]))
    out = {}
    for (mode, length), series in panels.items():
        lines = {name: tuple(zip(*sorted(points), strict=True)) for name, points in series.items()}
        out[f"accuracy_vs_nfe_{mode}_L{length}.png"] = line_plot_png(
            lines, title=f"{mode}, L = {length}", xlabel="NFE (model calls per answer)", ylabel="accuracy")
    return out


def report_section(result: dict[str, Any], pngs: dict[str, bytes] | None = None):  # type: ignore[no-untyped-def]
    """The report section: the equal-NFE comparison, the full table and the plots."""
    from trimodal_eval.report.page import Figure, Paragraph, Section, Table

    pngs = panel_pngs(result) if pngs is None else pngs
    versus = Table(columns=["mode", "L", "policy", "policy NFE", "policy acc", "random steps", "random acc",
                            "difference", "95% interval"],
                   rows=[[v["mode"], v["length"], v["label"], v["policy_nfe"], v["policy_accuracy"],
                          v["random_steps"], v["random_accuracy"], v["difference"],
                          f"[{v['ci_low']:.3f}, {v['ci_high']:.3f}]"] for v in result["versus_random"]],
                   caption="learned policy vs random unmasking with at least the policy's NFE (paired bootstrap)")
    table = Table(columns=["mode", "L", "method", "setting", "NFE", "accuracy", "interval"],
                  rows=[[c["mode"], c["length"], c["method"], c["setting"], c["nfe"], c["accuracy"],
                         f"[{c['ci_low']:.3f}, {c['ci_high']:.3f}]"] for c in result["cells"]])
    cfg = result["config"]
    note = Paragraph(f"task {cfg['task']['task']}, {cfg['num_examples']} test prompts x {len(cfg['seeds'])} seeds, "
                     "greedy base model; intervals: percentile bootstrap over prompts.", note=True)
    figures = [Figure(png, caption=name) for name, png in sorted(pngs.items())]
    return Section("Learned unmasking policy: accuracy vs NFE", [note, versus, *figures, table])


def write_outputs(result: dict[str, Any], out: Path) -> None:
    from trimodal_eval.report.page import ReportPage

    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(result, indent=1))
    pngs = panel_pngs(result)
    for name, png in pngs.items():
        (out / name).write_bytes(png)
    ReportPage(title="Unmasking policy comparison", sections=[report_section(result, pngs)]).write(out / "report.html")
