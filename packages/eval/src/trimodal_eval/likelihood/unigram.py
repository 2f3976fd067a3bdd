"""A unigram baseline for text: the perplexity a context-free model reaches on the same held-out positions.

Counts come from a *training* corpus (never the evaluated split), over the ids a text span may emit (text ids
plus the maskable specials such as ``eot``), with add-``smoothing`` (Laplace by default) so no held-out token
has zero probability. The evaluated positions are the eligible text positions of the held-out rows (the
same ones the ELBO's text NELBO averages over), so ``exp(NELBO_text) < unigram perplexity`` says the model
learned more than token frequencies.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from trimodal_core import Modality, TokenSpace
from trimodal_eval.likelihood.rows import EvalRows, read_examples
from trimodal_train.diffusion import span_modality


@dataclasses.dataclass(frozen=True)
class UnigramBaseline:
    nll_per_token: float
    perplexity: float
    train_tokens: int
    eval_tokens: int

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def _text_positions(tokens: np.ndarray, modality: np.ndarray, space: TokenSpace,
                    maskable_specials: tuple[str, ...]) -> np.ndarray:
    import torch

    span = span_modality(torch.from_numpy(tokens[None].copy()), torch.from_numpy(modality[None].copy()), space,
                         maskable_specials)
    return tokens[(span[0] == int(Modality.TEXT)).numpy()]


def unigram_baseline(train_manifests: list[Path], rows: EvalRows, space: TokenSpace, *,
                     maskable_specials: tuple[str, ...] = ("eot",), smoothing: float = 1.0,
                     max_examples: int | None = None) -> UnigramBaseline:
    """Fit on ``train_manifests`` (text positions of every example), evaluate on ``rows``' text positions."""
    if smoothing <= 0:
        raise ValueError(f"smoothing must be positive, got {smoothing}")
    counts = np.zeros(space.vocab_size, dtype=np.float64)
    for manifest in train_manifests:
        for example in read_examples(manifest, max_examples=max_examples):
            ids = _text_positions(example.tokens, example.modality, space, maskable_specials)
            counts += np.bincount(ids, minlength=space.vocab_size)
    allowed = np.asarray(space.allowed_mask(Modality.TEXT), dtype=bool).copy()
    for name in maskable_specials:
        allowed[space.special_id(name)] = True
    train_tokens = int(counts[allowed].sum())
    if train_tokens == 0:
        raise ValueError(f"no text tokens in {[str(p) for p in train_manifests]}")
    probs = np.where(allowed, counts + smoothing, 0.0)
    log_p = np.log(probs / probs.sum(), where=allowed, out=np.full(space.vocab_size, -np.inf))
    held = []
    for b in range(rows.num_rows):
        real = rows.loss_mask_BL[b].numpy()
        held.append(_text_positions(rows.tokens_BL[b].numpy()[real], rows.modality_BL[b].numpy()[real], space,
                                    maskable_specials))
    ids = np.concatenate(held) if held else np.zeros(0, np.int64)
    if ids.size == 0:
        raise ValueError("the evaluated rows hold no text position")
    nll = float(-log_p[ids].mean())
    return UnigramBaseline(nll_per_token=nll, perplexity=math.exp(nll), train_tokens=train_tokens,
                           eval_tokens=int(ids.size))
