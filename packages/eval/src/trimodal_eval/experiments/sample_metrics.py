"""Sample metrics per modality for design-space studies, from held-out token rows (no tokenizer bundle needed).

A study compares models trained under different settings on the same held-out examples, so the prompts are
built from the held-out rows themselves, at the token level (``trimodal_tokenizers.sequence`` layout):

=========  ====================================================  =============================================
task        prompt (``M`` = ``mask``, the generated target)       metric [ours]
=========  ====================================================  =============================================
text        ``[text] [bot] first P text tokens M * n``            unigram generative perplexity + entropy
t2i         the held-out pair with its image codes masked         JS divergence of code histograms + entropy
t2s         the held-out pair with its audio codes masked         JS divergence of code histograms + entropy
=========  ====================================================  =============================================

Metrics [ours; the paper's sample metrics are not known to us]:

* text: ``gen_ppl_unigram = exp(-(1/T) sum_i log q(y_i))``, the perplexity of the generated tokens ``y``
  (up to and including the first ``eot``) under the add-one unigram ``q`` of the *training* split's text
  positions (the reference model is the unigram of ``trimodal_eval.likelihood.unigram``; a study trains
  no separate reference LM). A low value alone is flattered by repetitive samples, so the mean per-sample
  token entropy (``trimodal_eval.metrics.generative_perplexity.sample_entropy``) is reported beside it, and
  both are also given for the held-out continuations themselves (what real text scores).
* image and audio: ``JS(p_gen || p_val) = 1/2 KL(p_gen || m) + 1/2 KL(p_val || m)``, ``m = (p_gen + p_val)/2``
  (nats, in ``[0, log 2]``), between the histogram of generated codes and the histogram of every held-out
  code of that modality (global ids, so each audio codebook has its own bins), plus the mean per-sample
  code entropy (generated and held-out). 0 means the generated codes are distributed like real ones; the
  JS of the prompts' own held-out targets (``heldout_js_floor``) is what real codes score at that sample size.

Sampling uses the per-modality defaults of ``trimodal_eval.sampling.defaults`` (with an optional step count)
through :func:`trimodal_eval.sampling.build_sampler`, in batches, seeded per row.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from trimodal_core import Modality, TokenSpace
from trimodal_eval.denoiser import Denoiser
from trimodal_eval.likelihood.rows import Example
from trimodal_eval.metrics.generative_perplexity import sample_entropy
from trimodal_eval.sampling import PromptRow, build_sampler, collate, default_sampler_config
from trimodal_eval.sampling.vocab import AUDIO_BOOK, IMAGE, TEXT
from trimodal_train.diffusion import condition_span, span_modality

SAMPLE_TASKS = ("text", "t2i", "t2s")
"""Tasks sampled, one per target modality."""
TASK_MODALITY = {"text": "text", "t2i": "image", "t2s": "audio"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SampleMetricsConfig:
    """How many held-out prompts are sampled per task, and how."""

    num_prompts: int = 8
    """Held-out examples used as prompts per task (fewer when the split has fewer)."""
    text_prompt_tokens: int = 16
    """Text tokens of a held-out document kept as the prompt of a continuation."""
    text_new_tokens: int = 32
    """Text tokens generated per continuation."""
    image_steps: int | None = None
    """Sampler steps for images (None: the image default, ``trimodal_eval.sampling.defaults``)."""
    audio_steps: int | None = None
    """Sampler steps for audio (None: the audio default)."""
    batch_size: int = 8
    """Prompt rows per sampler call."""
    seed: int = 0
    """Sampler seed (row ``r`` of task ``k`` draws from (seed, k, r))."""

    def __post_init__(self) -> None:
        for name in ("num_prompts", "text_prompt_tokens", "text_new_tokens", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"SampleMetricsConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("image_steps", "audio_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"SampleMetricsConfig.{name} must be >= 1 or None, got {value!r}")


def _spans(example: Example, space: TokenSpace, maskable: tuple[str, ...]) -> np.ndarray:
    tokens = torch.from_numpy(example.tokens[None].copy())
    return span_modality(tokens, torch.from_numpy(example.modality[None].copy()), space, maskable)[0].numpy()


def _content(example: Example, modality: Modality) -> np.ndarray:
    """Positions of ``modality`` content tokens (boundary specials excluded)."""
    return example.modality == int(modality)


def prompt_row(example: Example, task: str, space: TokenSpace, config: SampleMetricsConfig, *,
               maskable_specials: tuple[str, ...], seed: int) -> tuple[PromptRow, np.ndarray] | None:
    """The prompt of one held-out example and its held-out target tokens (None: the example cannot serve)."""
    span = _spans(example, space, maskable_specials)
    if task == "text":
        text_pos = np.flatnonzero(_content(example, Modality.TEXT))
        if text_pos.size < config.text_prompt_tokens + 1:
            return None
        cut = int(text_pos[config.text_prompt_tokens - 1]) + 1  # keep the prompt's leading specials
        n = config.text_new_tokens
        tokens = np.concatenate([example.tokens[:cut], np.full(n, space.mask_id, np.int64)])
        spans = np.concatenate([span[:cut], np.full(n, int(Modality.TEXT), np.uint8)])
        target = np.concatenate([np.zeros(cut, bool), np.ones(n, bool)])
        klass = np.where(target, TEXT, 0).astype(np.int64)
        reference = example.tokens[cut:][span[cut:] == int(Modality.TEXT)][:n]
        return PromptRow(tokens=tokens, span_modality=spans, target=target, vocab_class=klass,
                         condition=np.zeros(tokens.size, bool), seed=seed), reference
    modality = Modality.IMAGE if task == "t2i" else Modality.AUDIO
    target = _content(example, modality)
    if not target.any() or space.task_id(task) != int(example.tokens[0]):
        return None
    reference = example.tokens[target].copy()
    if modality == Modality.IMAGE:
        klass = np.where(target, IMAGE, 0).astype(np.int64)
    else:
        klass = np.zeros(example.tokens.size, np.int64)
        klass[target] = AUDIO_BOOK + space.audio_codebook_of(reference)
    tokens = np.where(target, space.mask_id, example.tokens)
    cond = condition_span(torch.from_numpy(example.tokens[None].copy()), torch.from_numpy(span[None].copy()), space,
                          (task,))[0].numpy() & ~target
    return PromptRow(tokens=tokens, span_modality=span.copy(), target=target, vocab_class=klass, condition=cond,
                     seed=seed), reference


def histogram(token_lists: Sequence[np.ndarray], vocab_size: int) -> np.ndarray:
    """Counts of every id over all lists (float64 ``[V]``)."""
    counts = np.zeros(vocab_size, np.float64)
    for ids in token_lists:
        counts += np.bincount(np.asarray(ids, np.int64), minlength=vocab_size)
    return counts


def js_divergence(counts_p: np.ndarray, counts_q: np.ndarray) -> float:
    """Jensen-Shannon divergence (nats) between two histograms (each normalized; 0 when equal)."""
    if counts_p.sum() <= 0 or counts_q.sum() <= 0:
        raise ValueError("js_divergence: an empty histogram")
    p, q = counts_p / counts_p.sum(), counts_q / counts_q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        keep = a > 0
        return float(np.sum(a[keep] * np.log(a[keep] / m[keep])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def unigram_log_probs(train_examples: Sequence[Example], space: TokenSpace, *, maskable_specials: tuple[str, ...],
                      smoothing: float = 1.0) -> np.ndarray:
    """Add-``smoothing`` log probabilities of the ids a text span may take, from the training text positions
    (the same counting as ``trimodal_eval.likelihood.unigram``); ``-inf`` outside text."""
    allowed = np.asarray(space.allowed_mask(Modality.TEXT), dtype=bool).copy()
    for name in maskable_specials:
        allowed[space.special_id(name)] = True
    text = [ex.tokens[_spans(ex, space, maskable_specials) == int(Modality.TEXT)] for ex in train_examples]
    counts = histogram(text, space.vocab_size)
    probs = np.where(allowed, counts + smoothing, 0.0)
    return np.log(probs / probs.sum(), where=allowed, out=np.full(space.vocab_size, -np.inf))


def _until_eot(ids: np.ndarray, eot: int) -> np.ndarray:
    hit = np.flatnonzero(ids == eot)
    return ids[: int(hit[0]) + 1] if hit.size else ids


def generate_targets(model: Denoiser, rows: Sequence[PromptRow], *, modality: str, space: TokenSpace,
                     maskable_specials: tuple[str, ...], steps: int | None, seed: int, batch_size: int,
                     device: str = "cpu") -> list[np.ndarray]:
    """The generated target tokens of each row (text stops at padding after a truncating ``eot``)."""
    overrides: dict[str, Any] = {"seed": seed}
    if steps is not None:
        overrides["steps"] = steps
    sampler = build_sampler(default_sampler_config(modality, **overrides), space, maskable_specials=maskable_specials)
    out: list[np.ndarray] = []
    for start in range(0, len(rows), batch_size):
        batch = collate(list(rows[start:start + batch_size]), pad_id=space.pad_id, device=device)
        result = sampler.sample(model, batch)
        tokens, target = result.tokens_BL.cpu().numpy(), result.target_BL.cpu().numpy()
        for b in range(tokens.shape[0]):
            ids = tokens[b][target[b]]
            out.append(ids[ids != space.pad_id])
    return out


def sample_metrics(model: Denoiser, val_examples: Sequence[Example], train_examples: Sequence[Example], *,
                   space: TokenSpace, maskable_specials: tuple[str, ...], config: SampleMetricsConfig,
                   device: str = "cpu") -> dict[str, dict[str, Any]]:
    """Per target modality: the metric values of generated and of held-out targets (module docstring)."""
    results: dict[str, dict[str, Any]] = {}
    for k, task in enumerate(SAMPLE_TASKS):
        modality = TASK_MODALITY[task]
        built = []
        for i, example in enumerate(e for e in val_examples if e.task == task):
            made = prompt_row(example, task, space, config, maskable_specials=maskable_specials, seed=1000 * k + i)
            if made is not None:
                built.append(made)
            if len(built) == config.num_prompts:
                break
        if not built:
            results[modality] = {"skipped": f"no held-out {task} example fits the prompt settings"}
            continue
        rows, references = [r for r, _ in built], [ref for _, ref in built]
        steps = {"text": None, "image": config.image_steps, "audio": config.audio_steps}[modality]
        generated = generate_targets(model, rows, modality=modality, space=space, maskable_specials=maskable_specials,
                                     steps=steps, seed=config.seed + k, batch_size=config.batch_size, device=device)
        entry: dict[str, Any] = {"prompts": len(rows), "task": task}
        if modality == "text":
            log_q = unigram_log_probs(train_examples, space, maskable_specials=maskable_specials)
            eot = space.special_id("eot")
            for name, lists in (("generated", generated), ("heldout", references)):
                ids = [_until_eot(np.asarray(x, np.int64), eot) for x in lists]
                flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
                nll = float(-log_q[flat].mean()) if flat.size else math.nan
                entry[f"{name}_gen_ppl_unigram"] = math.exp(nll) if math.isfinite(nll) else math.nan
                entry[f"{name}_entropy"] = sample_entropy([x.tolist() for x in ids if x.size])
                entry[f"{name}_mean_length"] = float(np.mean([x.size for x in ids]))
        else:
            code = Modality.IMAGE if modality == "image" else Modality.AUDIO
            val_codes = [e.tokens[_content(e, code)] for e in val_examples if _content(e, code).any()]
            val_hist = histogram(val_codes, space.vocab_size)
            entry["js_to_heldout"] = js_divergence(histogram(generated, space.vocab_size), val_hist)
            entry["generated_entropy"] = sample_entropy([x.tolist() for x in generated if x.size])
            entry["heldout_entropy"] = sample_entropy([x.tolist() for x in references])
            # What a sampler of real codes scores with this many samples (the JS of a small sample is > 0).
            entry["heldout_js_floor"] = js_divergence(histogram(references, space.vocab_size), val_hist)
            entry["heldout_codes"] = int(val_hist.sum())
        results[modality] = entry
    return results
