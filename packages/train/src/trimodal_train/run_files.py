"""The run folder's provenance files and the resume compatibility check.

Before step 0, rank 0 writes ``config.json`` (the resolved :class:`TrainConfig` plus what was derived from it:
world size, steps, gradient accumulation, the resolved optimizer, the token-space fingerprint),
``versions.json`` (Python, torch, numpy and the trimodal packages) and ``token_space.json``.

Resuming. A checkpoint stores the config that wrote it (``train_config.json``). A run resumes from it only if
every field matches except those that do not change the training math (:data:`RESUMABLE_CHANGES`: where the
run lives and reports, checkpoint cadence, loader worker counts, device, compile, the readout, the micro-batch
size);
any other difference is a ``ValueError`` naming the fields (a checkpoint from another config).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from trimodal_core import TokenSpace, package_versions
from trimodal_train.config import TrainConfig
from trimodal_train.config_io import differences, to_dict

RESUMABLE_CHANGES: tuple[str, ...] = (
    "run.run_dir", "run.device", "run.compile", "run.readout", "run.cpu_threads", "run.parallelism",
    "run.log_interval", "run.tensorboard", "run.progress", "run.peak_flops", "run.log_level", "run.spike_window",
    "run.spike_sigma", "run.nan_policy", "run.max_nonfinite_steps", "checkpoint", "data.mixture", "data.token_space",
    "data.micro_batch_size", "data.num_workers", "data.worker_method", "data.prefetch", "data.check_sha256",
)
"""Dotted config keys (or prefixes) that may differ between a checkpoint and the run resuming from it."""

PACKAGES = ("torch", "numpy", "pyarrow", "torchdata", "safetensors", "trimodal-core", "trimodal-train",
            "trimodal-tokenizers", "trimodal-data", "trimodal-eval")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, allow_nan=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_run_files(run_dir: Path, config: TrainConfig, token_space: TokenSpace, derived: dict[str, Any]) -> None:
    """``config.json``, ``versions.json`` and ``token_space.json`` (rank 0, before step 0)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / "config.json", {**to_dict(config), "derived": derived})
    versions = {"python": platform.python_version(), **package_versions(*PACKAGES)}
    _write_json(run_dir / "versions.json", versions)
    token_space.save(run_dir / "token_space.json")


def _allowed(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in RESUMABLE_CHANGES)


def check_resumable(saved: dict[str, Any], config: TrainConfig, *, source: Path) -> None:
    """``ValueError`` when the checkpoint at ``source`` was written by a config that differs from ``config``."""
    ours = to_dict(config)
    theirs = {k: v for k, v in saved.items() if k != "derived"}
    bad = [(k, a, b) for k, a, b in differences(theirs, ours) if not _allowed(k)]
    if bad:
        shown = "; ".join(f"{k}: {a!r} in the checkpoint, {b!r} now" for k, a, b in bad[:4])
        more = f" (and {len(bad) - 4} more)" if len(bad) > 4 else ""
        raise ValueError(f"checkpoint {source} was written by another config: {shown}{more}; "
                         "resume with the same config or train in another run.run_dir")
