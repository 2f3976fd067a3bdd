"""``trimodal demo``: the main job on the embedded default corpora, end to end on the CPU, offline.

Run::

    uv run trimodal demo [--out demo_out] [--size default|tiny] [--force] [--codec-weights weights.pth]

Steps (each with a progress bar or a log line and a one-line summary; finished steps are reused on a
rerun unless ``--force``, and only while their outputs still hold what they wrote: every tokenizer part and
the bundle are identified by content fingerprints (``trimodal_tokenizers.fingerprint``), the corpora are
keyed by the bundle's tokenizer fingerprint and rebuilt when their manifest records another one): train
the text BPE on the demo text; train the small image tokenizer on the
demo images; set up the DAC audio codec (official weights from ``--codec-weights``, else a seeded random
init, since no weights can be downloaded here: its codes are then not meaningful for training, and the
summary says so); bundle the tokenizers into one token space; build the text, image-text and audio-text
corpora with the Beam pipelines on the local runner; write the mixture manifest; validate every
manifest; print the summary table. The corpora are in ``pipelines/demo_data`` (see its LICENSES.md).

This module is wiring only: every step calls a package's public API.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import tyro

from pipelines.demo_inputs import DemoInputs, demo_inputs
from pipelines.demo_summary import format_table
from trimodal_core import atomic_write_text, load_manifest, setup_logging

_log = logging.getLogger("trimodal.demo")
DemoSize = Literal["default", "tiny"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """Build the demo tokenizers and corpora from the embedded data (CPU, offline)."""

    out: Path = Path("demo_out")
    """Output folder (tokenizers/, corpora/, mixture.json, summary.json)."""
    size: DemoSize = "default"
    """``default``: all embedded corpora; ``tiny``: a small slice of each, for CI (about 25 s on 2 cores)."""
    force: bool = False
    """Redo every step instead of reusing finished ones."""
    seed: int = 0
    """Seed for tokenizer training and the codec's random init."""
    text_vocab_size: int = 4096
    """Target BPE vocabulary size."""
    image_steps: int | None = None
    """Image tokenizer training steps (None: 600 for default, 60 for tiny)."""
    mixture_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)
    """Token shares of text, image-text and audio-text in the mixture manifest (a demo choice)."""
    audio_codec: Literal["codec2", "dac"] = "codec2"
    """Audio tokenizer: ``codec2`` (the Codec 2 speech codec: no weights, its codes decode to intelligible speech
    offline) or ``dac`` (the choice for real runs, with ``--codec-weights``; a random init without them)."""
    codec2_mode: Literal[3200, 2400, 1600, 1400, 1300, 1200, 700] = 1200
    """Codec 2 bit rate: 1200 bit/s is 6 codes per 40 ms frame (150 tokens/s), short enough for the demo's
    rows; 3200 is the most intelligible (400 tokens/s)."""
    codec_weights: Path | None = None
    """Official DAC weights (.pth) to use instead of a random init (``--audio-codec dac``); never downloaded."""
    codec_variant: Literal["tiny", "16khz", "24khz", "44khz"] = "tiny"
    """Architecture of the random-init codec used without ``--codec-weights``. ``tiny`` is fast on a CPU; the
    official architectures encode only about 1.5 s of audio per second on 2 cores (bench/RESULTS.md)."""
    audio_codebooks: int = 4
    """Residual codebooks kept per audio frame."""
    num_buckets: int = 4
    """Output shard buckets per corpus."""
    beam_args: tuple[str, ...] = ()
    """Extra Beam pipeline options, e.g. ``--beam-args --direct_num_workers=2``."""
    skip_data: bool = False
    """Reuse the tokenizers and corpora already in ``--out`` without checking them (fails if absent)."""
    model: bool = True
    """Train, evaluate and generate after the corpora (``--no-model`` stops after them)."""
    model_size: str = "tiny"
    """Model preset (``trimodal_train.model.MODEL_PRESETS``: tiny, small, demo, ...)."""
    steps: int | None = None
    """Optimizer steps (None: 1200 for default, 300 for tiny). At the default size 1200 steps at ``lr`` 3e-3 is
    what gave the T2I condition gap an interval above 0 (600 steps or lr 1e-3 did not: README, "The demo")."""
    lr: float = 3e-3
    """Peak AdamW learning rate of the demo model (the ``demo`` training preset's 1e-3 learns the caption to
    image dependence too slowly for the demo's budget)."""
    seq_len: int = 384
    """Row length of training and evaluation."""
    batch_size: int = 16
    """Global batch (rows per optimizer step)."""
    device: str = "cpu"
    """Training and evaluation device (``cpu``, ``cuda``)."""
    val_fraction: float = 0.1
    """Share of every corpus held out for validation (by a salted hash of the example id)."""
    num_samples: int = 4
    """Prompts per generation task (text, t2i, i2t, t2s, s2t)."""
    log_level: str = "WARNING"
    """Logging level of the libraries (the demo prints its own progress)."""


StaleCheck = Callable[[dict[str, Any]], "str | None"]


class StepCache:
    """Reuse a step's result when its inputs and settings are unchanged and its outputs still exist.

    ``stale(result)``, when given, is asked before a reuse: a returned reason (e.g. "tokenizer changed") means
    the outputs no longer match what the step recorded, and the step is redone.
    """

    def __init__(self, root: Path, *, force: bool) -> None:
        self.root = root / ".steps"
        self.force = force

    def run(self, name: str, key: dict[str, Any], outputs: list[Path], fn: Callable[[], dict[str, Any]],
            stale: StaleCheck | None = None) -> dict:
        marker = self.root / f"{name}.json"
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        if not self.force and marker.is_file() and all(p.exists() for p in outputs):
            saved = json.loads(marker.read_text())
            if saved.get("key") == digest:
                reason = stale(saved["result"]) if stale is not None else None
                if reason is None:
                    print(f"[{name}] reused (run with --force to redo)")
                    return dict(saved["result"], reused=True)
                print(f"[{name}] redone: {reason}")
        for path in outputs:
            if path.is_dir():
                shutil.rmtree(path)
        start = time.perf_counter()
        result = fn()
        result["seconds"] = round(time.perf_counter() - start, 1)
        atomic_write_text(marker, json.dumps({"key": digest, "result": result}, indent=2, sort_keys=True))
        return result


