"""WER and CER of speech with an offline recognizer: pocketsphinx (its English acoustic model, language model
and dictionary ship in the wheel) and ``jiwer``, after :func:`normalize_transcript` on both sides.

pocketsphinx's default model wants 16 kHz mono int16: other rates are resampled with scipy's polyphase
filter (``resample_poly``). Use it three ways, as reference rows for generated speech: on the real
recordings, on their codec round trip (the tokenizer's floor), and on generated speech against its prompt.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from trimodal_eval.metrics.result import MetricResult
from trimodal_eval.metrics.text_normalize import normalize_transcript

RECOGNIZER_RATE = 16_000


def to_recognizer_pcm(wave: np.ndarray, sample_rate: int) -> bytes:
    """Mono float or int16 audio at any rate -> 16 kHz int16 bytes."""
    from scipy.signal import resample_poly

    x = np.asarray(wave)
    if x.ndim == 2:
        x = x.mean(axis=0 if x.shape[0] < x.shape[1] else 1)
    if x.ndim != 1:
        raise ValueError(f"audio must be 1-D (or [channels, samples]), got shape {x.shape}")
    if x.dtype == np.int16:
        x = x.astype(np.float64) / 32768.0
    x = x.astype(np.float64)
    if sample_rate != RECOGNIZER_RATE:
        g = math.gcd(int(sample_rate), RECOGNIZER_RATE)
        x = resample_poly(x, RECOGNIZER_RATE // g, int(sample_rate) // g)
    return (np.clip(x, -1.0, 1.0) * 32767).astype("<i2").tobytes()


class SpeechRecognizer:
    """An offline English recognizer (pocketsphinx); one decoder reused for every utterance."""

    def __init__(self) -> None:
        try:
            import pocketsphinx
        except ImportError:
            raise ImportError("speech metrics need pocketsphinx: pip install pocketsphinx") from None
        self._decoder = pocketsphinx.Decoder(samprate=RECOGNIZER_RATE, loglevel="ERROR")

    def transcribe(self, wave: np.ndarray, sample_rate: int) -> str:
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(to_recognizer_pcm(wave, sample_rate), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


@dataclasses.dataclass(frozen=True)
class ErrorRates:
    wer: float
    cer: float
    num_utterances: int
    references: tuple[str, ...]
    hypotheses: tuple[str, ...]


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> ErrorRates:
    """Corpus WER and CER (jiwer) after normalization; an empty hypothesis counts as all deletions."""
    import jiwer

    if len(references) != len(hypotheses) or not references:
        raise ValueError(f"need equal, non-zero numbers of references and hypotheses, got "
                         f"{len(references)} and {len(hypotheses)}")
    refs = [normalize_transcript(r) for r in references]
    if not all(refs):
        raise ValueError("a reference transcript is empty after normalization")
    hyps = [normalize_transcript(h) for h in hypotheses]
    return ErrorRates(wer=float(jiwer.wer(refs, hyps)), cer=float(jiwer.cer(refs, hyps)),
                      num_utterances=len(refs), references=tuple(refs), hypotheses=tuple(hyps))


def speech_metrics(name: str, waves: Sequence[tuple[np.ndarray, int]], references: Sequence[str],
                   recognizer: SpeechRecognizer | None = None) -> list[MetricResult]:
    """``<name> WER`` and ``<name> CER`` of ``waves`` (audio, rate) against their reference texts."""
    try:
        rec = recognizer or SpeechRecognizer()
    except ImportError as exc:
        return [MetricResult.skipped(f"{name} WER", str(exc)), MetricResult.skipped(f"{name} CER", str(exc))]
    hyps = [rec.transcribe(w, r) for w, r in waves]
    rates = error_rates(references, hyps)
    details = {"references": list(rates.references), "hypotheses": list(rates.hypotheses)}
    return [MetricResult(f"{name} WER", rates.wer, details=details, reason=f"{rates.num_utterances} utterances"),
            MetricResult(f"{name} CER", rates.cer, reason=f"{rates.num_utterances} utterances")]
