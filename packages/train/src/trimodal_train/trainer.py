"""``train(config) -> TrainResult``: the single training entry (CLI, torchrun, submitit).

Order of work: distributed init, config checks, the token space (the mixture's, checked against
``data.token_space`` and any checkpoint's), the run files (``config.json``, ``versions.json``,
``token_space.json``), loader, model (seeded init, identical on every rank), DDP/FSDP2 wrapping, optional
``torch.compile``, AdamW (SDE-transferred or as given) with the LR schedule, then resume from the latest
complete checkpoint in ``run_dir/checkpoints`` (config compatibility checked: a different config is a
``ValueError`` before step 0). Every user error is raised before step 0.

Each step (:func:`trimodal_train.step.train_step`) is followed by gradient clipping, a non-finite check (loss
or gradient norm; ``skip``: no update, counted; ``stop``: ``FloatingPointError``), the optimizer and
scheduler steps, metrics (JSONL every ``log_interval`` steps, loss-spike check every step) and, at checkpoint
steps or when a preemption request is agreed by all ranks (:mod:`trimodal_train.preemption`), a collective
checkpoint. A preempted run returns ``TrainResult(preempted=True)`` right after its checkpoint; the launcher
requeues it and the next ``train`` call resumes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from trimodal_core import MixtureManifest, TokenSpace, derive_seed, process_rank, progress, setup_logging
from trimodal_train import preemption
from trimodal_train.checkpoint import (
    CHECKPOINTS,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    read_json,
    remove_stale,
    save_checkpoint,
)
from trimodal_train.config import TrainConfig
from trimodal_train.config_io import to_dict
from trimodal_train.data import build_loader
from trimodal_train.diffusion import nelbo_metrics
from trimodal_train.distributed import (
    DistContext,
    barrier,
    init_distributed,
    shutdown_distributed,
    wrap_model,
)
from trimodal_train.lr_schedule import build_lr_scheduler
from trimodal_train.metrics import MetricsWriter, SpikeDetector, peak_flops
from trimodal_train.model.flops import flops_per_step
from trimodal_train.model.transformer import build_model
from trimodal_train.model_export import MODEL_DIR, export_model
from trimodal_train.optim import build_optimizer, clip_gradients, log_resolved, resolve_optim
from trimodal_train.run_files import check_resumable, write_run_files
from trimodal_train.step import train_step

log = logging.getLogger(__name__)
TRAINER_STATE_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What a finished (or preempted) run left behind."""

    run_dir: Path
    final_step: int
    """Optimizer steps taken in total (including those of earlier, resumed-from attempts)."""
    metrics_path: Path
    preempted: bool = False
    """True when the run stopped early at a preemption request (after writing a checkpoint)."""
    nonfinite_steps: int = 0
    """Steps skipped for a non-finite loss or gradient norm."""
    resumed_from: Path | None = None
    """The checkpoint this call started from (None: a fresh run)."""


StepHook = Callable[[int, dict[str, Any]], None]


def resolve_token_space(config: TrainConfig) -> TokenSpace:
    """The mixture's token space, checked against ``data.token_space`` (``ValueError`` naming the files)."""
    assert config.data.mixture is not None
    mixture = MixtureManifest.load(config.data.mixture)
    corpora = mixture.load_components()
    space = next(iter(corpora.values())).load_token_space()
    fingerprint = mixture.token_space_fingerprint or space.fingerprint
    if space.fingerprint != fingerprint:
        raise ValueError(f"{config.data.mixture}: token-space fingerprint {fingerprint} differs from its first "
                         f"corpus's {space.fingerprint}")
    if config.data.token_space is not None:
        model_space = TokenSpace.load(config.data.token_space)
        if model_space.fingerprint != fingerprint:
            raise ValueError(
                f"mixture {config.data.mixture} has token-space fingerprint {fingerprint}, but the model's token "
                f"space {config.data.token_space} (data.token_space) has {model_space.fingerprint}"
            )
    return space


def _autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    precision = config.run.precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    return torch.bfloat16 if precision == "bf16" else None


def _preflight_resume(config: TrainConfig, token_space: TokenSpace, ctx: DistContext) -> Path | None:
    """The checkpoint to resume from, after the compatibility checks (``ValueError`` otherwise)."""
    root = config.run.run_dir / CHECKPOINTS
    latest = latest_checkpoint(root)
    if latest is None:
        return None
    if not config.checkpoint.resume:
        raise ValueError(f"{root} holds checkpoints but checkpoint.resume is false: use another run.run_dir")
    check_resumable(read_json(latest, "train_config.json"), config, source=latest)
    saved_space = TokenSpace.load(latest / "token_space.json")
    if saved_space.fingerprint != token_space.fingerprint:
        raise ValueError(f"checkpoint {latest} was trained on token space {saved_space.fingerprint}, the mixture "
                         f"{config.data.mixture} has {token_space.fingerprint}")
    return latest


