"""Study 3: noise schedules per modality span (linear, cosine, polynomial), by validation ELBO and sample metrics.

Designs (``SchedulesStudyConfig.design``):

* ``tied``: every span uses the same schedule; one run per schedule (smoke size);
* ``per_modality`` [ours, default size]: one modality's schedule varies while the other two stay ``linear``:
  the all-linear baseline plus, per modality, one run per other schedule (``1 + 3 (S - 1)`` runs). The
  modality's own NELBO then answers "which schedule for this span", and the other two columns show whether
  that choice costs the other modalities anything (they share the network).

Every run trains the same base config (``experiments.grid_runs.study_base_config``: same data, seed, steps,
batch; only ``diffusion.schedules.<m>.name`` and ``.k`` differ). Measured per run, on the held-out split
(``experiments.data``):

* validation NELBO per modality on its own component (``experiments.heldout_elbo``), under a **common
  linear evaluation schedule** with the same seed for every run, so all runs see the same rows, times and
  masks and differences are paired (per-row differences, bootstrap over rows). This is legitimate because the
  continuous-time NELBO is the same integral ``int (1/s) E[sum_masked CE] ds`` over the mask rate ``s`` for
  every schedule: ELBOs under different schedules are all valid bounds on the same likelihood, hence
  comparable. The NELBO under each run's *own* schedule is reported beside it (it estimates the same bound
  with another variance; the two agree up to Monte Carlo error and the clamp ``s(eps)``);
* sample metrics per modality (``experiments.sample_metrics``, [ours]): text continuations' generative
  perplexity under the training unigram with their entropy, and the Jensen-Shannon divergence of generated
  image/audio codes to the held-out codes with their entropy (image and audio sampled in 8 steps at smoke
  size, 16 at default size, the sampler defaults at full size [ours: sampling cost]).

Verdict per modality: the schedule with the lowest NELBO and ``delta = NELBO(s) - NELBO(linear)`` with its
paired 95% interval; a difference counts as real only when the interval excludes 0.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Literal

from trimodal_core import MixtureManifest
from trimodal_eval.experiments.data import study_data
from trimodal_eval.experiments.grid_runs import GridSpec, collect, run_grids, study_base_config
from trimodal_eval.experiments.heldout_elbo import (
    COMPONENT_MODALITY,
    HeldoutElboConfig,
    cached_row_sums,
    component_estimates,
    own_modality_loss,
    paired_difference,
)
from trimodal_eval.experiments.sample_metrics import SampleMetricsConfig, sample_metrics
from trimodal_eval.experiments.section import Plot, verdict_table, write_study
from trimodal_eval.experiments.study import StudyConfig, StudyResult, write_results
from trimodal_eval.experiments.study_plots import grouped_bars_png
from trimodal_eval.likelihood import ElboConfig, read_examples
from trimodal_eval.report import Table
from trimodal_train.diffusion import MODALITY_NAMES, SCHEDULES

Design = Literal["tied", "per_modality"]


@dataclasses.dataclass(frozen=True)
class _Size:
    steps: int
    design: Design
    prompts: int
    sampler_steps: int | None
    preset: str


_SIZES = {
    "smoke": _Size(steps=20, design="tied", prompts=4, sampler_steps=8, preset="tiny"),
    "default": _Size(steps=200, design="per_modality", prompts=8, sampler_steps=16,
                     preset="tiny"),
    "full": _Size(steps=5000, design="per_modality", prompts=32, sampler_steps=None,
                  preset="small"),
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SchedulesStudyConfig:
    """Compare noise schedules per modality span (module docstring)."""

    study: StudyConfig = dataclasses.field(
        default_factory=lambda: StudyConfig(out_dir=Path("runs/experiments/schedules")))
    """Output folder, size, executor, data, seed (``--study.size smoke``)."""
    schedules: tuple[str, ...] = ("linear", "cosine", "polynomial")
    """Schedules compared (``trimodal_train.diffusion.SCHEDULES``); ``linear`` must be one (the baseline)."""
    polynomial_k: float = 2.0
    """Power ``k`` of the polynomial schedule (``alpha = 1 - t^k``) [ours: 2]."""
    design: Design | None = None
    """``tied`` or ``per_modality`` (None: ``tied`` at smoke size, ``per_modality`` otherwise)."""
    steps: int | None = None
    """Training steps per run (None: 20 smoke, 200 default, 5,000 full)."""
    seq_len: int = 128
    """Row length: a pair row of the study data (caption + 64 codes) fits in 128 [ours]."""
    batch_size: int = 8
    """Global batch (rows per optimizer step)."""

    def __post_init__(self) -> None:
        unknown = [s for s in self.schedules if s not in SCHEDULES]
        if unknown:
            raise ValueError(f"SchedulesStudyConfig.schedules: unknown {unknown}; known: {', '.join(SCHEDULES)}")
        if "linear" not in self.schedules or len(set(self.schedules)) != len(self.schedules) or len(self.schedules) < 2:
            raise ValueError(f"SchedulesStudyConfig.schedules must be distinct, at least 2, include 'linear'; "
                             f"got {self.schedules}")
        if self.design not in (None, "tied", "per_modality"):
            raise ValueError(f"SchedulesStudyConfig.design must be tied or per_modality, got {self.design!r}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"SchedulesStudyConfig.steps must be >= 1, got {self.steps!r}")
        if not self.polynomial_k > 0:
            raise ValueError(f"SchedulesStudyConfig.polynomial_k must be positive, got {self.polynomial_k!r}")


def schedule_points(schedules: tuple[str, ...], design: Design) -> dict[str, dict[str, str]]:
    """Run label -> schedule per modality (module docstring)."""
    if design == "tied":
        return {f"all-{s}": dict.fromkeys(MODALITY_NAMES, s) for s in schedules}
    points = {"linear": dict.fromkeys(MODALITY_NAMES, "linear")}
    for modality in MODALITY_NAMES:
        for s in schedules:
            if s != "linear":
                points[f"{modality}-{s}"] = {**dict.fromkeys(MODALITY_NAMES, "linear"), modality: s}
    return points


def comparisons(schedules: tuple[str, ...], design: Design, modality: str) -> dict[str, str]:
    """Schedule -> run label compared for ``modality`` (its own schedule varies, per the design)."""
    if design == "tied":
        return {s: f"all-{s}" for s in schedules}
    return {s: ("linear" if s == "linear" else f"{modality}-{s}") for s in schedules}


def _overrides(point: dict[str, str], k: float) -> tuple[str, ...]:
    args: list[str] = []
    for modality, name in point.items():
        args += [f"--diffusion.schedules.{modality}.name", name]
        if name == "polynomial":
            args += [f"--diffusion.schedules.{modality}.k", repr(float(k))]
    return tuple(args)


def _fmt_ci(value: float, low: float, high: float) -> str:
    return f"{value:+.4f} [{low:+.4f}, {high:+.4f}]" if math.isfinite(value) else "n/a"


def run_schedules(config: SchedulesStudyConfig) -> StudyResult:
    """Train the grid (or reuse it), evaluate every run, write the report section and results."""
    study = config.study
    size = _SIZES[study.size]
    design: Design = config.design or size.design
    steps = config.steps or size.steps
    data = study_data(cache_dir=study.cache_dir, mixture=study.mixture, demo_data=study.demo_data)
    base = study_base_config(study, data.train, preset=size.preset, seq_len=config.seq_len,
                             batch_size=config.batch_size,
                             overrides=("--run.steps", str(steps), "--checkpoint.interval", str(steps)))
    points = schedule_points(config.schedules, design)
    grids = [GridSpec(name=f"schedules-{label}", overrides=_overrides(p, config.polynomial_k))
             for label, p in points.items()]
    sweep_dirs = run_grids(study, base, grids)
    run_dirs = {label: collect(sweep_dirs[f"schedules-{label}"])[0].run_dir for label in points}

    examples, t_samples = study.num_eval_examples, study.num_eval_t_samples
    estimate = ElboConfig(num_t_samples=t_samples, seed=study.seed, num_bootstrap=500)
    common_cfg = HeldoutElboConfig(max_examples=examples, max_text_rows=examples, estimate=estimate,
                                   eval_schedule="linear")
    own_cfg = dataclasses.replace(common_cfg, eval_schedule=None)
    samples_cfg = SampleMetricsConfig(num_prompts=size.prompts, image_steps=size.sampler_steps,
                                      audio_steps=size.sampler_steps, seed=study.seed)
    train_text = _train_examples(data.train, "text", limit=400)
    common, own, samples = {}, {}, {}
    for label, run_dir in run_dirs.items():
        common[label] = cached_row_sums(run_dir, data.val, common_cfg, device=study.device, force=study.force)
        own[label] = cached_row_sums(run_dir, data.val, own_cfg, device=study.device, force=study.force)
        samples[label] = _samples(run_dir, data.val, train_text, samples_cfg, study)
    return _report(config, design, steps, points, run_dirs, common, own, samples, common_cfg)


def _train_examples(train_mixture: Path, component: str, *, limit: int) -> list[Any]:
    manifest = MixtureManifest.load(train_mixture)
    for comp in manifest.components:
        if comp.name == component:
            return list(read_examples(manifest.component_path(comp), max_examples=limit))
    return []


def _samples(run_dir: Path, val: dict[str, Path], train_text: list[Any], config: SampleMetricsConfig,
             study: StudyConfig) -> dict[str, Any]:
    import json

    from trimodal_train.model_export import load_model

    cache = run_dir / "eval" / "sample_metrics.json"
    key = dataclasses.asdict(config)
    if cache.is_file() and not study.force:
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return dict(saved["metrics"])
    loaded = load_model(run_dir, device=study.device)
    examples = [e for manifest in val.values() for e in read_examples(manifest, max_examples=4 * config.num_prompts)]
    metrics = sample_metrics(loaded.model, examples, train_text, space=loaded.token_space,
                             maskable_specials=tuple(loaded.model.maskable_specials), config=config,
                             device=study.device)
    write_results(cache, {"key": key, "metrics": metrics})
    return metrics


def _report(config: SchedulesStudyConfig, design: Design, steps: int, points: dict[str, dict[str, str]],
            run_dirs: dict[str, Path], common: dict[str, Any], own: dict[str, Any], samples: dict[str, Any],
            elbo_cfg: HeldoutElboConfig) -> StudyResult:
    study = config.study
    losses = {label: own_modality_loss(component_estimates(common[label], elbo_cfg)) for label in points}
    own_losses = {label: own_modality_loss(component_estimates(own[label], elbo_cfg)) for label in points}
    comp_of = {m: c for c, m in COMPONENT_MODALITY.items()}
    verdict_rows, bars, per_modality = [], {}, {}
    for modality in MODALITY_NAMES:
        chosen = comparisons(config.schedules, design, modality)
        base_label = chosen["linear"]
        entry: dict[str, Any] = {"runs": chosen, "nelbo": {}, "delta_vs_linear": {}}
        bars[modality] = {}
        for schedule, label in chosen.items():
            est = losses[label][modality]
            bars[modality][schedule] = (est.value, est.low, est.high)
            entry["nelbo"][schedule] = {"value": est.value, "ci": [est.low, est.high]}
            if schedule != "linear":
                d = paired_difference(common[label][comp_of[modality]], common[base_label][comp_of[modality]],
                                      modality, elbo_cfg, salt=f"{modality}/{schedule}")
                entry["delta_vs_linear"][schedule] = {"value": d.value, "ci": [d.low, d.high],
                                                      "excludes_zero": bool(d.low > 0 or d.high < 0)}
        best = min(chosen, key=lambda s: entry["nelbo"][s]["value"])
        entry["best"] = best
        per_modality[modality] = entry
        for schedule, d in entry["delta_vs_linear"].items():
            real = "interval excludes 0" if d["excludes_zero"] else "within noise (interval holds 0)"
            verdict_rows.append([f"{modality}: {schedule} - linear (nats/token)",
                                 _fmt_ci(d["value"], *d["ci"]), real])
        verdict_rows.append([f"{modality}: lowest validation NELBO", best,
                             f"{entry['nelbo'][best]['value']:.4f} nats/token"])
    run_rows = []
    for label, point in points.items():
        s = samples[label]
        text, image, audio = s.get("text", {}), s.get("image", {}), s.get("audio", {})
        run_rows.append([label, *(point[m] for m in MODALITY_NAMES),
                         *(losses[label][m].value for m in MODALITY_NAMES),
                         *(own_losses[label][m].value for m in MODALITY_NAMES),
                         text.get("generated_gen_ppl_unigram", math.nan), text.get("generated_entropy", math.nan),
                         image.get("js_to_heldout", math.nan), audio.get("js_to_heldout", math.nan)])
    columns = ["run", "text sched.", "image sched.", "audio sched.", "NELBO text", "NELBO image", "NELBO audio",
               "own-sched. text", "own-sched. image", "own-sched. audio", "text gen. ppl (unigram)",
               "text entropy", "image JS", "audio JS"]
    first = next(iter(samples.values()))
    floors = [["text: held-out continuations, unigram ppl / entropy",
               f"{first.get('text', {}).get('heldout_gen_ppl_unigram', math.nan):.3f} / "
               f"{first.get('text', {}).get('heldout_entropy', math.nan):.3f}"],
              *[[f"{m}: JS of the prompts' real codes to all held-out codes (sample-size floor)",
                 f"{first.get(m, {}).get('heldout_js_floor', math.nan):.4f}"] for m in ("image", "audio")]]
    png = grouped_bars_png(bars, title="validation NELBO per modality (common linear evaluation schedule)",
                           ylabel="NELBO per token (nats)")
    plots = [Plot("schedules_nelbo", png, "Validation NELBO of each modality on its own held-out component, per "
                                          "schedule of that modality's span (95% bootstrap intervals over rows).")]
    notes = [
        "ELBOs under different schedules are all valid bounds on the same likelihood (the continuous-time NELBO "
        "is the same integral over the mask rate for every schedule), so they are comparable; every run is "
        "evaluated under a common linear schedule with the same rows, times and masks (paired differences), and "
        "under its own schedule (the 'own-sched.' columns estimate the same bound).",
        "Sample metrics [ours]: text generative perplexity under the training unigram with the samples' token "
        "entropy (low perplexity with low entropy means repetitive text); image/audio: Jensen-Shannon divergence "
        "(nats) of generated codes to the held-out codes (lower is closer).",
        f"Design {design}; {steps} training steps per run of {config.batch_size} x {config.seq_len} tokens; "
        f"polynomial k = {config.polynomial_k:g}.",
    ]
    summary = {"design": design, "steps": steps, "schedules": list(config.schedules), "per_modality": per_modality,
               "runs": {label: {"schedules": points[label], "run_dir": str(run_dirs[label]),
                                "nelbo": {m: losses[label][m].value for m in MODALITY_NAMES},
                                "nelbo_own_schedule": {m: own_losses[label][m].value for m in MODALITY_NAMES},
                                "samples": samples[label]} for label in points}}
    return write_study(study, name="schedules", title="Noise schedules per modality span",
                       intro="Does the noise schedule of a modality's span change its validation ELBO or its samples?",
                       verdict=verdict_table(verdict_rows, caption="paired differences on identical held-out rows, "
                                                                   "times and masks; 95% bootstrap intervals"),
                       plots=plots, tables=[Table(columns, run_rows, caption="every run"),
                                            Table(["reference", "value"], floors, caption="what real data scores")],
                       notes=notes, summary=summary)
