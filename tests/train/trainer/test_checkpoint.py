"""Checkpoint folders: atomic publish, what counts as complete, retention, RNG states, state round trip."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from trimodal_train.checkpoint import (
    complete_checkpoints,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from trimodal_train.distributed import DistContext
from trimodal_train.lr_schedule import LRScheduleConfig, build_lr_scheduler

CTX = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"), backend=None)


def _state(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer, object]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = build_lr_scheduler(opt, LRScheduleConfig(warmup_steps=2), 10)
    return model, opt, sched


def _train_steps(model: torch.nn.Module, opt: torch.optim.Optimizer, sched: object, n: int) -> None:
    for _ in range(n):
        model(torch.randn(3, 4)).square().sum().backward()
        opt.step()
        opt.zero_grad()
        sched.step()  # type: ignore[attr-defined]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model, opt, sched = _state(0)
    _train_steps(model, opt, sched, 3)
    folder = save_checkpoint(tmp_path, 3, model=model, optimizer=opt, scheduler=sched,
                             json_files={"extra.json": {"a": 1}}, ctx=CTX)
    assert folder.name == "step_00000003" and (folder / "COMPLETE").is_file() and (folder / "extra.json").is_file()
    after_save = torch.rand(3)
    model2, opt2, sched2 = _state(1)
    load_checkpoint(folder, model=model2, optimizer=opt2, scheduler=sched2, ctx=CTX)
    assert torch.equal(torch.rand(3), after_save)  # RNG restored to the moment of the save
    for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    torch.manual_seed(5)
    _train_steps(model, opt, sched, 2)
    torch.manual_seed(5)
    _train_steps(model2, opt2, sched2, 2)
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(a, b)  # optimizer moments and scheduler position came back too
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_only_published_folders_count(tmp_path: Path) -> None:
    model, opt, sched = _state(0)
    for step in (2, 4):
        save_checkpoint(tmp_path, step, model=model, optimizer=opt, scheduler=sched, json_files={}, ctx=CTX)
    torn = tmp_path / ".tmp_step_00000006"
    shutil.copytree(tmp_path / "step_00000004", torn)  # a save killed before its rename
    (torn / "COMPLETE").unlink()
    unmarked = tmp_path / "step_00000008"
    shutil.copytree(tmp_path / "step_00000004", unmarked)  # renamed by hand, never marked
    (unmarked / "COMPLETE").unlink()
    assert [s for s, _ in complete_checkpoints(tmp_path)] == [2, 4]
    assert latest_checkpoint(tmp_path) == tmp_path / "step_00000004"
    save_checkpoint(tmp_path, 6, model=model, optimizer=opt, scheduler=sched, json_files={}, ctx=CTX)
    assert latest_checkpoint(tmp_path) == tmp_path / "step_00000006" and (torn.parent / "step_00000006").exists()
    assert not torn.exists()
    with pytest.raises(ValueError, match="not complete"):
        load_checkpoint(unmarked, model=model, optimizer=opt, scheduler=sched, ctx=CTX)


def test_retention_keeps_the_last_k_and_the_permanent_ones(tmp_path: Path) -> None:
    model, opt, sched = _state(0)
    for step in range(1, 11):
        save_checkpoint(tmp_path, step, model=model, optimizer=opt, scheduler=sched, json_files={}, ctx=CTX)
        prune_checkpoints(tmp_path, keep_last=2, permanent_interval=4)
    assert [s for s, _ in complete_checkpoints(tmp_path)] == [4, 8, 9, 10]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"step_{s:08d}" for s in (4, 8, 9, 10)]


def test_rng_state_round_trip() -> None:
    state = rng_state()
    draws = (torch.rand(2), np.random.rand(2), random.random())
    set_rng_state(state)
    again = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(draws[0], again[0]) and np.array_equal(draws[1], again[1]) and draws[2] == again[2]
