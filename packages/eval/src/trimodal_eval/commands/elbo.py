"""``trimodal-eval elbo``: NELBO per modality and condition gaps of a trained run on held-out corpora.

Writes ``<run>/eval/elbo.json`` (or ``--out``): per modality the NELBO per token, exp(NELBO) and their
intervals; per pair task the matched and shuffled conditional NELBO and the condition gap; optionally the
unigram baseline of the text positions (``--unigram-from`` a training corpus).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

from trimodal_core.atomic import atomic_write_text
from trimodal_core.progress import progress
from trimodal_eval.likelihood import ElboConfig, build_rows, condition_gap, modality_estimates, read_examples, row_sums
from trimodal_eval.likelihood.unigram import unigram_baseline

log = logging.getLogger(__name__)
PAIR_TASKS = ("t2i", "t2s", "i2t", "s2t")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ElboCommandConfig:
    """Estimate the ELBO of a trained model on held-out corpus manifests."""

    model: Path
    """Run folder (or its ``model/`` folder) written by ``trimodal-train run``."""
    data: tuple[Path, ...]
    """Held-out corpus manifests (e.g. the ``val/`` manifests of ``trimodal-data split``)."""
    out: Path | None = None
    """Output JSON (default ``<model>/eval/elbo.json``)."""
    seq_len: int | None = None
    """Row length (default: the run's ``data.seq_len``)."""
    max_examples: int | None = 512
    """Examples read per manifest (None: all)."""
    max_text_rows: int | None = 64
    """Packed text rows evaluated (None: every row the text examples fill)."""
    estimate: ElboConfig = dataclasses.field(default_factory=ElboConfig)
    gaps: tuple[str, ...] = PAIR_TASKS
    """Pair tasks whose condition gap is measured (tasks with fewer than 2 rows are skipped and listed)."""
    unigram_from: tuple[Path, ...] = ()
    """Training corpus manifests for the unigram text baseline (empty: no baseline)."""
    device: str = "cpu"


def run_elbo(config: ElboCommandConfig) -> dict[str, Any]:
    """Evaluate and write the JSON; returns what was written."""
    from trimodal_train.diffusion import DiffusionConfig
    from trimodal_train.model_export import load_model

    started = time.perf_counter()
    loaded = load_model(config.model, device=config.device)
    space = loaded.token_space
    diffusion_data = dict(loaded.train_config.get("diffusion", {}))
    diffusion = DiffusionConfig(**{k: v for k, v in diffusion_data.items() if k in
                                   {f.name for f in dataclasses.fields(DiffusionConfig)}})
    seq_len = config.seq_len or int(loaded.train_config.get("data", {}).get("seq_len", loaded.config.max_seq_len))
    if seq_len > loaded.config.max_seq_len:
        raise ValueError(f"seq_len={seq_len} exceeds the model's max_seq_len={loaded.config.max_seq_len}")
    examples = []
    for manifest in config.data:
        examples.extend(read_examples(manifest, max_examples=config.max_examples))
    rows = build_rows(examples, seq_len=seq_len, pad_id=space.pad_id, max_text_rows=config.max_text_rows)
    log.info("elbo: %d rows from %d examples (%d pairs truncated to seq_len, %d skipped)", rows.num_rows,
             len(examples), rows.truncated, rows.skipped)
    bar = progress(range(rows.num_rows), desc="elbo", total=rows.num_rows)
    bar_iter = iter(bar)

    def advance(n: int) -> None:
        for _ in range(n):
            next(bar_iter, None)

    sums = row_sums(loaded.model, rows, diffusion=diffusion, token_space=space, config=config.estimate,
                    device=config.device, on_batch=advance)
    for _ in bar_iter:  # close the bar
        pass
    result: dict[str, Any] = {
        "model": str(config.model), "step": loaded.step, "data": [str(p) for p in config.data],
        "seq_len": seq_len, "rows": rows.num_rows, "skipped_examples": rows.skipped,
        "truncated_examples": rows.truncated,
        "estimate": dataclasses.asdict(config.estimate),
        "modalities": {name: est.as_dict() for name, est in modality_estimates(sums, config.estimate).items()},
        "condition_gaps": {}, "skipped_gaps": {},
    }
    for task in config.gaps:
        count = sum(1 for t in rows.tasks if t == task)
        if count < 2:
            result["skipped_gaps"][task] = f"{count} held-out rows of {task} (need 2)"
            continue
        gap = condition_gap(loaded.model, rows, task, diffusion=diffusion, token_space=space,
                            config=config.estimate, device=config.device)
        result["condition_gaps"][task] = gap.as_dict()
    if config.unigram_from:
        result["unigram_text"] = unigram_baseline(list(config.unigram_from), rows, space,
                                                  maskable_specials=diffusion.maskable_specials).as_dict()
    result["seconds"] = time.perf_counter() - started
    out = config.out or _default_out(Path(config.model))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=1, sort_keys=True, allow_nan=True) + "\n")
    result["path"] = str(out)
    return result


def _default_out(model: Path) -> Path:
    run_dir = model.parent if (model / "model.safetensors").is_file() else model
    return run_dir / "eval" / "elbo.json"


def summarize(result: dict[str, Any]) -> str:
    lines = [f"{'modality':10s} {'NELBO/token':>12s} {'95% interval':>22s} {'exp(NELBO)':>12s} {'tokens':>9s}"]
    for name, est in result["modalities"].items():
        lo, hi = est["ci"]
        lines.append(f"{name:10s} {est['nelbo']:12.4f} [{lo:9.4f}, {hi:9.4f}] {est['exp_nelbo']:12.2f} "
                     f"{est['tokens']:9.0f}")
    for task, gap in result["condition_gaps"].items():
        lo, hi = gap["gap_ci"]
        lines.append(f"condition gap {task}: {gap['gap']:+.4f} nats/token [{lo:+.4f}, {hi:+.4f}] "
                     f"(matched {gap['matched']['nelbo']:.4f}, shuffled {gap['shuffled']['nelbo']:.4f})")
    for task, why in result["skipped_gaps"].items():
        lines.append(f"condition gap {task}: skipped ({why})")
    if "unigram_text" in result:
        lines.append(f"unigram text perplexity: {result['unigram_text']['perplexity']:.2f}")
    lines.append(f"written: {result['path']}")
    return "\n".join(lines)
