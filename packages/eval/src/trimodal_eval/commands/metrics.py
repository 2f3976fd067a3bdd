"""``trimodal-eval metrics``: every offline metric of a generation folder whose inputs are given.

``trimodal-eval metrics --samples RUN/samples [--tokenizers BUNDLE] [--real-audio CLIPS.tsv]
[--real-images DIR] [--clip-checkpoint FILE] [--fid-checkpoint FILE --reference-images DIR]
[--reference-model HF_LM_DIR]`` reads the JSON sidecars of ``trimodal-eval generate`` and computes:

=============================  =========================================  ===========================================
metric                         on                                         needs
=============================  =========================================  ===========================================
generated speech WER, CER      t2s WAVs against their prompt text         t2s samples (pocketsphinx ships its model)
real speech WER, CER           the ``--real-audio`` clips (reference row)  ``--real-audio``
codec round trip WER, CER      those clips encoded + decoded by the codec  ``--real-audio``, ``--tokenizers``
CLIP score                     t2i PNGs against their captions            ``--clip-checkpoint``
FID, KID                       t2i PNGs against real images               ``--fid-checkpoint``, ``--reference-images``
image round-trip PSNR          ``--real-images`` through the image codec   ``--real-images``, ``--tokenizers``
sample entropy                 text samples' token ids                    ``--tokenizers``
generative perplexity          text samples                               ``--reference-model``, ``--tokenizers``
=============================  =========================================  ===========================================

Formulas (the metric modules hold the details): ``WER = (S + D + I) / N`` over the words of every utterance
after :func:`~trimodal_eval.metrics.normalize_transcript` (CER the same over characters); CLIP score
``mean 100 * max(cos(image, caption), 0)``; FID ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^{1/2})``; KID the
unbiased MMD^2 with kernel ``(x.y / d + 1)^3`` (its std over subsets is written as ``std``); PSNR
``10 log10(255^2 / MSE)``; sample entropy ``mean_s -sum_v p_s(v) log p_s(v)`` over each sample's token-id
histogram; generative perplexity ``exp(sum NLL / sum tokens)`` under the reference LM, always beside the entropy.

Choices [ours]: text samples are the outputs of ``--text-tasks`` (default unconditional continuations,
``text``; an ``infill`` sample counts with its prefix and suffix), scored alone; their token ids are the output
text re-encoded by the bundle's text tokenizer (sidecars hold text), the canonical encoding of what was sampled.

A metric whose inputs are absent is skipped with one line naming the flag to set, never faked. Writes
``<samples>/metrics.json`` (or ``--out``): ``metrics`` (name, value, count, reason, details; ``std`` where the
function gives one) and ``skipped`` (name, reason); ``trimodal-eval report`` shows it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from trimodal_core.atomic import atomic_write_text
from trimodal_core.progress import progress
from trimodal_eval.commands.metric_groups import Scored, image_metrics_of, speech_metrics_of, text_metrics_of
from trimodal_eval.generation.requests import TARGET_MODALITY
from trimodal_eval.metrics import MetricResult
from trimodal_eval.metrics.inputs import Sample, read_samples


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricsCommandConfig:
    """Compute the offline metrics of a generation folder (each one whose inputs are given)."""

    samples: Path
    """Generation output folder (``trimodal-eval generate --out``): JSON sidecars with their PNG/WAV files."""
    out: Path | None = None
    """Output JSON (default ``<samples>/metrics.json``, where ``trimodal-eval report`` finds it)."""
    tokenizers: Path | None = None
    """Tokenizer bundle of the samples (as given to ``generate``): the text samples' token ids and the codecs of
    the ``--real-audio`` / ``--real-images`` round trips."""
    clip_checkpoint: Path | None = None
    """Local open_clip checkpoint file: CLIP score of the t2i samples against their captions."""
    clip_model: str = "ViT-B-32"
    """open_clip architecture of ``--clip-checkpoint``."""
    fid_checkpoint: Path | None = None
    """Local torchvision Inception-v3 state dict (e.g. ``inception_v3_google-0cc3c7bd.pth``): FID and KID."""
    reference_images: Path | None = None
    """Folder of real images that FID/KID compare the t2i samples with."""
    max_reference_images: int | None = None
    """Reference images read, by file name (None: all)."""
    reference_model: Path | None = None
    """Local Hugging Face causal LM folder: generative perplexity of the text samples."""
    text_tasks: tuple[str, ...] = ("text",)
    """Tasks whose outputs are the text samples of entropy and perplexity [ours]."""
    real_audio: Path | None = None
    """Transcribed real clips (a TSV with ``path`` and ``transcript`` columns, or a folder holding
    ``transcripts.tsv``): WER/CER reference rows on the real speech and, with ``--tokenizers``, on its codec
    round trip."""
    max_real_clips: int | None = 16
    """Real clips read, in table order (None: all; pocketsphinx takes 1-2 CPU seconds per second of audio)."""
    real_images: Path | None = None
    """Folder of real images: round-trip PSNR of the bundle's image tokenizer."""
    max_real_images: int | None = 64
    """Real images read for the round trip, by file name (None: all)."""
    seed: int = 0
    """Seed of the KID subsets."""
    device: str = "cpu"
    """Device of the CLIP, Inception and reference LM models."""

    def __post_init__(self) -> None:
        text_targets = sorted(t for t, m in TARGET_MODALITY.items() if m == "text")
        if not self.text_tasks or any(t not in text_targets for t in self.text_tasks):
            raise ValueError(f"MetricsCommandConfig.text_tasks must be tasks with text outputs "
                             f"({', '.join(text_targets)}), got {self.text_tasks}")
        for name in ("max_reference_images", "max_real_clips", "max_real_images"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"MetricsCommandConfig.{name} must be >= 1 or None, got {value}")