def train(config: TrainConfig, *, on_step: StepHook | None = None) -> TrainResult:
    """Train (or resume) the run described by ``config``; see the module docstring."""
    _configure_logging(config.run.log_level)
    threads = torch.get_num_threads()
    if config.run.cpu_threads is not None:
        torch.set_num_threads(config.run.cpu_threads)
    ctx = init_distributed(config.run.device)
    owns_group = ctx.distributed
    try:
        return _train(config, ctx, on_step)
    finally:
        if owns_group:
            shutdown_distributed(ctx)
        torch.set_num_threads(threads)


def _configure_logging(level: str) -> None:
    """The root logger's format (only if nobody configured logging yet: the CLI, a launcher or pytest may have)
    and ``run.log_level`` for the trainer's loggers, warnings only on ranks other than 0."""
    if not logging.getLogger().handlers:
        setup_logging(level)
    resolved = logging.getLevelName(level.upper())
    if not isinstance(resolved, int):
        raise ValueError(f"run.log_level: unknown level {level!r}")
    logging.getLogger("trimodal_train").setLevel(resolved if process_rank() == 0 else max(resolved, logging.WARNING))


def _train(config: TrainConfig, ctx: DistContext, on_step: StepHook | None) -> TrainResult:
    config.check(world_size=ctx.world_size)
    run_dir = config.run.run_dir
    token_space = resolve_token_space(config)
    resume_from = _preflight_resume(config, token_space, ctx)
    total_steps = config.total_steps
    grad_accum = config.grad_accum(ctx.world_size)
    B, L = config.data.global_batch_size, config.data.seq_len
    resolved = resolve_optim(config.optim, batch_size=B, seq_len=L, total_steps=total_steps, grad_accum=grad_accum)
    derived = {"world_size": ctx.world_size, "total_steps": total_steps, "grad_accum": grad_accum,
               "optimizer": resolved.as_dict(), "token_space_fingerprint": token_space.fingerprint}
    config_dict = to_dict(config)
    if ctx.is_main:
        write_run_files(run_dir, config, token_space, derived)
        log_resolved(resolved)
        if resume_from is None:
            remove_stale(run_dir / CHECKPOINTS)

    rows_per_step = B // 2 if config.diffusion.anti_masking else B
    loader = build_loader(config.data.mixture, config.data.loader_config(  # type: ignore[arg-type]
        seed=config.run.seed, rank=ctx.rank, world_size=ctx.world_size, rows_per_step=rows_per_step))
    torch.manual_seed(derive_seed(config.run.seed, "trainer", "model_init"))
    model = build_model(config.model, token_space, maskable_specials=config.diffusion.maskable_specials)
    model.to(ctx.device)
    wrapped = wrap_model(model, ctx, config.run.parallelism)
    optimizer = build_optimizer(model, resolved, foreach=config.optim.foreach)
    scheduler = build_lr_scheduler(optimizer, config.optim.schedule, total_steps)
    forward = torch.compile(wrapped) if config.run.compile else wrapped

    spikes = SpikeDetector(window=config.run.spike_window, k=config.run.spike_sigma)
    state: dict[str, Any] = {"format": TRAINER_STATE_FORMAT, "step": 0, "tokens": 0, "data_tokens": 0,
                             "nonfinite_steps": 0}
    if resume_from is not None:
        load_checkpoint(resume_from, model=wrapped, optimizer=optimizer, scheduler=scheduler, ctx=ctx)
        loader.load_state_dict(read_json(resume_from, "loader.json"))
        saved = read_json(resume_from, "trainer_state.json")
        spikes.load_state_dict(saved.pop("spikes"))
        state.update(saved)
        log.info("resumed from %s at step %d", resume_from, state["step"])
    start = int(state["step"])
    if loader.step != start:
        raise ValueError(f"checkpoint {resume_from}: loader is at step {loader.step}, the trainer at {start}")

    writer = MetricsWriter(run_dir, enabled=ctx.is_main, tensorboard=config.run.tensorboard)
    autocast_dtype = _autocast_dtype(config, ctx.device)
    flops = flops_per_step(config.model, token_space.vocab_size, L, B)
    peak = config.run.peak_flops or peak_flops(ctx.device)
    ckpt = config.checkpoint

    def save(step: int) -> Path:
        path = save_checkpoint(
            run_dir / CHECKPOINTS, step, model=wrapped, optimizer=optimizer, scheduler=scheduler, ctx=ctx,
            json_files={"loader.json": loader.state_dict(), "train_config.json": config_dict,
                        "trainer_state.json": {**state, "spikes": spikes.state_dict()}},
        )
        if ctx.is_main:
            token_space.save(path / "token_space.json")
            prune_checkpoints(run_dir / CHECKPOINTS, keep_last=ckpt.keep_last,
                              permanent_interval=ckpt.permanent_interval)
        if ckpt.export_model:
            export(step)
        return path

    exported = [-1]

    def export(step: int) -> None:
        export_model(wrapped, run_dir / MODEL_DIR, model_config=config.model, token_space=token_space,
                     train_config=config_dict, maskable_specials=config.diffusion.maskable_specials, step=step,
                     ctx=ctx)
        exported[0] = step

    steps = range(start, total_steps)
    iterator = iter(loader)
    last_saved = start if resume_from is not None else -1
    preempted = False
    window_start, window_tokens = time.perf_counter(), 0
    try:
        for step in progress(steps, desc="train", total=len(steps), unit="step") if ctx.is_main else steps:
            t0 = time.perf_counter()
            batch = next(iterator)
            if batch.step != step:
                raise RuntimeError(f"loader yielded batch {batch.step} for step {step}")
            t_data = time.perf_counter() - t0
            out = train_step(forward, batch, step=step, seed=config.run.seed, diffusion=config.diffusion,
                             token_space=token_space, global_batch_size=B, grad_accum=grad_accum, ctx=ctx,
                             autocast_dtype=autocast_dtype, readout=config.run.readout)
            grad_norm = float(clip_gradients(model.parameters(), config.optim.grad_clip))
            lr = optimizer.param_groups[0]["lr"] / optimizer.param_groups[0].get("lr_multiplier", 1.0)
            finite = math.isfinite(out.loss) and math.isfinite(grad_norm)
            if finite:
                optimizer.step()
            else:
                state["nonfinite_steps"] += 1
                _handle_nonfinite(config, step, out.loss, grad_norm, state["nonfinite_steps"])
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            state["step"] = step + 1
            state["tokens"] += B * L
            state["data_tokens"] += out.data_tokens
            window_tokens += B * L
            spike, threshold = spikes.update(out.loss)
            record = _record(step, out, lr=lr, grad_norm=grad_norm, resolved_kappa=resolved.kappa, state=state,
                             step_tokens=B * L, t_step=time.perf_counter() - t0, t_data=t_data, flops=flops,
                             peak=peak, world_size=ctx.world_size, skipped=not finite)
            if spike:
                record["spike"] = True
                log.warning("loss spike at step %d: %.4f > %.4f (mean + %.1f sigma over %d steps)",
                            step, out.loss, threshold, spikes.k, len(spikes.history))
                writer.spike({"step": step, "loss": out.loss, "threshold": threshold})
            if step == start or state["step"] % config.run.log_interval == 0 or state["step"] == total_steps:
                elapsed = time.perf_counter() - window_start
                record["tokens_per_s_window"] = window_tokens / elapsed if elapsed > 0 else None
                window_start, window_tokens = time.perf_counter(), 0
                writer.write(record)
            if on_step is not None:
                on_step(step, record)
            done = state["step"]
            if preemption.agree_to_stop(ctx.device):
                log.warning("checkpoint requested (%s): saving at step %d and stopping",
                            preemption.reason() or "another rank", done)
                save(done)
                last_saved, preempted = done, True
                preemption.clear()  # handled: a later train() in this process starts clean
                break
            if ckpt.interval and done % ckpt.interval == 0 and done < total_steps:
                save(done)
                last_saved = done
        else:
            done = total_steps
            if ckpt.save_final and last_saved != done:
                save(done)
            if exported[0] != done:
                export(done)  # the consolidated weights of the finished run, always
    finally:
        writer.close()
        loader.close()
    final = int(state["step"])
    barrier(ctx)  # every rank leaves together
    return TrainResult(run_dir=run_dir, final_step=final, metrics_path=writer.path, preempted=preempted,
                       nonfinite_steps=int(state["nonfinite_steps"]), resumed_from=resume_from)


