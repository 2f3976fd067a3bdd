"""Variance of the masked-diffusion loss estimator under each time sampler, with and without anti-masking.

    uv run trimodal demo --size tiny --out /tmp/diffusion_bench/demo     # real demo tokens (once)
    uv run python bench/bench_loss_variance.py --mixture /tmp/diffusion_bench/demo/mixture.json
    uv run python bench/bench_loss_variance.py --reps 16 --num-batches 1   # quick check (random tokens if no
                                                                          # --mixture)

A fixed tiny model: ``MODEL_PRESETS["tiny"]`` trained for ``--train-steps`` steps with the default objective on
the same data (so its loss depends on context, as a real model's does), then frozen. For every sampler the
script draws ``--reps`` Monte Carlo estimates of the step objective ``J = sum nll / eligible`` (and of each
modality's NELBO per token) on the same ``--num-batches`` fixed global batches of ``--rows`` rows (only the
times and masks change), and reports their variance averaged over the batches, as a ratio to iid times
without anti-masking (lower is better; the means must agree within their standard errors, since every
sampler is unbiased for the same quantity).

Anti-masking at equal compute: ``--rows`` rows hold ``rows / 2`` examples, each twice (complementary masks).
Two variances are printed:

* ``fixed data``: the batch's examples held fixed, only times and masks redrawn (the corruption noise); for
  anti-masking the estimand is then the NELBO of half as many examples;
* ``with data``: each estimate also draws fresh examples from the loader (``--rows`` distinct examples, or
  ``rows / 2`` duplicated for anti-masking), the variance an optimizer step's loss actually has.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import tyro

from trimodal_core import MixtureManifest, TokenSpace, TokenSpaceConfig
from trimodal_train.data import Batch, LoaderConfig, build_loader
from trimodal_train.diffusion import (
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


def _estimate(model, batch: Batch, cfg: DiffusionConfig, space: TokenSpace, presence: bool, seed: int, step: int):
    present = modality_presence(batch, config=cfg, token_space=space) if presence else None
    c = corrupt(batch, config=cfg, token_space=space, seed=seed, step=step, present_GM=present)
    with torch.no_grad():
        logits = model(c.inputs_BL, document_ids_BL=batch.document_ids_BL, span_modality_BL=c.span_modality_BL)
    sums = loss_sums(logits, c)
    total = float(backprop_loss(sums, global_eligible=eligible_count(c), world_size=1))
    return np.concatenate([[total], nelbo_per_token(sums).numpy()])


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    space, stream, source = _row_stream(args)
    config = dataclasses.replace(MODEL_PRESETS["tiny"], max_seq_len=max(args.seq_len, 64))
    model = build_model(config, space)
    train_cfg = DiffusionConfig()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
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
    model.eval()
    trained = f"loss, mean of 10 steps: {np.mean(losses[:10]):.2f} -> {np.mean(losses[-10:]):.2f}"
    print(f"# source: {source}; vocab {space.vocab_size}; L={args.seq_len}; rows={args.rows}; "
          f"tiny model trained {args.train_steps} steps in {time.perf_counter() - t0:.0f} s ({trained}); "
          f"torch {torch.__version__}, {platform.machine()}, {args.threads} thread(s)")

    fixed = [_take(stream, args.rows) for _ in range(args.num_batches)]
    results = {}
    t0 = time.perf_counter()
    for name, fields, presence in SAMPLERS:
        cfg = DiffusionConfig(**fields)
        anti = cfg.anti_masking
        per_batch_var, means = [], []
        for b, batch in enumerate(fixed):
            use = duplicate_rows(_rows_of(batch, args.rows // 2)) if anti else batch
            est = np.stack([_estimate(model, use, cfg, space, presence, 10_000 + b, r) for r in range(args.reps)])
            per_batch_var.append(np.nanvar(est, 0, ddof=1))
            means.append(np.nanmean(est, 0))
        with_data = []
        for r in range(args.reps):
            batch = _take(stream, args.rows // 2 if anti else args.rows)
            with_data.append(_estimate(model, duplicate_rows(batch) if anti else batch, cfg, space, presence,
                                       20_000, r))
        with_data = np.stack(with_data)
        results[name] = (np.mean(per_batch_var, 0), np.mean(means, 0), np.nanvar(with_data, 0, ddof=1),
                         np.nanmean(with_data, 0), np.nanstd(with_data, 0, ddof=1) / math.sqrt(args.reps))
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", flush=True)

    base_fixed, base_data = results["iid"][0], results["iid"][2]
    cols = ["J", "text", "image", "audio"]
    print("\n## variance ratio to iid (fixed data: corruption noise only)")
    print("| sampler | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, (var, *_rest) in results.items():
        print(f"| {name} | " + " | ".join(f"{v / b:.3f}" for v, b in zip(var, base_fixed, strict=True)) + " |")
    print("| (iid variance) | " + " | ".join(f"{v:.3g}" for v in base_fixed) + " |")
    print("\n## variance ratio to iid (with data: fresh examples each estimate, equal compute)")
    print("| sampler | " + " | ".join(cols) + " | mean J +- se |")
    print("|---|" + "---|" * (len(cols) + 1))
    for name, (_v, _m, var, mean, se) in results.items():
        ratios = " | ".join(f"{v / b:.3f}" for v, b in zip(var, base_data, strict=True))
        print(f"| {name} | {ratios} | {mean[0]:.3f} +- {se[0]:.3f} |")
    print("| (iid variance) | " + " | ".join(f"{v:.3g}" for v in base_data) + " | |")


if __name__ == "__main__":
    main(tyro.cli(Args))
