"""Distributed checkpoints: atomic DCP saves, retention, and finding the latest complete one to resume from.

Layout of ``<run_dir>/checkpoints/step_XXXXXXXX/`` (``XXXXXXXX``: optimizer steps taken):

* ``.metadata``, ``*.distcp``: ``torch.distributed.checkpoint`` (DCP) of ``{"model", "optim"}`` from
  ``get_state_dict`` (fully qualified names, no DDP/compile prefixes; FSDP2 shards written by their owners),
  so the same checkpoint loads on any world size and under DDP or FSDP2;
* ``scheduler.pt``: the LR scheduler's state; ``rng/rank_XXXXX.pt``: every rank's torch (CPU and CUDA), numpy
  and Python RNG states (the diffusion samplers are pure functions of ``(seed, step, global row)`` and need no
  state);
* JSON files given by the trainer (``loader.json``: the loader position, the same on every rank;
  ``trainer_state.json``; ``train_config.json``);
* ``COMPLETE``: written last.

Atomicity: everything is written into ``checkpoints/.tmp_step_XXXXXXXX/`` (all ranks, then a barrier), rank 0
fsyncs its files, writes ``COMPLETE`` and renames the folder to its final name. A folder counts as a
checkpoint only with its final name *and* ``COMPLETE``, so a job killed at any point (even mid-save) leaves
the previous checkpoint as the latest; stale temp folders are removed at the next save or resume. Deletion
removes ``COMPLETE`` first. Retention keeps the last ``keep_last`` checkpoints plus every one whose step is a
multiple of ``permanent_interval``.

:func:`load_model` (consolidated weights for evaluation) lives in :mod:`trimodal_train.model_export` and is
re-exported here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import random
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

from trimodal_train.distributed import DistContext, barrier
from trimodal_train.model_export import LoadedModel, export_model, load_model

log = logging.getLogger(__name__)
CHECKPOINTS = "checkpoints"
COMPLETE = "COMPLETE"
_NAME = re.compile(r"^step_(\d{8,})$")

__all__ = [
    "CheckpointConfig", "LoadedModel", "checkpoint_dir", "complete_checkpoints", "export_model",
    "latest_checkpoint", "load_checkpoint", "load_model", "prune_checkpoints", "save_checkpoint",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckpointConfig:
    """When checkpoints are written, how many are kept, and whether a run resumes."""

    interval: int = 1000
    """Save every this many optimizer steps (0: only at the end and on a preemption request)."""
    keep_last: int = 3
    """Complete checkpoints kept (the newest ones), besides the permanent ones."""
    permanent_interval: int | None = None
    """Also keep, forever, every checkpoint whose step is a multiple of this (None: none)."""
    save_final: bool = True
    """Save a checkpoint after the last step."""
    resume: bool = True
    """Continue from the latest complete checkpoint in the run's ``checkpoints/`` when there is one."""
    export_model: bool = True
    """Write the consolidated ``model/`` (safetensors + configs, for eval) with every checkpoint."""

    def __post_init__(self) -> None:
        if self.interval < 0:
            raise ValueError(f"CheckpointConfig.interval must be >= 0, got {self.interval}")
        if self.keep_last < 1:
            raise ValueError(f"CheckpointConfig.keep_last must be >= 1, got {self.keep_last}")
        if self.permanent_interval is not None and self.permanent_interval < 1:
            raise ValueError(f"CheckpointConfig.permanent_interval must be >= 1, got {self.permanent_interval}")


def checkpoint_dir(root: Path, step: int) -> Path:
    return root / f"step_{step:08d}"


