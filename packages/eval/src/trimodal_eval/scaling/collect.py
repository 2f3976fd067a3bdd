"""Collect final metrics from a sweep's run folders into points for scaling fits and batch-size plots.

A run folder is what ``trimodal-train run`` writes (``config.json``, ``metrics.jsonl``, ``model/``). The loss
of a run, per modality, is the validation NELBO per token from ``eval/elbo.json`` (``trimodal-eval elbo``)
when present; otherwise the mean training NELBO over the last ``tail`` logged steps, and the point says
``source="train"`` so a report never passes training loss off as validation loss.

``N`` is the non-embedding parameter count (from ``model/model_config.json`` and the token space, by
:func:`trimodal_train.model.presets.count_parameters`); ``D`` the tokens seen (the last metrics line's
``tokens``, which counts every position of every row, padding included, as the horizon does).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MODALITIES = ("text", "image", "audio")


@dataclasses.dataclass(frozen=True)
class RunPoint:
    """One finished run: its size, tokens, batch and final loss per modality."""

    run_dir: Path
    name: str
    parameters: int
    """Non-embedding parameters."""
    embedding_parameters: int
    tokens: float
    batch_size: int
    """Physical global batch (rows per optimizer step)."""
    loss: dict[str, float]
    """NELBO per token per modality (validation when ``source == 'val'``)."""
    source: str
    """``val`` (eval/elbo.json) or ``train`` (tail of metrics.jsonl)."""
    config: dict[str, Any]


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a metrics file; a torn last line (killed run) is ignored, other bad lines raise."""
    records: list[dict[str, Any]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if number == len(lines):
                break
            raise ValueError(f"{path}:{number}: not a JSON line ({exc})") from None
    return records


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path} not found: is {path.parent} a trimodal-train run folder?") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _parameters(run_dir: Path) -> tuple[int, int]:
    from trimodal_core import TokenSpace
    from trimodal_train.config_io import from_dict
    from trimodal_train.model.config import ModelConfig
    from trimodal_train.model.presets import count_parameters

    model_dir = run_dir / "model"
    model_config = from_dict(ModelConfig, _load_json(model_dir / "model_config.json"))
    vocab = TokenSpace.load(model_dir / "token_space.json").vocab_size
    count = count_parameters(model_config, vocab)
    return int(count.non_embedding), int(count.embedding)


def _loss(run_dir: Path, records: list[dict[str, Any]], tail: int) -> tuple[dict[str, float], str]:
    elbo_path = run_dir / "eval" / "elbo.json"
    if elbo_path.is_file():
        data = _load_json(elbo_path)
        per = data.get("modalities", {})
        loss = {m: float(per[m]["nelbo"]) for m in MODALITIES if m in per and per[m].get("nelbo") is not None}
        return loss, "val"
    loss = {}
    for modality in MODALITIES:
        values = [r[f"nelbo_{modality}"] for r in records if isinstance(r.get(f"nelbo_{modality}"), int | float)]
        values = [v for v in values[-tail:] if math.isfinite(v)]
        if values:
            loss[modality] = float(sum(values) / len(values))
    return loss, "train"


def collect_run(run_dir: str | Path, *, tail: int = 5) -> RunPoint:
    """Read one finished run folder (see the module docstring)."""
    folder = Path(run_dir)
    config = _load_json(folder / "config.json")
    metrics_path = folder / "metrics.jsonl"
    if not metrics_path.is_file():
        raise ValueError(f"{metrics_path} not found: the run logged no step")
    records = read_metrics(metrics_path)
    if not records:
        raise ValueError(f"{metrics_path}: no metrics logged")
    parameters, embedding = _parameters(folder)
    loss, source = _loss(folder, records, tail)
    tokens = float(records[-1].get("tokens") or 0)
    if tokens <= 0:
        raise ValueError(f"{metrics_path}: the last line has no positive 'tokens' count")
    batch = int(config.get("data", {}).get("global_batch_size", 0))
    return RunPoint(run_dir=folder, name=folder.name, parameters=parameters, embedding_parameters=embedding,
                    tokens=tokens, batch_size=batch, loss=loss, source=source, config=config)


def collect_runs(run_dirs: Iterable[str | Path], *, tail: int = 5) -> list[RunPoint]:
    """Every run folder in ``run_dirs``, in the given order; a folder that is not a finished run raises."""
    return [collect_run(path, tail=tail) for path in run_dirs]
