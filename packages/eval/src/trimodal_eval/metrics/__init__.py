"""Offline metrics: speech WER/CER (pocketsphinx), CLIP score and FID/KID (local checkpoints), generative
perplexity with sample entropy, tokenizer round trips (PSNR, WER/CER).
A metric without its checkpoint is skipped, never faked."""

from trimodal_eval.metrics.generative_perplexity import generative_perplexity, sample_entropy
from trimodal_eval.metrics.image_quality import clip_score, fid_kid, frechet_distance, kernel_inception_distance
from trimodal_eval.metrics.result import MetricResult
from trimodal_eval.metrics.roundtrip import image_roundtrip, psnr, speech_roundtrip
from trimodal_eval.metrics.speech import ErrorRates, SpeechRecognizer, error_rates, speech_metrics
from trimodal_eval.metrics.text_normalize import normalize_transcript

__all__ = [
    "ErrorRates",
    "MetricResult",
    "SpeechRecognizer",
    "clip_score",
    "error_rates",
    "fid_kid",
    "frechet_distance",
    "generative_perplexity",
    "image_roundtrip",
    "kernel_inception_distance",
    "normalize_transcript",
    "psnr",
    "sample_entropy",
    "speech_metrics",
    "speech_roundtrip",
]
