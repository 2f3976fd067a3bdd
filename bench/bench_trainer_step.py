"""Benchmark the trainer's optimizer step against a bare forward/backward/AdamW loop, in one run.

    uv run python bench/bench_trainer_step.py                       # small model, L = 256, B = 8, 40 steps
    uv run python bench/bench_trainer_step.py --model tiny --steps 20   # quick check

Both run in one process on the same model shape and the same batches, *interleaved step by step*: ``train()``
runs the real loop (loader, global-batch time sampling, corruption, forward, fp32 per-modality loss, backward,
clipping, AdamW with the CompleteP groups, LR schedule, metrics), and its ``on_step`` hook runs one bare step
(forward on the same corrupted batch, masked cross-entropy, backward, ``AdamW(model.parameters())``) on a twin
model. The trainer's step time is the time between hooks, so each trainer step is paired with a bare step taken
right after it under the same machine load. The bare step uses the trainer's readout (``--readout``, default
``masked``: logits at masked positions over their modality's ids); with ``masked`` a second twin also takes a
dense-readout bare step (full ``[B, L, V]`` logits), for the readout's speed-up. Reported: median wall time and
median CPU time (this process, all threads) per step, the overhead ratio (goal <= 5% on CPU), the loader's share
of the trainer's step (``next(loader)``), and the objective's own CPU cost (time sampling + ``corrupt`` per
step, measured on its own). Data: the trainer tests' tiny tri-modal mixture built from the committed demo data
(``--mixture`` to use another), so sequence shapes are those of real packed text and padded pairs.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import tyro

from trimodal_train.checkpoint import CheckpointConfig
from trimodal_train.configs import tiny
from trimodal_train.data import build_loader
from trimodal_train.diffusion import corrupt, sample_times, selected_loss_sums
from trimodal_train.model import MODEL_PRESETS, build_model
from trimodal_train.trainer import resolve_token_space, train

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True, kw_only=True)
class BenchConfig:
    """Trainer step vs bare loop."""

    model: str = "small"
    """Model preset (``MODEL_PRESETS``)."""
    seq_len: int = 256
    batch: int = 8
    """Rows per step (one process, one micro-batch)."""
    steps: int = 40
    """Measured steps (after ``warmup``)."""
    warmup: int = 5
    threads: int = 1
    """torch intra-op threads (1: the robust setting on a shared 2-core machine)."""
    mixture: Path | None = None
    """Mixture manifest (default: build the trainer tests' tiny demo mixture in a temp folder)."""
    readout: str = "masked"
    """``RunConfig.readout`` of the trainer and the bare loop (``masked`` also times a dense bare step)."""


def _tiny_mixture(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location("trainer_conftest", ROOT / "tests/train/conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["trainer_conftest"] = module
    spec.loader.exec_module(module)

    class Factory:
        def mktemp(self, name: str) -> Path:
            path = root / name
            path.mkdir()
            return path

    return module.tiny_mixture.__wrapped__(Factory()).path


def _cpu() -> float:
    return time.process_time()


def main(cfg: BenchConfig) -> None:
    torch.set_num_threads(cfg.threads)
    os.environ.setdefault("TRIMODAL_NO_PROGRESS", "1")
    tmp = Path(tempfile.mkdtemp(prefix="bench_trainer_"))
    mixture = cfg.mixture or _tiny_mixture(tmp)
    base = tiny()
    total = cfg.warmup + cfg.steps
    config = dataclasses.replace(
        base, model=MODEL_PRESETS[cfg.model],
        data=dataclasses.replace(base.data, mixture=mixture, seq_len=cfg.seq_len, global_batch_size=cfg.batch),
        checkpoint=CheckpointConfig(interval=0, save_final=False, export_model=False),
        run=dataclasses.replace(base.run, run_dir=tmp / "run", steps=total, log_interval=10, progress=False,
                                log_level="WARNING", readout=cfg.readout),
    )
    space = resolve_token_space(config)
    loader = build_loader(mixture, config.data.loader_config(seed=0, rank=0, world_size=1, rows_per_step=cfg.batch))
    batches = [b for _, b in zip(range(total), loader, strict=False)]
    loader.close()
    corrupted = []
    t0 = _cpu()
    for step, batch in enumerate(batches):
        t_GM = sample_times(config.diffusion, seed=0, step=step, num_rows=cfg.batch)
        corrupted.append(corrupt(batch, config=config.diffusion, token_space=space, seed=0, step=step,
                                 num_global_rows=cfg.batch, t_BM=t_GM))
    objective_cpu = (_cpu() - t0) / total
    def twin() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        model = build_model(config.model, space, maskable_specials=config.diffusion.maskable_specials)
        return model, torch.optim.AdamW(model.parameters(), lr=1e-3)

    bare = twin()
    dense = twin() if cfg.readout == "masked" else None

    def bare_step(i: int, model: torch.nn.Module, opt: torch.optim.Optimizer, readout: str) -> None:
        c, b = corrupted[i], batches[i]
        kwargs = {"document_ids_BL": b.document_ids_BL, "span_modality_BL": c.span_modality_BL}
        if readout == "masked":
            loss = selected_loss_sums(model(c.inputs_BL, select_BL=c.masked_BL, **kwargs), c).nll_sum_M.sum()
            loss = loss / c.masked_BL.sum()
        else:
            logits = model(c.inputs_BL, **kwargs)
            loss = F.cross_entropy(logits[c.masked_BL], c.targets_BL[c.masked_BL])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    rows: list[dict[str, float]] = []
    mark: dict[str, float] = {}

    def on_step(step: int, record: dict[str, Any]) -> None:
        wall, cpu = time.perf_counter(), _cpu()
        row = {"trainer_wall": wall - mark["wall"], "trainer_cpu": cpu - mark["cpu"],
               "data_wall": record["data_time_s"]} if mark else {}
        w0, c0 = time.perf_counter(), _cpu()
        bare_step(step, *bare, cfg.readout)
        w1, c1 = time.perf_counter(), _cpu()
        if dense is not None:
            bare_step(step, *dense, "dense")
        w2, c2 = time.perf_counter(), _cpu()
        if row and step >= cfg.warmup:
            rows.append({**row, "bare_wall": w1 - w0, "bare_cpu": c1 - c0, "dense_wall": w2 - w1,
                         "dense_cpu": c2 - c1})
        mark["wall"], mark["cpu"] = time.perf_counter(), _cpu()

    train(config, on_step=on_step)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"host {platform.node()} ({os.cpu_count()} cores), torch {torch.__version__}, threads {cfg.threads}, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"model {cfg.model}, L={cfg.seq_len}, B={cfg.batch}, {len(rows)} measured steps (after {cfg.warmup})")
    for kind in ("wall", "cpu"):
        t, b = med(f"trainer_{kind}"), med(f"bare_{kind}")
        ratios = sorted(r[f"trainer_{kind}"] / r[f"bare_{kind}"] for r in rows)
        print(f"{kind:4s}  trainer {t * 1e3:8.1f} ms  bare {b * 1e3:8.1f} ms  overhead {t / b - 1:+6.1%}  "
              f"(median of paired ratios {statistics.median(ratios) - 1:+6.1%})")
    if dense is not None:
        print(f"readout: dense bare step {med('dense_wall') * 1e3:.1f} ms wall / {med('dense_cpu') * 1e3:.1f} ms CPU; "
              f"masked readout {med('dense_wall') / med('bare_wall'):.2f}x faster (wall), "
              f"{med('dense_cpu') / med('bare_cpu'):.2f}x (CPU)")
    print(f"loader share of the trainer step (wall): {med('data_wall') / med('trainer_wall'):.2%} "
          f"({med('data_wall') * 1e3:.2f} ms)")
    print(f"objective (time sampling + corrupt) CPU per step: {objective_cpu * 1e3:.2f} ms "
          f"({objective_cpu / med('trainer_cpu'):.1%} of the trainer step)")


if __name__ == "__main__":
    main(tyro.cli(BenchConfig))
