"""Which vocabulary ids each position may predict: the ``allowed_mask_MV`` table of the model.

Row ``m`` (a :class:`trimodal_core.Modality` value) is True on the ids a position whose *span modality* is
``m`` may be given:

* ``SPECIAL`` (no span, or restriction off): every id except ``pad`` and ``mask``;
* ``TEXT``: the token space's text range plus the ``maskable_specials`` (default ``("eot",)``: text spans
  learn where they stop, matching ``DiffusionConfig.maskable_specials``);
* ``IMAGE`` / ``AUDIO``: that modality's range (all audio codebooks).

``pad`` and ``mask`` are never allowed, in any row: the model never predicts them. The ranges come from
:meth:`TokenSpace.allowed_mask`; no offset is computed here.
"""

from __future__ import annotations

import numpy as np
import torch

from trimodal_core.token_space import Modality, TokenSpace

DEFAULT_MASKABLE_SPECIALS: tuple[str, ...] = ("eot",)


def allowed_mask_MV(
    token_space: TokenSpace, maskable_specials: tuple[str, ...] = DEFAULT_MASKABLE_SPECIALS
) -> torch.Tensor:
    """Boolean ``[4, V]`` table of predictable ids per span modality (see the module docstring)."""
    rows = np.zeros((len(Modality), token_space.vocab_size), dtype=bool)
    rows[Modality.SPECIAL] = True
    for modality in (Modality.TEXT, Modality.IMAGE, Modality.AUDIO):
        rows[modality] = token_space.allowed_mask(modality)
    for name in maskable_specials:
        if name in ("pad", "mask"):
            raise ValueError(f"maskable_specials: {name!r} can never be predicted")
        try:
            rows[Modality.TEXT, token_space.special_id(name)] = True
        except ValueError as exc:
            raise ValueError(f"maskable_specials: {exc}") from None
    rows[:, [token_space.pad_id, token_space.mask_id]] = False
    return torch.from_numpy(rows)
