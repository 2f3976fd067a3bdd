"""Tiny token space, real layouts and toy denoisers with known ELBOs for the likelihood tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trimodal_core import Modality, TokenSpace, TokenSpaceConfig
from trimodal_eval.likelihood.rows import Example, build_rows
from trimodal_tokenizers.sequence import SequenceLayout

SPACE = TokenSpace(TokenSpaceConfig(text_vocab_size=40, image_codebook_size=24, audio_codebook_size=8,
                                    audio_num_codebooks=2))


def allowed_mask_MV(space: TokenSpace, maskable_specials: tuple[str, ...] = ("eot",)) -> torch.Tensor:
    allowed = torch.zeros(4, space.vocab_size, dtype=torch.bool)
    for modality in (Modality.TEXT, Modality.IMAGE, Modality.AUDIO):
        allowed[int(modality)] = torch.from_numpy(space.allowed_mask(modality))
    for name in maskable_specials:
        allowed[int(Modality.TEXT), space.special_id(name)] = True
    allowed[int(Modality.SPECIAL)] = True
    allowed[:, [space.pad_id, space.mask_id]] = False
    return allowed


class UniformDenoiser:
    """Uniform over the ids each span may emit: its NELBO per token is log |V_m| exactly in expectation."""

    def __init__(self, space: TokenSpace) -> None:
        self.allowed_mask_MV = allowed_mask_MV(space)

    def __call__(self, tokens_BL, *, document_ids_BL=None, span_modality_BL=None):  # type: ignore[no-untyped-def]
        allowed = self.allowed_mask_MV[span_modality_BL.long()]
        return torch.where(allowed, 0.0, float("-inf"))


class CopyDenoiser:
    """For t2i rows whose image codes copy the caption ids: predicts each masked image code from the visible
    caption token at the same offset (probability ``p``), uniform otherwise. ``use_condition=False`` always
    predicts uniformly over the image range (it ignores the caption)."""

    def __init__(self, space: TokenSpace, *, use_condition: bool, p: float = 0.9) -> None:
        self.space, self.use_condition, self.p = space, use_condition, p
        self.allowed_mask_MV = allowed_mask_MV(space)

    def __call__(self, tokens_BL, *, document_ids_BL=None, span_modality_BL=None):  # type: ignore[no-untyped-def]
        space = self.space
        allowed = self.allowed_mask_MV[span_modality_BL.long()]
        logits = torch.where(allowed, 0.0, float("-inf"))
        if not self.use_condition:
            return logits
        size = space.local_size(Modality.IMAGE)
        boost = float(np.log(self.p * (size - 1) / (1 - self.p)))
        for b in range(tokens_BL.shape[0]):
            row = tokens_BL[b].tolist()
            boi = row.index(space.special_id("boi"))
            caption = row[2:row.index(space.special_id("eot"))]
            for offset, tok in enumerate(caption):
                pos = boi + 1 + offset
                if tok != space.mask_id and pos < len(row) and span_modality_BL[b, pos] == Modality.IMAGE:
                    code = space.image_offset + (tok - space.text_offset) % size
                    logits[b, pos, code] += boost
        return logits


def t2i_examples(num: int, seed: int = 0, caption_len: tuple[int, int] = (4, 9)) -> list[Example]:
    rng = np.random.default_rng(seed)
    layout = SequenceLayout(SPACE)
    out = []
    for i in range(num):
        caption = rng.integers(0, 40, rng.integers(*caption_len))
        image = np.concatenate([caption % 24, rng.integers(0, 24, 12 - caption.size)])
        seq = layout.image_text(caption, image)
        out.append(Example(f"ex{i}", "t2i", seq.tokens, seq.modality))
    return out


def text_examples(num: int, seed: int = 1) -> list[Example]:
    rng = np.random.default_rng(seed)
    layout = SequenceLayout(SPACE)
    out = []
    for i in range(num):
        seq = layout.text(rng.integers(0, 40, rng.integers(5, 30)))
        out.append(Example(f"doc{i}", "text", seq.tokens, seq.modality))
    return out


@pytest.fixture
def space() -> TokenSpace:
    return SPACE


@pytest.fixture
def t2i_rows():  # type: ignore[no-untyped-def]
    return build_rows(t2i_examples(24), seq_len=32, pad_id=SPACE.pad_id)


@pytest.fixture
def uniform() -> UniformDenoiser:
    return UniformDenoiser(SPACE)


@pytest.fixture
def copy_model():  # type: ignore[no-untyped-def]
    return lambda use_condition: CopyDenoiser(SPACE, use_condition=use_condition)


@pytest.fixture
def text_rows():  # type: ignore[no-untyped-def]
    return build_rows(text_examples(12), seq_len=32, pad_id=SPACE.pad_id)


@pytest.fixture
def make_text_rows():  # type: ignore[no-untyped-def]
    return lambda num: build_rows(text_examples(num), seq_len=32, pad_id=SPACE.pad_id)
