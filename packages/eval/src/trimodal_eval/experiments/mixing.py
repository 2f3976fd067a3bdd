"""Study 4: mixing ratios: each modality's validation loss against the weight of its component, at equal tokens.

Every run trains the same base config (same seed, steps, batch and row length, hence the same number of
token slots ``steps * B * L``); only the mixture weights differ (sweep key
``mix=text:w1/image_text:w2/audio_text:w3``, constant weights in the mixture manifest's ``weight_unit``).

Design (``MixingStudyConfig.mixes`` empty: by size) [ours]:

* smoke: three rotations, each component once at 0.6 with the others at 0.2;
* default/full: one component at a time at each of ``levels`` (0.1, 0.3, 0.6) with the remaining weight
  shared by the other two in their proportion in the base mixture (``3 x len(levels)`` mixes, duplicates
  removed; a level equal to a component's base weight gives the base mixture itself).

Measured per run: the validation NELBO of each modality on its own held-out component
(``experiments.heldout_elbo``: text on the text documents, image on the image-text pairs, audio on the
audio-text pairs). Per modality the study fits ``loss = a + b * ln(w)`` by least squares over the runs
(``w`` = the normalized weight of its component) with a percentile bootstrap over runs for ``b`` [ours]:
``b < 0`` with an interval below 0 says the modality's loss falls as its share grows. Captions and
transcripts also hold text, so the text component's weight is not the text modality's whole share.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from trimodal_core import MixtureManifest, derive_seed
from trimodal_eval.experiments.data import study_data
from trimodal_eval.experiments.grid_runs import GridSpec, collect, run_grids, study_base_config
from trimodal_eval.experiments.heldout_elbo import (
    COMPONENT_MODALITY,
    HeldoutElboConfig,
    cached_row_sums,
    component_estimates,
    own_modality_loss,
)
from trimodal_eval.experiments.section import Plot, verdict_table, write_study
from trimodal_eval.experiments.study import StudyConfig, StudyResult
from trimodal_eval.experiments.study_plots import loss_vs_weight_png
from trimodal_eval.likelihood import ElboConfig
from trimodal_eval.report import Table
from trimodal_train.sweep import parse_mix

_STEPS = {"smoke": 20, "default": 200, "full": 5000}
_PRESET = {"smoke": "tiny", "default": "tiny", "full": "small"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixingStudyConfig:
    """Sweep the mixture weights (module docstring)."""

    study: StudyConfig = dataclasses.field(default_factory=lambda: StudyConfig(out_dir=Path("runs/experiments/mixing")))
    """Output folder, size, executor, data, seed (``--study.size smoke``)."""
    mixes: tuple[str, ...] = ()
    """Mixes ``text:w/image_text:w/audio_text:w`` (empty: the size's design, module docstring)."""
    levels: tuple[float, ...] = (0.1, 0.3, 0.6)
    """Weights of the one-at-a-time design (default/full size)."""
    steps: int | None = None
    """Training steps per run (None: 20 smoke, 200 default, 5,000 full)."""
    seq_len: int = 128
    """Row length."""
    batch_size: int = 8
    """Global batch (rows per optimizer step)."""
    num_bootstrap: int = 1000
    """Bootstrap resamples of runs for the slope interval."""

    def __post_init__(self) -> None:
        for mix in self.mixes:
            parse_mix(mix)  # raises naming the bad mix
        if not self.levels or any(not 0 < w < 1 for w in self.levels):
            raise ValueError(f"MixingStudyConfig.levels must be weights in (0, 1), got {self.levels}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"MixingStudyConfig.steps must be >= 1, got {self.steps!r}")


def mix_string(weights: dict[str, float]) -> str:
    """``{"text": 0.5, ...}`` -> ``text:0.5/...`` (4 decimals)."""
    return "/".join(f"{name}:{weight:.4g}" for name, weight in weights.items())


def normalized(mix: str) -> dict[str, float]:
    weights = parse_mix(mix)
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"mix {mix!r}: weights sum to 0")
    return {k: v / total for k, v in weights.items()}


def design_mixes(base: dict[str, float], size: str, levels: tuple[float, ...]) -> list[str]:
    """The size's mixes over the components of ``base`` (their base weights, any scale)."""
    names = list(base)
    if size == "smoke":
        return [mix_string({n: (0.6 if n == lead else 0.4 / (len(names) - 1)) for n in names}) for lead in names]
    total = sum(base.values())
    mixes: list[str] = []
    for lead in names:
        rest = total - base[lead]
        for level in levels:
            weights = {n: (level if n == lead else (1 - level) * base[n] / rest) for n in names}
            if (mix := mix_string(weights)) not in mixes:
                mixes.append(mix)
    return mixes


def log_slope(weights: np.ndarray, losses: np.ndarray, *, num_bootstrap: int, seed: int,
              confidence: float = 0.95) -> dict[str, float]:
    """Least squares ``loss = a + b ln w`` and a percentile bootstrap interval of ``b`` over the points."""
    x = np.log(np.asarray(weights, np.float64))
    y = np.asarray(losses, np.float64)
    if np.unique(x).size < 2:
        return {"a": math.nan, "b": math.nan, "low": math.nan, "high": math.nan, "points": int(x.size)}
    b, a = np.polyfit(x, y, 1)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(num_bootstrap):
        idx = rng.integers(0, x.size, x.size)
        if np.unique(x[idx]).size >= 2:
            boots.append(np.polyfit(x[idx], y[idx], 1)[0])
    tail = (1 - confidence) / 2 * 100
    low, high = (float(v) for v in np.percentile(boots, [tail, 100 - tail])) if boots else (math.nan, math.nan)
    return {"a": float(a), "b": float(b), "low": low, "high": high, "points": int(x.size)}


def run_mixing(config: MixingStudyConfig) -> StudyResult:
    """Train one run per mix (or reuse them), evaluate, fit, write the report section and results."""
    study = config.study
    steps = config.steps or _STEPS[study.size]
    data = study_data(cache_dir=study.cache_dir, mixture=study.mixture, demo_data=study.demo_data)
    manifest = MixtureManifest.load(data.train)
    base_weights = {c.name: float(c.weight) for c in manifest.components}
    mixes = list(config.mixes) or design_mixes(base_weights, study.size, config.levels)
    for mix in mixes:
        if set(parse_mix(mix)) != set(base_weights):
            raise ValueError(f"mix {mix!r}: components must be exactly {sorted(base_weights)}")
    base = study_base_config(study, data.train, preset=_PRESET[study.size], seq_len=config.seq_len,
                             batch_size=config.batch_size,
                             overrides=("--run.steps", str(steps), "--checkpoint.interval", str(steps)))
    sweep = run_grids(study, base, [GridSpec(name="mixing", grid=("mix=" + ",".join(mixes),))])["mixing"]
    records = {r.overrides["mix"]: r for r in collect(sweep)}
    examples, t_samples = study.num_eval_examples, study.num_eval_t_samples
    elbo = HeldoutElboConfig(max_examples=examples, max_text_rows=examples, eval_schedule=None,
                             estimate=ElboConfig(num_t_samples=t_samples, seed=study.seed, num_bootstrap=500))
    losses = {mix: own_modality_loss(component_estimates(
        cached_row_sums(records[mix].run_dir, data.val, elbo, device=study.device, force=study.force), elbo))
        for mix in mixes}
    tokens = {mix: float(records[mix].metrics[-1]["tokens"]) for mix in mixes}

    points, fits, verdict, summary_fits = {}, {}, [], {}
    for comp, modality in COMPONENT_MODALITY.items():
        w = np.array([normalized(m)[comp] for m in mixes])
        y = np.array([losses[m][modality].value for m in mixes])
        points[modality] = [(float(wi), losses[m][modality].value, losses[m][modality].low, losses[m][modality].high)
                            for wi, m in zip(w, mixes, strict=True)]
        fit = log_slope(w, y, num_bootstrap=config.num_bootstrap, seed=derive_seed(study.seed, "mixing", modality))
        summary_fits[modality] = {"component": comp, **fit}
        if math.isfinite(fit["a"]):
            fits[modality] = (fit["a"], fit["b"])
        falls = fit["high"] < 0
        verdict.append([f"{modality}: d NELBO / d ln(weight of {comp})",
                        f"{fit['b']:+.4f} [{fit['low']:+.4f}, {fit['high']:+.4f}]",
                        "loss falls as its weight rises (interval below 0)" if falls else
                        "no clear dependence (interval holds 0 or above)"])
        lo, hi = int(np.argmin(w)), int(np.argmax(w))
        verdict.append([f"{modality}: NELBO at weight {w[lo]:.2f} vs {w[hi]:.2f}", f"{y[lo]:.4f} vs {y[hi]:.4f}",
                        f"{len(mixes)} runs"])
    equal = len(set(tokens.values())) == 1
    verdict.append(["token slots per run (steps x batch x length)", f"{next(iter(tokens.values())):.0f}",
                    "equal for every run" if equal else "NOT equal: runs differ in length"])
    unit = manifest.weight_unit
    png = loss_vs_weight_png(points, title="validation NELBO against the component's weight",
                             xlabel=f"weight of the modality's component ({unit})", ylabel="NELBO per token (nats)",
                             fits=fits)
    rows = [[mix, *(round(normalized(mix)[c], 4) for c in COMPONENT_MODALITY),
             *(losses[mix][m].value for m in COMPONENT_MODALITY.values()), tokens[mix]] for mix in mixes]
    table = Table(["mix", "w text", "w image_text", "w audio_text", "NELBO text", "NELBO image", "NELBO audio",
                   "token slots"], rows, caption="every run (NELBO of each modality on its own held-out component)")
    notes = [f"Weights are in the mixture's unit ({unit}), normalized to sum to 1. Text NELBO is measured on the "
             "held-out text documents; captions and transcripts also train the text span, so the text component's "
             "weight is not the text modality's whole share.",
             f"{steps} steps per run of {config.batch_size} x {config.seq_len} token slots; same seed for every run."]
    summary = {"steps": steps, "weight_unit": unit, "fits": summary_fits, "equal_tokens": equal,
               "runs": {mix: {"weights": normalized(mix), "nelbo": {m: e.value for m, e in losses[mix].items()},
                              "ci": {m: [e.low, e.high] for m, e in losses[mix].items()}, "tokens": tokens[mix],
                              "run_dir": str(records[mix].run_dir)} for mix in mixes}}
    return write_study(study, name="mixing", title="Mixing ratios",
                       intro="How does each modality's validation loss depend on the weight of its component, "
                             "at an equal number of training tokens?",
                       verdict=verdict_table(verdict, caption="slope of NELBO on ln(weight) with a 95% bootstrap "
                                                              "interval over runs"),
                       plots=[Plot("mixing_loss_vs_weight", png, "Validation NELBO of each modality against its "
                                                                 "component's weight (95% intervals over rows).")],
                       tables=[table], notes=notes, summary=summary)