def _handle_nonfinite(config: TrainConfig, step: int, loss: float, grad_norm: float, count: int) -> None:
    if config.run.nan_policy == "stop":
        raise FloatingPointError(f"step {step}: non-finite loss {loss} or gradient norm {grad_norm} "
                                 "(run.nan_policy='stop')")
    log.warning("step %d: non-finite loss %s or gradient norm %s, update skipped (%d so far)",
                step, loss, grad_norm, count)
    if count > config.run.max_nonfinite_steps:
        raise FloatingPointError(f"{count} non-finite steps exceed run.max_nonfinite_steps="
                                 f"{config.run.max_nonfinite_steps}")


def _record(step: int, out: Any, *, lr: float, grad_norm: float, resolved_kappa: float, state: dict[str, Any],
            step_tokens: int, t_step: float, t_data: float, flops: float, peak: float | None, world_size: int,
            skipped: bool) -> dict[str, Any]:
    """The metrics line of one step (``tokens_per_s`` counts token slots, padding included)."""
    return {
        "step": step, "loss": out.loss, **nelbo_metrics(out.sums), "lr": lr, "grad_norm": grad_norm,
        "tokens_per_s": step_tokens / t_step if t_step > 0 else None,
        "mfu": flops / (t_step * peak * world_size) if peak and t_step > 0 else None,
        "kappa": resolved_kappa, "logical_step": resolved_kappa * (step + 1), "tokens": state["tokens"],
        "data_tokens": state["data_tokens"], "step_time_s": t_step, "data_time_s": t_data,
        "nonfinite_steps": state["nonfinite_steps"], "skipped": skipped,
    }