def run_demo(config: DemoConfig) -> dict[str, Any]:
    """Run every step; return the summary (also written to ``out/summary.json``)."""
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    cache = StepCache(out, force=config.force)
    started = time.perf_counter()
    if config.skip_data:
        previous = out / "summary.json"
        if not previous.is_file():
            raise ValueError(f"--skip-data: {previous} not found; run the demo once without --skip-data")
        results = {k: v for k, v in json.loads(previous.read_text())["steps"].items() if k in _DATA_STEPS}
        missing = [k for k in _DATA_STEPS if k not in results]
        if missing:
            raise ValueError(f"--skip-data: {previous} lacks the steps {missing}; run without --skip-data")
    else:
        results = build_data(config, cache)
    if config.model:
        from pipelines.demo_run import run_model_steps

        results.update(run_model_steps(config, cache, results))
    summary = {"config": dataclasses.asdict(config), "steps": results, "out": str(out.resolve()),
               "seconds": round(time.perf_counter() - started, 1)}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return summary


_DATA_STEPS = ("text_tokenizer", "image_tokenizer", "audio_codec", "bundle", "corpus_text", "corpus_image_text",
               "corpus_audio_text", "mixture")


def build_data(config: DemoConfig, cache: StepCache) -> dict[str, Any]:
    """Tokenizers, corpora and the mixture (the data half of the demo)."""
    from pipelines import demo_steps

    out = config.out
    inputs: DemoInputs = demo_inputs(config.size, out / "inputs")
    image_steps = config.image_steps if config.image_steps is not None else (600 if config.size == "default" else 60)
    tok = out / "tokenizers"

    results: dict[str, Any] = {}
    results["text_tokenizer"] = cache.run(
        "text_tokenizer", {"in": inputs.key("text"), "vocab": config.text_vocab_size}, [tok / "parts" / "text"],
        lambda: demo_steps.train_text(inputs.text, tok / "parts" / "text", vocab_size=config.text_vocab_size),
        stale=demo_steps.part_changed(tok / "parts" / "text"),
    )
    results["image_tokenizer"] = cache.run(
        "image_tokenizer",
        {"in": inputs.key("image_text"), "steps": image_steps, "seed": config.seed},
        [tok / "parts" / "image"],
        lambda: demo_steps.train_image(inputs.image_text, tok / "parts" / "image", steps=image_steps,
                                       seed=config.seed),
        stale=demo_steps.part_changed(tok / "parts" / "image"),
    )
    codec = config.codec_variant
    results["audio_codec"] = cache.run(
        "audio_codec",
        {"kind": config.audio_codec, "mode": config.codec2_mode, "weights": str(config.codec_weights),
         "variant": codec, "books": config.audio_codebooks, "seed": config.seed},
        [tok / "parts" / "audio"],
        lambda: demo_steps.make_codec(tok / "parts" / "audio", kind=config.audio_codec, weights=config.codec_weights,
                                      variant=codec, num_codebooks=config.audio_codebooks, seed=config.seed,
                                      codec2_mode=config.codec2_mode),
        stale=demo_steps.part_changed(tok / "parts" / "audio"),
    )
    results["bundle"] = cache.run(
        "bundle", {"parts": [results[k]["fingerprint"] for k in ("text_tokenizer", "image_tokenizer",
                                                                 "audio_codec")]},
        [tok / "bundle"], lambda: demo_steps.make_bundle(tok / "parts", tok / "bundle"),
        stale=demo_steps.bundle_changed(tok / "bundle"),
    )
    bundle_key = results["bundle"]["tokenizer_fingerprint"]
    corpora = out / "corpora"
    beam_args = list(config.beam_args)
    builders = {
        "text": demo_steps.build_text,
        "image_text": demo_steps.build_image_text,
        "audio_text": demo_steps.build_audio_text,
    }
    for name, build in builders.items():
        results[f"corpus_{name}"] = cache.run(
            f"corpus_{name}",
            {"in": inputs.key(name), "bundle": bundle_key, "buckets": config.num_buckets, "beam": beam_args},
            [corpora / name],
            lambda build=build, name=name: build(inputs.paths(name), corpora / name, tok / "bundle",
                                                 num_buckets=config.num_buckets, beam_args=beam_args),
            stale=demo_steps.corpus_tokenizer_changed(corpora / name / "manifest.json", bundle_key),
        )
    results["mixture"] = demo_steps.write_mixture(
        out / "mixture.json",
        {n: (corpora / n / "manifest.json", w) for n, w in zip(builders, config.mixture_weights, strict=True)},
    )
    for path in [*(corpora / n / "manifest.json" for n in builders), out / "mixture.json"]:
        manifest = load_manifest(path)
        manifest.validate(check_sha256=True)
    return results


def main(argv: list[str] | None = None) -> int:
    config = tyro.cli(DemoConfig, args=argv, prog="trimodal demo")
    setup_logging(config.log_level)
    try:
        summary = run_demo(config)
    except ValueError as exc:
        print(f"trimodal demo: {exc}", file=sys.stderr)
        return 1
    print()
    print(format_table(summary))
    if "report" in summary["steps"]:
        print(f"\nReport: {summary['steps']['report']['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
