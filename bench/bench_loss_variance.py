"""Variance of the masked-diffusion loss estimator under each time sampler, with and without anti-masking.

    uv run trimodal demo --size tiny --out /tmp/diffusion_bench/demo     # real demo tokens (once)
    uv run python bench/bench_loss_variance.py --mixture /tmp/diffusion_bench/demo/mixture.json \
        --model-cache /tmp/diffusion_bench/tiny.safetensors              # the trained tiny model
    uv run python bench/bench_loss_variance.py --mixture /tmp/diffusion_bench/demo/mixture.json --model oracle
    uv run python bench/bench_loss_variance.py --reps 8 --num-batches 1 --train-steps 5   # quick check
                                                                   # (random formatted rows without --mixture)

Models. ``tiny``: ``MODEL_PRESETS["tiny"]`` trained for ``--train-steps`` steps with the default objective on
the same data, then frozen. ``oracle``: a stand-in that uses its context strongly (probability of the target =
the fraction of the row's eligible tokens left visible), so the loss at a masked position falls with the mask
rate as a well-trained model's does.

For every sampler the script draws ``--reps`` Monte Carlo estimates of the step objective
``J = sum nll / eligible`` (and of each modality's NELBO per token) on the same ``--num-batches`` fixed global
batches of ``--rows`` rows (only times and masks change: the corruption noise), and prints their variance
averaged over the batches as a ratio to iid times without anti-masking, with a 90% bootstrap interval
(lower is better; the means agree within their standard errors since every sampler is unbiased for the same
NELBO). The estimator is heavy-tailed (rows at small ``t`` have few masked tokens and weight ``1/t``), so
ratios need many repetitions. Anti-masking at equal compute: ``--rows`` rows hold ``rows / 2`` examples, each
twice (complementary masks); its fixed-data estimand is the NELBO of half as many examples. ``--with-data``
also draws fresh examples for every estimate (the variance an optimizer step's loss actually has).
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import tyro
from safetensors.torch import load_file, save_file

from trimodal_core import MixtureManifest, TokenSpace, TokenSpaceConfig
from trimodal_train.data import Batch, LoaderConfig, build_loader
from trimodal_train.diffusion import (
    CorruptedBatch,
    DiffusionConfig,
    backprop_loss,
    corrupt,
    duplicate_rows,
    eligible_count,
    loss_sums,
    modality_presence,
    nelbo_per_token,
)
from trimodal_train.model import MODEL_PRESETS, build_model


@dataclasses.dataclass(frozen=True, kw_only=True)
class Args:
    mixture: Path | None = None
    """Mixture manifest of real tokens (e.g. the demo's ``mixture.json``); random formatted rows without it."""
    seq_len: int = 128
    """Tokens per row."""
    rows: int = 16
    """Rows of one global batch (one estimate)."""
    train_steps: int = 300
    """Steps that train the fixed tiny model before measuring."""
    reps: int = 128
    """Estimates per sampler and batch."""
    num_batches: int = 4
    """Fixed global batches the fixed-data variance is averaged over."""
    seed: int = 0
    """Root seed (model init, data, corruption)."""
    threads: int = 1
    """torch threads (1 is fastest on a busy 2-core machine)."""
    model: Literal["tiny", "oracle"] = "tiny"
    """``tiny``: ``MODEL_PRESETS["tiny"]`` trained here; ``oracle``: p(target) = the row's visible fraction (a
    strongly context-dependent stand-in, no training)."""
    model_cache: Path | None = None
    """safetensors file: the trained tiny model is saved there, and loaded instead of retrained if it exists."""
    with_data: bool = False
    """Also measure the variance with fresh examples for every estimate (data noise included)."""
    samplers: tuple[str, ...] = ()
    """Sampler names to run (``iid`` always runs); empty runs all."""
    bootstrap: int = 1000
    """Bootstrap resamples for the ratio intervals."""


SAMPLERS: list[tuple[str, dict, bool]] = [
    # name, DiffusionConfig fields, presence-aware stratification
    ("iid", {"time_sampling": "iid"}, False),
    ("lattice", {"time_sampling": "lattice"}, False),
    ("stratified", {"time_sampling": "stratified"}, False),
    ("stratified+presence", {"time_sampling": "stratified"}, True),
    ("antithetic", {"time_sampling": "antithetic"}, False),
    ("antithetic+presence", {"time_sampling": "antithetic"}, True),
    ("anti-mask iid", {"time_sampling": "iid", "anti_masking": True}, False),
    ("anti-mask stratified", {"time_sampling": "stratified", "anti_masking": True}, False),
    ("anti-mask stratified+presence", {"time_sampling": "stratified", "anti_masking": True}, True),
]


def _random_rows(space: TokenSpace, seq_len: int, seed: int) -> Iterator[Batch]:
    """Formatted random rows (packed text, t2i, t2s) when no mixture is given: the model can learn little."""
    rng = np.random.default_rng(seed)
    step = 0
    while True:
        rows = []
        for i in range(64):
            kind = i % 3
            if kind == 0:
                body = space.to_global("text", rng.integers(0, space.local_size("text"), size=seq_len - 3))
                rows.append(np.concatenate([[space.task_id("text"), space.special_id("bot")], body,
                                            [space.special_id("eot")]]))
            else:
                media, begin, end = ("image", "boi", "eoi") if kind == 1 else ("audio", "boa", "eoa")
                n_text, n_media = seq_len // 4, seq_len - seq_len // 4 - 6
                text = space.to_global("text", rng.integers(0, space.local_size("text"), size=n_text))
                codes = rng.integers(0, space.local_size(media), size=n_media)
                mids = (space.to_global(media, codes) if media == "image"
                        else space.to_global(media, codes, np.arange(n_media) % space.config.audio_num_codebooks))
                task = "t2i" if kind == 1 else "t2s"
                rows.append(np.concatenate([[space.task_id(task), space.special_id("bot")], text,
                                            [space.special_id("eot"), space.special_id(begin)], mids,
                                            [space.special_id(end)], [space.pad_id]]))
        tokens = np.stack(rows).astype(np.int64)
        yield Batch(step=step, tokens_BL=torch.from_numpy(tokens),
                    modality_BL=torch.from_numpy(space.modality_of(tokens)),
                    loss_mask_BL=torch.from_numpy(tokens != space.pad_id),
                    document_ids_BL=torch.from_numpy(np.where(tokens != space.pad_id, 0, -1).astype(np.int32)),
                    component_B=torch.zeros(len(rows), dtype=torch.int64))
        step += 1


def _row_stream(args: Args) -> tuple[TokenSpace, Iterator[Batch], str]:
    """One row at a time (as 1-row batches), endless."""
    if args.mixture is not None:
        mixture = MixtureManifest.load(args.mixture)
        space = next(iter(mixture.load_components().values())).load_token_space()
        loader = build_loader(args.mixture, LoaderConfig(seq_len=args.seq_len, global_batch_size=64, seed=args.seed,
                                                         prefetch=0))
        source, name = iter(loader), f"demo tokens ({args.mixture})"
    else:
        space = TokenSpace(TokenSpaceConfig(text_vocab_size=512, image_codebook_size=240, audio_codebook_size=64,
                                            audio_num_codebooks=2))
        source, name = _random_rows(space, args.seq_len, args.seed), "random formatted rows"

    def rows() -> Iterator[Batch]:
        for batch in source:
            for i in range(batch.tokens_BL.shape[0]):
                yield Batch(step=0, **{f: getattr(batch, f)[i : i + 1] for f in _FIELDS})

    return space, rows(), name


_FIELDS = ("tokens_BL", "modality_BL", "loss_mask_BL", "document_ids_BL", "component_B")


def _rows_of(batch: Batch, n: int) -> Batch:
    return Batch(step=batch.step, **{f: getattr(batch, f)[:n] for f in _FIELDS})


def _take(stream: Iterator[Batch], n: int) -> Batch:
    parts = [next(stream) for _ in range(n)]
    return Batch(step=0, **{f: torch.cat([getattr(p, f) for p in parts]) for f in _FIELDS})


def _oracle_logits(c: CorruptedBatch, vocab: int) -> torch.Tensor:
    """A model that uses its context: p(target) = the row's visible fraction, the rest uniform."""
    eligible = c.eligible_BL.sum(1, keepdim=True).clamp(min=1).float()
    lam_BL = ((c.eligible_BL & ~c.masked_BL).sum(1, keepdim=True).float() / eligible).expand_as(c.masked_BL)
    logits = torch.log((1 - lam_BL) / vocab).unsqueeze(-1).expand(*c.targets_BL.shape, vocab).clone()
    logits.scatter_(-1, c.targets_BL.unsqueeze(-1), torch.log(lam_BL + (1 - lam_BL) / vocab).unsqueeze(-1))
    return logits


def _estimate(model, batch: Batch, cfg: DiffusionConfig, space: TokenSpace, presence: bool, seed: int, step: int):
    present = modality_presence(batch, config=cfg, token_space=space) if presence else None
    c = corrupt(batch, config=cfg, token_space=space, seed=seed, step=step, present_GM=present)
    with torch.no_grad():
        if model is None:
            logits = _oracle_logits(c, space.vocab_size)
        else:
            logits = model(c.inputs_BL, document_ids_BL=batch.document_ids_BL, span_modality_BL=c.span_modality_BL)
    sums = loss_sums(logits, c)
    total = float(backprop_loss(sums, global_eligible=eligible_count(c), world_size=1))
    return np.concatenate([[total], nelbo_per_token(sums).numpy()])


def _tiny_model(args: Args, space: TokenSpace, stream: Iterator[Batch]) -> tuple[torch.nn.Module, str]:
    config = dataclasses.replace(MODEL_PRESETS["tiny"], max_seq_len=max(args.seq_len, 64))
    model = build_model(config, space)
    if args.model_cache is not None and args.model_cache.exists():
        model.load_state_dict(load_file(str(args.model_cache)))
        # Keep the data stream where a fresh run would be after training.
        for _ in range(args.train_steps * args.rows):
            next(stream)
        return model.eval(), f"tiny model loaded from {args.model_cache}"
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    train_cfg = DiffusionConfig()
    t0 = time.perf_counter()
    losses = []
    for step in range(args.train_steps):
        batch = _take(stream, args.rows)
        c = corrupt(batch, config=train_cfg, token_space=space, seed=args.seed + 1, step=step)
        logits = model(c.inputs_BL, document_ids_BL=batch.document_ids_BL, span_modality_BL=c.span_modality_BL)
        loss = backprop_loss(loss_sums(logits, c), global_eligible=eligible_count(c), world_size=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if args.model_cache is not None:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(args.model_cache))
    trained = f"loss, mean of 10 steps: {np.mean(losses[:10]):.2f} -> {np.mean(losses[-10:]):.2f}"
    return model.eval(), f"tiny model trained {args.train_steps} steps in {time.perf_counter() - t0:.0f} s ({trained})"


def _ratio_ci(est: list[np.ndarray], base: list[np.ndarray], rng: np.random.Generator, n: int) -> np.ndarray:
    """5% and 95% bootstrap quantiles of the batch-averaged variance ratio (reps resampled per batch)."""
    out = np.empty((n, est[0].shape[1]))
    for i in range(n):
        num = np.mean([np.nanvar(e[rng.integers(0, len(e), len(e))], 0, ddof=1) for e in est], 0)
        den = np.mean([np.nanvar(b[rng.integers(0, len(b), len(b))], 0, ddof=1) for b in base], 0)
        out[i] = num / den
    return np.quantile(out, [0.05, 0.95], axis=0)


def _table(title: str, runs: dict[str, list[np.ndarray]], rng: np.random.Generator, bootstrap: int) -> None:
    cols = ["J", "text", "image", "audio"]
    base = runs["iid"]
    base_var = np.mean([np.nanvar(b, 0, ddof=1) for b in base], 0)
    print(f"\n## {title}: variance / iid variance [90% bootstrap interval]")
    print("| sampler | " + " | ".join(cols) + " | mean J +- se |")
    print("|---|" + "---|" * (len(cols) + 1))
    for name, est in runs.items():
        var = np.mean([np.nanvar(e, 0, ddof=1) for e in est], 0)
        lo, hi = _ratio_ci(est, base, rng, bootstrap)
        cells = " | ".join(f"{v / b:.2f} [{a:.2f}, {c:.2f}]" for v, b, a, c in zip(var, base_var, lo, hi, strict=True))
        j = np.concatenate([e[:, 0] for e in est])
        mean = np.mean([e[:, 0].mean() for e in est])
        se = math.sqrt(np.mean([e[:, 0].var(ddof=1) / len(e) for e in est]) / len(est))
        print(f"| {name} | {cells} | {mean:.3f} +- {se:.3f} |" if len(j) else f"| {name} | {cells} | |")
    print("| (iid variance) | " + " | ".join(f"{v:.3g}" for v in base_var) + " | |")


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    space, stream, source = _row_stream(args)
    if args.model == "tiny":
        model, about = _tiny_model(args, space, stream)
    else:
        model, about = None, "oracle model (p(target) = the row's visible fraction; no training)"
    print(f"# source: {source}; vocab {space.vocab_size}; L={args.seq_len}; rows={args.rows}; {about}; "
          f"reps={args.reps} x {args.num_batches} batches; torch {torch.__version__}, {platform.machine()}, "
          f"{args.threads} thread(s)", flush=True)

    samplers = [s for s in SAMPLERS if not args.samplers or s[0] in args.samplers or s[0] == "iid"]
    fixed = [_take(stream, args.rows) for _ in range(args.num_batches)]
    fixed_runs: dict[str, list[np.ndarray]] = {}
    data_runs: dict[str, list[np.ndarray]] = {}
    t0 = time.perf_counter()
    for name, fields, presence in samplers:
        cfg = DiffusionConfig(**fields)
        anti = cfg.anti_masking
        fixed_runs[name] = []
        for b, batch in enumerate(fixed):
            use = duplicate_rows(_rows_of(batch, args.rows // 2)) if anti else batch
            fixed_runs[name].append(
                np.stack([_estimate(model, use, cfg, space, presence, 10_000 + b, r) for r in range(args.reps)])
            )
        if args.with_data:
            est = []
            for r in range(args.reps):
                batch = _take(stream, args.rows // 2 if anti else args.rows)
                est.append(_estimate(model, duplicate_rows(batch) if anti else batch, cfg, space, presence, 20_000, r))
            data_runs[name] = [np.stack(est)]
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    rng = np.random.default_rng(args.seed)
    _table("fixed data (corruption noise only)", fixed_runs, rng, args.bootstrap)
    if args.with_data:
        _table("with data (fresh examples each estimate, equal compute)", data_runs, rng, args.bootstrap)


if __name__ == "__main__":
    main(tyro.cli(Args))