def complete_checkpoints(root: Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of every complete checkpoint under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _NAME.match(child.name)
        if match and (child / COMPLETE).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint under ``root`` (None when there is none)."""
    found = complete_checkpoints(root)
    return found[-1][1] if found else None


# ------------------------------------------------------------------------------------------------ RNG
def rng_state() -> dict[str, Any]:
    """This process's RNG states, in types ``torch.load(weights_only=True)`` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------------ save
@contextlib.contextmanager
def _quiet_single_process() -> Iterator[None]:
    """DCP warns on every call without a process group that it assumes a single process: so do we."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, allow_nan=True), encoding="utf-8")
    _fsync(path)


def _remove(folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (folder / COMPLETE).unlink()  # never complete, even if the rest of the deletion is interrupted
    shutil.rmtree(folder, ignore_errors=True)


def remove_stale(root: Path) -> None:
    """Delete temp folders of interrupted saves (rank 0 only, before anything new is written)."""
    if root.is_dir():
        for child in root.iterdir():
            if child.name.startswith(".tmp_step_"):
                log.info("removing the interrupted checkpoint save %s", child)
                shutil.rmtree(child, ignore_errors=True)


def _publish(tmp: Path, final: Path, step: int, world_size: int) -> None:
    """Rank 0: mark ``tmp`` complete and give it its final name (the commit point of a save)."""
    _write_json(tmp / COMPLETE, {"step": step, "world_size": world_size})
    _fsync(tmp)
    if final.exists():
        _remove(final)
    os.rename(tmp, final)
    _fsync(final.parent)


def save_checkpoint(
    root: Path,
    step: int,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    json_files: dict[str, Any],
    ctx: DistContext,
) -> Path:
    """Collective: write the checkpoint of ``step`` atomically (module docstring); returns its folder."""
    final = checkpoint_dir(root, step)
    tmp = root / f".tmp_{final.name}"
    if ctx.is_main:
        root.mkdir(parents=True, exist_ok=True)
        remove_stale(root)
        tmp.mkdir()
        (tmp / "rng").mkdir()
    barrier(ctx)
    model_sd, optim_sd = get_state_dict(model, optimizer)
    with _quiet_single_process():
        dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(tmp), no_dist=not ctx.distributed)
    rng_path = tmp / "rng" / f"rank_{ctx.rank:05d}.pt"
    torch.save(rng_state(), rng_path)
    _fsync(rng_path)
    barrier(ctx)
    if ctx.is_main:
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        _fsync(tmp / "scheduler.pt")
        for name, data in json_files.items():
            _write_json(tmp / name, data)
        _publish(tmp, final, step, ctx.world_size)
    barrier(ctx)
    return final


def prune_checkpoints(root: Path, *, keep_last: int, permanent_interval: int | None) -> list[Path]:
    """Rank 0: delete complete checkpoints beyond the last ``keep_last`` that are not permanent."""
    found = complete_checkpoints(root)
    removed = []
    for step, folder in found[:-keep_last] if keep_last else found:
        if permanent_interval and step % permanent_interval == 0:
            continue
        _remove(folder)
        removed.append(folder)
    return removed


# ------------------------------------------------------------------------------------------------ load
def read_json(folder: Path, name: str) -> Any:
    path = folder / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"checkpoint {folder}: {name} is missing") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"checkpoint {folder}: {name} is not valid JSON ({exc})") from None


def load_checkpoint(
    folder: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    ctx: DistContext,
) -> None:
    """Collective: load model, optimizer, scheduler and this rank's RNG states from ``folder``.

    On another world size a rank without its own RNG file keeps its current (seeded) RNG state; the
    training math does not depend on it (the objective's randomness is stateless).
    """
    if not (folder / COMPLETE).is_file():
        raise ValueError(f"checkpoint {folder} is not complete (no {COMPLETE} marker)")
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optim": optim_sd}
    with _quiet_single_process():
        dcp.load(state, checkpoint_id=str(folder), no_dist=not ctx.distributed)
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
    saved_world = int(read_json(folder, COMPLETE)["world_size"])
    rng_path = folder / "rng" / f"rank_{ctx.rank:05d}.pt"
    if saved_world == ctx.world_size and rng_path.is_file():
        set_rng_state(torch.load(rng_path, weights_only=True))
    else:
        log.info("checkpoint %s was written by %d ranks, this run has %d: RNG states not restored",
                 folder, saved_world, ctx.world_size)
