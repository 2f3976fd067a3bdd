"""The demo's model half (wiring only): split, train, evaluate, generate, round trips, report.

Each step goes through the demo's :class:`~pipelines.demo.StepCache`, keyed by what it depends on, so a rerun
reuses it unless ``--force`` or an input changed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pipelines import demo_model
from pipelines.demo_inputs import DEMO_DATA

MODALITY_CORPORA = {"text": "text", "image_text": "image_text", "audio_text": "audio_text"}


def _clips_table(size: str, out: Path) -> Path:
    """The transcripts table of the demo speech (tiny: the copied slice, default: the committed one)."""
    tiny = out / "inputs" / "audio_text_tiny" / "transcripts.tsv"
    return tiny if size == "tiny" and tiny.is_file() else DEMO_DATA / "audio_text" / "transcripts.tsv"


def quality_floor(elbo: dict[str, Any]) -> dict[str, Any]:
    """The tiny model's floor: text exp(NELBO) below the unigram perplexity; the T2I gap's interval above 0."""
    text = elbo["modalities"].get("text")
    unigram = elbo.get("unigram_text")
    gap = elbo["condition_gaps"].get("t2i")
    return {
        "text_exp_nelbo": text["exp_nelbo"] if text else math.nan,
        "unigram_perplexity": unigram["perplexity"] if unigram else math.nan,
        "text_beats_unigram": bool(text and unigram and text["exp_nelbo"] < unigram["perplexity"]),
        "t2i_gap": gap["gap"] if gap else math.nan,
        "t2i_gap_ci": gap["gap_ci"] if gap else [math.nan, math.nan],
        "t2i_gap_excludes_zero": bool(gap and gap["gap_ci"][0] > 0),
    }


def run_model_steps(config: Any, cache: Any, data: dict[str, Any]) -> dict[str, Any]:
    out = Path(config.out)
    steps = config.steps if config.steps is not None else (1200 if config.size == "default" else 300)
    results: dict[str, Any] = {}
    mixture_key = data["mixture"].get("sha256") or data["bundle"]["tokenizer_fingerprint"]
    split_dir = out / "split"
    results["split"] = cache.run(
        "split", {"mixture": mixture_key, "corpora": [data[f"corpus_{c}"].get("manifest") for c in MODALITY_CORPORA],
                  "fraction": config.val_fraction},
        [split_dir], lambda: demo_model.split_validation(out / "mixture.json", split_dir,
                                                         fraction=config.val_fraction),
    )
    val = {c: split_dir / c / "val" / "manifest.json" for c in MODALITY_CORPORA}
    train = {c: split_dir / c / "train" / "manifest.json" for c in MODALITY_CORPORA}
    run_dir = out / "run"
    train_config = demo_model.train_config(split_dir / "train.json", run_dir, model_size=config.model_size,
                                           steps=steps, seq_len=config.seq_len, batch_size=config.batch_size,
                                           device=config.device, seed=config.seed, lr=config.lr)
    train_key = {"split": results["split"].get("rows"), "model": config.model_size, "steps": steps, "lr": config.lr,
                 "seq_len": config.seq_len, "batch": config.batch_size, "seed": config.seed,
                 "device": config.device}
    results["train"] = cache.run("train", train_key, [run_dir], lambda: demo_model.train(train_config))
    eval_key = {**train_key, "val": config.val_fraction}
    results["elbo"] = cache.run(
        "elbo", eval_key, [run_dir / "eval"],
        lambda: demo_model.evaluate(run_dir, val, train, max_examples=256 if config.size == "default" else 64,
                                    num_t_samples=8 if config.size == "default" else 2, device=config.device),
    )
    results["quality_floor"] = quality_floor(results["elbo"])
    bundle_dir = out / "tokenizers" / "bundle"
    clips_table = _clips_table(config.size, out)
    samples = run_dir / "samples"

    def generate() -> dict[str, Any]:
        prompts = out / "prompts" / "prompts.jsonl"
        prompts.parent.mkdir(parents=True, exist_ok=True)
        demo_model.write_prompts(prompts, bundle_dir, val, clips_table, count=config.num_samples,
                                 speech_seconds=2.0)
        return demo_model.generate(run_dir, bundle_dir, prompts, samples, device=config.device)

    results["generate"] = cache.run("generate", {**eval_key, "n": config.num_samples}, [samples, out / "prompts"],
                                    generate)
    results["round_trips"] = cache.run(
        "round_trips", {"bundle": data["bundle"]["tokenizer_fingerprint"], "val": results["split"].get("rows")},
        [out / "round_trip_clips"],
        lambda: demo_model.round_trips(bundle_dir, val, clips_table, out / "round_trip_clips", count=4),
    )
    results["report"] = demo_model.write_report(run_dir, samples, out / "report.html", data=data, model=results)
    return results

