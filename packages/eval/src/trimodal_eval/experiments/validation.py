"""Held-out validation curves of a study's runs: the ELBO of every saved checkpoint, against tokens seen.

The trainer has no held-out evaluation of its own, so a study saves a few checkpoints per run
(``checkpoint.interval``, ``keep_last`` large enough to keep them all) and evaluates them afterwards. For each
complete checkpoint ``checkpoints/step_S`` and the final ``model/`` export, the model weights are loaded (DCP,
model entries only) and the Monte Carlo NELBO of ``trimodal_eval.likelihood`` is estimated on the study's
held-out rows (built once, shared by every run, the same times and masks for every model):

    ``NELBO_m = sum_rows nll_m / sum_rows n_m`` per modality ``m``, and ``NELBO = sum_m nll_m / sum_m n_m``

(nats per eligible token). ``tokens`` = ``S * B * L`` token slots seen at step ``S``. Results are cached in
``<run_dir>/eval/validation.json``, keyed by the estimator settings and the rows' content; the final model's
per-row sums (``nll_RM``, ``n_RM``) are kept in ``<run_dir>/eval/validation_rows.npz`` for bootstraps over rows
(:func:`final_row_sums`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from trimodal_core.atomic import atomic_write_text
from trimodal_eval.likelihood import (
    ElboConfig,
    EvalRows,
    RowSums,
    build_rows,
    ratio_estimate,
    read_examples,
    row_sums,
)
from trimodal_train.diffusion import MODALITY_NAMES, DiffusionConfig


@dataclasses.dataclass(frozen=True)
class ValidationRows:
    """The held-out rows every run is evaluated on, with a content key for the cache."""

    rows: EvalRows
    key: str


def validation_rows(val: dict[str, Path], *, seq_len: int, pad_id: int, max_examples: int) -> ValidationRows:
    """Up to ``max_examples`` held-out examples of each component, packed/padded into rows of ``seq_len``."""
    examples = []
    for manifest in val.values():
        examples.extend(read_examples(manifest, max_examples=max_examples))
    rows = build_rows(examples, seq_len=seq_len, pad_id=pad_id, max_text_rows=max_examples)
    if rows.num_rows == 0:
        raise ValueError(f"validation: no held-out rows in {', '.join(map(str, val.values()))}")
    digest = hashlib.sha256(np.ascontiguousarray(rows.tokens_BL.numpy()).tobytes())
    digest.update(str(seq_len).encode())
    return ValidationRows(rows=rows, key=digest.hexdigest()[:16])


def _diffusion(train_config: dict[str, Any]) -> DiffusionConfig:
    from trimodal_train.config_io import from_dict

    return from_dict(DiffusionConfig, dict(train_config.get("diffusion", {})), where="diffusion")


def _estimate(model: Any, rows: EvalRows, diffusion: DiffusionConfig, space: Any, config: ElboConfig,
              device: str) -> tuple[dict[str, Any], RowSums]:
    import torch

    with torch.no_grad():
        sums = row_sums(model, rows, diffusion=diffusion, token_space=space, config=config, device=device)
    total = ratio_estimate(sums.nll_RM.sum(1), sums.n_RM.sum(1), config, salt="all")
    out: dict[str, Any] = {"nelbo": total.value, "nelbo_ci": [total.low, total.high]}
    for m, name in enumerate(MODALITY_NAMES):
        if sums.n_RM[:, m].sum() > 0:
            out[f"nelbo_{name}"] = float(sums.nll_RM[:, m].sum() / sums.n_RM[:, m].sum())
    return out, sums


def final_row_sums(run_dir: Path) -> RowSums:
    """The final model's per-row sums saved by :func:`validation_curve`."""
    path = run_dir / "eval" / "validation_rows.npz"
    if not path.is_file():
        raise ValueError(f"{path}: missing (run validation_curve first)")
    with np.load(path) as data:
        return RowSums(nll_RM=data["nll_RM"], n_RM=data["n_RM"])


def validation_curve(run_dir: Path, rows: ValidationRows, *, config: ElboConfig, device: str = "cpu",
                     force: bool = False) -> list[dict[str, Any]]:
    """``[{"step", "tokens", "nelbo", "nelbo_text", ...}]`` for every complete checkpoint and the final model."""
    import torch.distributed.checkpoint as dcp

    from trimodal_train.checkpoint import complete_checkpoints
    from trimodal_train.model_export import load_model

    cache = run_dir / "eval" / "validation.json"
    key = {"rows": rows.key, "estimate": dataclasses.asdict(config)}
    found = complete_checkpoints(run_dir / "checkpoints")
    if cache.is_file() and not force:
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if (saved.get("key") == key and saved.get("checkpoints") == [s for s, _ in found]
                and (run_dir / "eval" / "validation_rows.npz").is_file()):
            return list(saved["curve"])
    loaded = load_model(run_dir, device=device)
    final_state = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    diffusion = _diffusion(loaded.train_config)
    data = loaded.train_config.get("data", {})
    slots = int(data.get("global_batch_size", 1)) * int(data.get("seq_len", 1))
    curve = []
    for step, folder in found:
        if step >= loaded.step:
            continue
        state = {"model": {k: v.clone() for k, v in final_state.items()}}
        dcp.load(state, checkpoint_id=str(folder), no_dist=True)
        loaded.model.load_state_dict(state["model"])
        values, _ = _estimate(loaded.model, rows.rows, diffusion, loaded.token_space, config, device)
        curve.append({"step": step, "tokens": step * slots, **values})
    loaded.model.load_state_dict(final_state)
    values, sums = _estimate(loaded.model, rows.rows, diffusion, loaded.token_space, config, device)
    curve.append({"step": loaded.step, "tokens": loaded.step * slots, **values})
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(run_dir / "eval" / "validation_rows.npz", nll_RM=sums.nll_RM, n_RM=sums.n_RM)
    atomic_write_text(cache, json.dumps({"key": key, "checkpoints": [s for s, _ in found], "curve": curve},
                                        indent=1) + "\n")
    return curve
