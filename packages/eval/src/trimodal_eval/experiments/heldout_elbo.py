"""Held-out ELBO per mixture component, under the run's own or a common evaluation schedule, and paired
differences between runs.

``trimodal_eval.likelihood.row_sums`` gives per-row NELBO sums on one set of rows. A study needs two more
things from it:

* **per component**: the text NELBO of the held-out *text* documents, the image NELBO of the held-out
  image-text pairs, the audio NELBO of the audio-text pairs (a modality's own component; the text of captions
  and transcripts is reported separately), so a mixing study can put each modality's loss against the
  weight of its component;
* **a common evaluation schedule** [ours: linear]. The continuous-time NELBO does not depend on the schedule:
  with ``s = 1 - alpha(t)`` the mask probability, ``w(t) dt = -alpha'(t) / (1 - alpha(t)) dt = ds / s``, so
  ``NELBO = int_{s(eps)}^{1} (1/s) E_{x_s}[sum_{i masked} -log p(x0_i | x_s)] ds`` for every schedule; only the
  clamp ``s(eps)`` and the estimator's variance change. ELBOs of runs trained under different schedules are
  therefore all valid bounds on the same likelihood and comparable. Evaluating every run under one schedule,
  with the same seed, gives every run the *same* rows, times and masks (common random numbers), so the
  per-row difference of two runs is a paired estimate:
  ``delta = sum_x (nll_a(x) - nll_b(x)) / sum_x n(x)``, with a percentile bootstrap over rows
  (``trimodal_eval.likelihood.ratio_estimate`` of the per-row differences).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trimodal_eval.likelihood import ElboConfig, Estimate, RowSums, build_rows, ratio_estimate, read_examples, row_sums
from trimodal_train.diffusion import MODALITY_NAMES, DiffusionConfig, ScheduleConfig

COMPONENT_MODALITY = {"text": "text", "image_text": "image", "audio_text": "audio"}
"""The modality whose NELBO a component's held-out rows measure."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class HeldoutElboConfig:
    """Which held-out rows are evaluated and how."""

    max_examples: int = 64
    """Held-out examples read per component."""
    max_text_rows: int | None = 32
    """Packed text rows evaluated (None: all the text examples fill)."""
    estimate: ElboConfig = dataclasses.field(default_factory=lambda: ElboConfig(num_t_samples=4, num_bootstrap=500))
    """Times per row, batch size, seed and bootstrap of the estimate."""
    eval_schedule: str | None = "linear"
    """Schedule of every span during evaluation (None: each run's own training schedules)."""

    def __post_init__(self) -> None:
        if self.max_examples < 1:
            raise ValueError(f"HeldoutElboConfig.max_examples must be >= 1, got {self.max_examples!r}")
        if self.eval_schedule is not None:
            ScheduleConfig(name=self.eval_schedule)  # raises naming the unknown schedule


def run_diffusion(train_config: Mapping[str, Any]) -> DiffusionConfig:
    """The ``DiffusionConfig`` a run trained with (from its ``train_config.json``/``config.json`` dict)."""
    data = dict(train_config.get("diffusion", {}))
    names = {f.name for f in dataclasses.fields(DiffusionConfig)}
    return DiffusionConfig(**{k: v for k, v in data.items() if k in names})


def eval_diffusion(train_config: Mapping[str, Any], eval_schedule: str | None) -> DiffusionConfig:
    """The run's diffusion config with every span's schedule replaced by ``eval_schedule`` (eps kept)."""
    own = run_diffusion(train_config)
    if eval_schedule is None:
        return own
    schedules = own.schedules
    common = {m: ScheduleConfig(name=eval_schedule, eps=_eps(schedules.get(m))) for m in MODALITY_NAMES}
    return dataclasses.replace(own, schedules=common)


def _eps(schedule: Any) -> float:
    if schedule is None:
        return ScheduleConfig().eps
    return float(schedule["eps"] if isinstance(schedule, dict) else schedule.eps)


