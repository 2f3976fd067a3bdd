"""Which span each position belongs to, and which span of a pair row is its condition.

Span modality. Content tokens take their own modality (``modality_BL`` of the batch). A *maskable special*
(``DiffusionConfig.maskable_specials``, default ``eot``) takes the modality of the span it bounds
(:data:`SPECIAL_SPAN_MODALITY`: ``bot``/``eot`` text, ``boi``/``eoi`` image, ``boa``/``eoa`` audio), so it
is masked with that span and the model predicts it (a masked text position may answer ``eot``: text
generation learns where to stop). Every other special (task tokens, other boundaries, ``pad``) is
``SPECIAL``: always visible, never in the loss.

Condition span. A pair row starts with its task token (``[t2i] [bot] caption [eot] [boi] image [eoi]``, see
``trimodal_tokenizers.sequence``). Its condition is its *first* span: all positions of the span modality of
the first non-SPECIAL position, up to and including that span's closing boundary token (``eot``, ``eoi`` or
``eoa``). This is ``TASK_SPANS[task][0]`` of the tokenizers' layout (caption for t2i, image for i2t,
transcript for t2s, audio for s2t), found from the row itself so ``trimodal_train`` needs no tokenizer.
Only rows whose first token is one of ``condition_tasks`` have one.
"""

from __future__ import annotations

import torch

from trimodal_core import Modality, TokenSpace

SPECIAL_SPAN_MODALITY: dict[str, Modality] = {
    "bot": Modality.TEXT,
    "eot": Modality.TEXT,
    "boi": Modality.IMAGE,
    "eoi": Modality.IMAGE,
    "boa": Modality.AUDIO,
    "eoa": Modality.AUDIO,
}
"""Span modality of each boundary token that may be declared maskable."""
_CLOSING = {Modality.TEXT: "eot", Modality.IMAGE: "eoi", Modality.AUDIO: "eoa"}


def span_modality(
    tokens_BL: torch.Tensor,
    modality_BL: torch.Tensor,
    token_space: TokenSpace,
    maskable_specials: tuple[str, ...] = ("eot",),
) -> torch.Tensor:
    """``uint8`` span modality per position (TEXT/IMAGE/AUDIO for content and maskable specials, else SPECIAL)."""
    span_BL = modality_BL.to(torch.uint8).clone()
    for name in maskable_specials:
        if name not in SPECIAL_SPAN_MODALITY:
            raise ValueError(f"maskable special {name!r} is not one of {', '.join(SPECIAL_SPAN_MODALITY)}")
        span_BL[tokens_BL == token_space.special_id(name)] = int(SPECIAL_SPAN_MODALITY[name])
    return span_BL


def pair_rows(tokens_BL: torch.Tensor, token_space: TokenSpace, condition_tasks: tuple[str, ...]) -> torch.Tensor:
    """``bool[B]``: rows whose first token is one of ``condition_tasks`` (tasks absent from the space ignored)."""
    known = set(token_space.config.tasks)
    ids = [token_space.task_id(name) for name in condition_tasks if name in known]
    if not ids or tokens_BL.shape[1] == 0:
        return torch.zeros(tokens_BL.shape[0], dtype=torch.bool, device=tokens_BL.device)
    return torch.isin(tokens_BL[:, 0], torch.tensor(ids, dtype=tokens_BL.dtype, device=tokens_BL.device))


def condition_span(
    tokens_BL: torch.Tensor,
    span_modality_BL: torch.Tensor,
    token_space: TokenSpace,
    condition_tasks: tuple[str, ...],
) -> torch.Tensor:
    """``bool[B, L]``: the non-SPECIAL positions of each pair row's first span (False on other rows).

    Samplers build the unconditional input of classifier-free guidance by writing ``mask`` here.
    """
    device = tokens_BL.device
    is_pair_B = pair_rows(tokens_BL, token_space, condition_tasks)
    content_BL = span_modality_BL != Modality.SPECIAL
    first_B = content_BL.to(torch.int8).argmax(dim=1)
    cond_mod_B = span_modality_BL.gather(1, first_B[:, None])[:, 0]
    is_pair_B = is_pair_B & content_BL.any(dim=1)
    # Closing token id per modality code (index 0, SPECIAL, is unused: such rows are not pairs).
    close_ids = [-1] + [token_space.special_id(_CLOSING[m]) for m in (Modality.TEXT, Modality.IMAGE, Modality.AUDIO)]
    close_B = torch.tensor(close_ids, dtype=tokens_BL.dtype, device=device)[cond_mod_B.long()]
    is_close_BL = (tokens_BL == close_B[:, None]).to(torch.int32)
    closed_before_BL = (is_close_BL.cumsum(dim=1) - is_close_BL) > 0
    return is_pair_B[:, None] & content_BL & (span_modality_BL == cond_mod_B[:, None]) & ~closed_before_BL
