"""Generative perplexity of generated text under a local reference language model, with the samples' entropy.

A low generative perplexity alone is flattered by low-entropy (repetitive) samples and by float32 Gumbel
sampling (arXiv 2409.02908), so the mean per-sample token entropy is always reported beside it: the entropy
of the empirical distribution of token ids within each sample (nats), averaged over samples.

The reference model is a Hugging Face causal LM in a local folder (``transformers`` with
``local_files_only=True``; the ``trimodal-eval[text]`` extra). Without one the metric is skipped.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from trimodal_eval.metrics.result import MetricResult


def sample_entropy(token_ids: Sequence[Sequence[int]]) -> float:
    """Mean over samples of the entropy (nats) of each sample's token-id histogram."""
    values = []
    for ids in token_ids:
        if not ids:
            continue
        counts = Counter(ids)
        total = len(ids)
        values.append(-sum(c / total * math.log(c / total) for c in counts.values()))
    if not values:
        raise ValueError("no non-empty sample to measure entropy on")
    return float(sum(values) / len(values))


def generative_perplexity(texts: Sequence[str], sample_ids: Sequence[Sequence[int]], *,
                          reference: Path | None, device: str = "cpu", max_length: int = 1024,
                          option: str = "--reference-lm") -> list[MetricResult]:
    """Perplexity of ``texts`` under ``reference`` (exp of the mean token NLL) and the entropy of ``sample_ids``
    (``option`` is the flag the skip message names)."""
    entropy = MetricResult("sample entropy", sample_entropy(sample_ids), reason="nats, token-id histogram per sample")
    if reference is None or not Path(reference).is_dir():
        why = (f"generative perplexity: no reference model (set {option} to a local Hugging Face model "
               "folder; nothing is downloaded)") if reference is None else f"reference model not found: {reference}"
        return [MetricResult.skipped("generative perplexity", why), entropy]
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        return [MetricResult.skipped("generative perplexity",
                                     "needs transformers: pip install 'trimodal-eval[text]'"), entropy]
    tokenizer = AutoTokenizer.from_pretrained(str(reference), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(reference), local_files_only=True).to(device).eval()
    total_nll, total_tokens = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length).input_ids.to(device)
            if ids.shape[1] < 2:
                continue
            out = model(ids, labels=ids)
            total_nll += float(out.loss) * (ids.shape[1] - 1)
            total_tokens += ids.shape[1] - 1
    if total_tokens == 0:
        return [MetricResult.skipped("generative perplexity", "every sample is shorter than 2 tokens"), entropy]
    ppl = math.exp(total_nll / total_tokens)
    return [MetricResult("generative perplexity", ppl, reason=f"{total_tokens} tokens under {reference}"), entropy]
