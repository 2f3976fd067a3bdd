"""The metrics command's three groups (speech, images, text): which metric runs on which samples, and the skip
(with the flag to set) when its inputs are absent. Each returns ``(MetricResult, count)`` pairs, ``count`` being
the utterances, images or samples measured (0 when skipped); the formulas live in :mod:`trimodal_eval.metrics`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trimodal_eval.generation.audio_files import read_wav
from trimodal_eval.metrics import (
    MetricResult,
    SpeechRecognizer,
    clip_score,
    fid_kid,
    generative_perplexity,
    image_roundtrip,
    normalize_transcript,
    speech_metrics,
    speech_roundtrip,
)
from trimodal_eval.metrics.inputs import Sample, read_image_folder, read_transcribed_clips

if TYPE_CHECKING:
    from trimodal_eval.commands.metrics import MetricsCommandConfig

Scored = list[tuple[MetricResult, int]]
"""Metric results with the number of items (utterances, images, samples) each was computed on."""


def _skip(names: tuple[str, ...], reason: str) -> Scored:
    return [(MetricResult.skipped(name, reason), 0) for name in names]


def speech_metrics_of(config: MetricsCommandConfig, samples: list[Sample], bundle: Any) -> Scored:
    generated = ("generated speech WER", "generated speech CER")
    real = ("real speech WER", "real speech CER")
    codec = ("codec round trip WER", "codec round trip CER")
    t2s = [s for s in samples if s.task == "t2s"]
    if not t2s and config.real_audio is None:
        return [*_skip(generated, f"no t2s samples in {config.samples}"),
                *_skip(real + codec, "no real clips (set --real-audio to a transcript table)")]
    try:
        recognizer = SpeechRecognizer()
    except ImportError as exc:
        return _skip(generated + real + codec, str(exc))
    scored: Scored = []
    if t2s:
        for s in t2s:
            if not normalize_transcript(str(s.sidecar.get("prompt") or "")):
                raise ValueError(f"{s.path}: t2s prompt text is empty after normalization (nothing to score)")
        results = speech_metrics("generated speech", [read_wav(s.output_path) for s in t2s],
                                 [str(s.sidecar["prompt"]) for s in t2s], recognizer)
        results[0].details["ids"] = [s.id for s in t2s]
        scored += [(r, len(t2s)) for r in results]
    else:
        scored += _skip(generated, f"no t2s samples in {config.samples}")
    if config.real_audio is None:
        return scored + _skip(real + codec, "no real clips (set --real-audio to a transcript table)")
    clips = read_transcribed_clips(config.real_audio, max_clips=config.max_real_clips)
    waves, texts = [(w, r) for w, r, _ in clips], [t for _, _, t in clips]
    if bundle is None or bundle.audio is None:
        why = ("no audio tokenizer (set --tokenizers to a bundle with one)" if bundle is not None
               else "no codec (set --tokenizers to the samples' tokenizer bundle)")
        return scored + [(r, len(clips)) for r in speech_metrics("real speech", waves, texts, recognizer)] + \
            _skip(codec, why)
    return scored + [(r, len(clips)) for r in speech_roundtrip(bundle.audio, waves, texts, recognizer)]


def image_metrics_of(config: MetricsCommandConfig, samples: list[Sample], bundle: Any) -> Scored:
    from trimodal_tokenizers.image_decode import open_image

    t2i = [s for s in samples if s.task == "t2i"]
    scored: Scored = []
    if not t2i:
        scored += _skip(("CLIP score", "FID", "KID"), f"no t2i samples in {config.samples}")
    else:
        images = [np.asarray(open_image(s.output_path)) for s in t2i]
        try:
            clip = clip_score(images, [str(s.sidecar.get("prompt") or "") for s in t2i],
                              checkpoint=config.clip_checkpoint, model_name=config.clip_model, device=config.device)
        except ImportError:
            clip = MetricResult.skipped("CLIP score", "needs open_clip: pip install 'trimodal-eval[image]'")
        if clip.status == "ok":
            clip.details["ids"] = [s.id for s in t2i]
        scored.append((clip, len(t2i)))
        scored += [(r, len(t2i)) for r in _fid_kid(config, images)]
    if config.real_images is None:
        return scored + _skip(("image round-trip PSNR",), "no real images (set --real-images to an image folder)")
    if bundle is None or bundle.image is None:
        why = ("no image tokenizer (set --tokenizers to a bundle with one)" if bundle is not None
               else "no codec (set --tokenizers to the samples' tokenizer bundle)")
        return scored + _skip(("image round-trip PSNR",), why)
    real = read_image_folder(config.real_images, max_images=config.max_real_images, flag="--real-images")
    return [*scored, (image_roundtrip(bundle.image, real), len(real))]


def _fid_kid(config: MetricsCommandConfig, images: list[np.ndarray]) -> list[MetricResult]:
    checkpoint = config.fid_checkpoint
    if checkpoint is None or not Path(checkpoint).is_file():
        return fid_kid([], images, checkpoint=checkpoint, option="--fid-checkpoint")
    if config.reference_images is None:
        why = "no reference images (set --reference-images to a folder of real images)"
        return [MetricResult.skipped(n, why) for n in ("FID", "KID")]
    real = [np.asarray(im) for im in read_image_folder(config.reference_images, max_images=config.max_reference_images,
                                                        flag="--reference-images")]
    if len(real) < 2 or len(images) < 2:
        why = f"needs at least 2 real and 2 generated images, got {len(real)} and {len(images)}"
        return [MetricResult.skipped(n, why) for n in ("FID", "KID")]
    try:
        return fid_kid(real, images, checkpoint=checkpoint, device=config.device, seed=config.seed)
    except ImportError:
        why = "needs torchvision: pip install 'trimodal-eval[image]'"
        return [MetricResult.skipped(n, why) for n in ("FID", "KID")]


def text_metrics_of(config: MetricsCommandConfig, samples: list[Sample], bundle: Any) -> Scored:
    names = ("generative perplexity", "sample entropy")
    chosen = [s for s in samples if s.task in config.text_tasks]
    texts = [str(s.sidecar.get("full_text") or s.sidecar.get("output_text") or "") if s.task == "infill"
             else str(s.sidecar.get("output_text") or "") for s in chosen]
    if not chosen:
        return _skip(names, f"no samples of task(s) {', '.join(config.text_tasks)} in {config.samples}")
    if bundle is None:
        ppl_why = ("needs --tokenizers too (the samples' entropy is always reported beside it)"
                   if config.reference_model is not None else
                   "no reference model (set --reference-model to a local Hugging Face model folder)")
        return [(MetricResult.skipped(names[0], ppl_why), 0),
                (MetricResult.skipped(names[1], "no token ids (set --tokenizers to the samples' tokenizer bundle)"), 0)]
    ids = [np.asarray(bundle.text.encode(t)).tolist() if t else [] for t in texts]
    kept = [(t, i) for t, i in zip(texts, ids, strict=True) if i]
    if not kept:
        return _skip(names, f"every text sample of {config.samples} is empty")
    results = generative_perplexity([t for t, _ in kept], [i for _, i in kept], reference=config.reference_model,
                                    device=config.device, option="--reference-model")
    return [(r, len(kept)) for r in results]
