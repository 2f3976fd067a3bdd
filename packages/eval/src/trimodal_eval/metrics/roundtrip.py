"""Tokenizer round trips, the floor under every generated sample: image PSNR through the image tokenizer and
speech WER/CER through the audio tokenizer (reference rows beside the real recordings' own WER/CER)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trimodal_eval.metrics.result import MetricResult
from trimodal_eval.metrics.speech import SpeechRecognizer, speech_metrics


def psnr(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) of two uint8 images of the same shape (peak 255)."""
    a, b = np.asarray(reference, np.float64), np.asarray(reconstruction, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"PSNR of images of different shapes {a.shape} and {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def image_roundtrip(tokenizer: Any, images: Sequence[Any]) -> MetricResult:
    """Mean PSNR of PIL ``images`` (resized to the tokenizer's resolution) after encode + decode."""
    from PIL import Image

    if not images:
        raise ValueError("no images for the round trip")
    size = int(tokenizer.resolution)
    originals = [im.convert("RGB").resize((size, size), Image.Resampling.BICUBIC) for im in images]
    decoded = tokenizer.decode_batch(tokenizer.encode_batch(originals))
    values = [psnr(np.asarray(o), np.asarray(d.convert("RGB"))) for o, d in zip(originals, decoded, strict=True)]
    return MetricResult("image round-trip PSNR", float(np.mean(values)), reason=f"{len(values)} images, dB",
                        details={"per_image": values})


def speech_roundtrip(tokenizer: Any, clips: Sequence[tuple[np.ndarray, int]], transcripts: Sequence[str],
                     recognizer: SpeechRecognizer | None = None) -> list[MetricResult]:
    """WER/CER of the real clips and of their round trip through ``tokenizer`` (encode + decode)."""
    try:
        rec = recognizer or SpeechRecognizer()
    except ImportError as exc:
        return [MetricResult.skipped("speech WER", str(exc))]
    decoded = [(tokenizer.decode(tokenizer.encode(wave, rate)), int(tokenizer.sample_rate)) for wave, rate in clips]
    return [*speech_metrics("real speech", clips, transcripts, rec),
            *speech_metrics("codec round trip", decoded, transcripts, rec)]