def run_metrics(config: MetricsCommandConfig) -> dict[str, Any]:
    """Compute, write ``metrics.json`` and return what was written (plus ``path``)."""
    started = time.perf_counter()
    samples = read_samples(config.samples)
    _check_reference_model(config.reference_model)
    bundle = _load_bundle(config.tokenizers, samples) if config.tokenizers is not None else None
    scored: Scored = []
    groups = (speech_metrics_of, image_metrics_of, text_metrics_of)
    for group in progress(groups, desc="metrics", total=len(groups), unit="group"):
        scored += group(config, samples, bundle)
    result: dict[str, Any] = {
        "format": 1, "samples": str(config.samples), "num_samples": dict(Counter(s.task for s in samples)),
        **{f"{key}s": sorted({s.sidecar.get(key) for s in samples}, key=str)  # distinct values of the samples
           for key in ("model", "model_step", "token_space")},
        "metrics": [_entry(r, n) for r, n in scored if r.status == "ok"],
        "skipped": [{"name": r.name, "reason": _skip_reason(r)} for r, _ in scored if r.status != "ok"],
        "seconds": round(time.perf_counter() - started, 3),
    }
    out = config.out or Path(config.samples) / "metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=1, sort_keys=True, allow_nan=True) + "\n")
    return {**result, "path": str(out)}


def summarize(result: dict[str, Any]) -> str:
    """The printed table: one line per metric, then one line per skipped metric with its reason."""
    lines = [f"{'metric':28s} {'value':>12s} {'count':>6s}  note"]
    for m in result["metrics"]:
        std = f" (std {m['std']:.4g})" if "std" in m else ""
        lines.append(f"{m['name']:28s} {m['value']:12.4f} {m['count']:6d}  {m['reason']}{std}")
    lines += [f"skipped {s['name']}: {s['reason']}" for s in result["skipped"]]
    lines.append(f"written: {result['path']}")
    return "\n".join(lines)


def _entry(result: MetricResult, count: int) -> dict[str, Any]:
    details = dict(result.details)
    entry: dict[str, Any] = {"name": result.name, "value": result.value, "count": count, "reason": result.reason}
    if "std" in details:
        entry["std"] = details.pop("std")
    return {**entry, "details": details}


def _skip_reason(result: MetricResult) -> str:
    """The reason without the metric functions' own name prefix (``"FID/KID: no checkpoint ..."``)."""
    head, sep, tail = result.reason.partition(": ")
    return tail if sep and (head == result.name or result.name in head.split("/")) else result.reason


def _check_reference_model(path: Path | None) -> None:
    if path is not None and any((path / sub / "model_config.json").is_file() for sub in (".", "model")):
        raise ValueError(f"--reference-model {path}: a trimodal model folder; generative perplexity needs a local "
                         "Hugging Face causal LM folder (its config.json and weights)")


def _load_bundle(path: Path, samples: list[Sample]) -> Any:
    from trimodal_tokenizers import TokenizerBundle

    if not Path(path).is_dir():
        raise ValueError(f"--tokenizers {path}: not a tokenizer bundle folder")
    bundle = TokenizerBundle.load(path)
    for sample in samples:
        theirs = sample.sidecar.get("token_space")
        if theirs is not None and theirs != bundle.token_space.fingerprint:
            raise ValueError(f"--tokenizers {path}: token space {bundle.token_space.fingerprint} differs from the "
                             f"samples' {theirs} ({sample.path})")
    return bundle