def heldout_row_sums(run_dir: str | Path, val: Mapping[str, Path], config: HeldoutElboConfig, *,
                     device: str = "cpu") -> dict[str, RowSums]:
    """Per component, the per-row NELBO sums of the run's consolidated model on that component's held-out rows."""
    from trimodal_train.model_export import load_model

    loaded = load_model(run_dir, device=device)
    diffusion = eval_diffusion(loaded.train_config, config.eval_schedule)
    seq_len = int(loaded.train_config.get("data", {}).get("seq_len", loaded.config.max_seq_len))
    out = {}
    for name, manifest in val.items():
        examples = list(read_examples(manifest, max_examples=config.max_examples))
        rows = build_rows(examples, seq_len=seq_len, pad_id=loaded.token_space.pad_id,
                          max_text_rows=config.max_text_rows)
        out[name] = row_sums(loaded.model, rows, diffusion=diffusion, token_space=loaded.token_space,
                             config=config.estimate, device=device)
    return out


def cached_row_sums(run_dir: str | Path, val: Mapping[str, Path], config: HeldoutElboConfig, *,
                    device: str = "cpu", force: bool = False) -> dict[str, RowSums]:
    """:func:`heldout_row_sums`, cached in ``<run_dir>/eval/heldout-<key>.npz`` where ``key`` hashes the settings,
    the held-out manifests and the exported model's weights file (a retrained run is evaluated again)."""
    run = Path(run_dir)
    weights = run / "model" / "model.safetensors"
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(config), sort_keys=True, default=str).encode())
    for name, manifest in sorted(val.items()):
        digest.update(name.encode())
        digest.update(Path(manifest).read_bytes())
    if weights.is_file():
        stat = weights.stat()
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    cache = run / "eval" / f"heldout-{digest.hexdigest()[:16]}.npz"
    if cache.is_file() and not force:
        with np.load(cache) as saved:
            return {name: RowSums(nll_RM=saved[f"{name}/nll"], n_RM=saved[f"{name}/n"]) for name in val}
    sums = heldout_row_sums(run, val, config, device=device)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.stem}.tmp.npz")
    np.savez(tmp, **{f"{n}/nll": s.nll_RM for n, s in sums.items()}, **{f"{n}/n": s.n_RM for n, s in sums.items()})
    tmp.replace(cache)
    return sums


def component_estimates(sums: Mapping[str, RowSums], config: HeldoutElboConfig) -> dict[str, dict[str, Estimate]]:
    """``{component: {modality: Estimate}}`` for every modality present in the component's rows."""
    out: dict[str, dict[str, Estimate]] = {}
    for name, part in sums.items():
        out[name] = {}
        for m, modality in enumerate(MODALITY_NAMES):
            est = ratio_estimate(part.nll_RM[:, m], part.n_RM[:, m], config.estimate, salt=f"{name}/{modality}")
            if est.rows:
                out[name][modality] = est
    return out


def own_modality_loss(estimates: Mapping[str, Mapping[str, Estimate]]) -> dict[str, Estimate]:
    """``{modality: Estimate}``: each modality's NELBO on its own component (:data:`COMPONENT_MODALITY`)."""
    return {mod: estimates[comp][mod] for comp, mod in COMPONENT_MODALITY.items()
            if comp in estimates and mod in estimates[comp]}


def paired_difference(a: RowSums, b: RowSums, modality: str, config: HeldoutElboConfig, *,
                      salt: str = "") -> Estimate:
    """NELBO(a) - NELBO(b) per token of ``modality`` on the same rows, with a paired bootstrap over rows.

    Both must come from :func:`heldout_row_sums` on the same rows with the same evaluation schedule and seed
    (then the eligible counts agree row by row; ``ValueError`` otherwise).
    """
    m = MODALITY_NAMES.index(modality)
    if a.n_RM.shape != b.n_RM.shape or not np.allclose(a.n_RM[:, m], b.n_RM[:, m]):
        raise ValueError(f"paired_difference({modality}): the two runs were not evaluated on the same rows")
    return ratio_estimate(a.nll_RM[:, m] - b.nll_RM[:, m], a.n_RM[:, m], config.estimate, salt=f"diff/{salt}")
