"""A small token space and a tiny model config shared by the model tests."""

from __future__ import annotations

import pytest

from trimodal_core import TokenSpace, TokenSpaceConfig
from trimodal_train.model import ModelConfig

SPACE = TokenSpace(
    TokenSpaceConfig(text_vocab_size=300, image_codebook_size=64, audio_codebook_size=32, audio_num_codebooks=2)
)
TINY = ModelConfig(d_model=32, n_layers=2, n_heads=2, ffn_hidden=64, max_seq_len=64)


@pytest.fixture
def space() -> TokenSpace:
    return SPACE


@pytest.fixture
def tiny() -> ModelConfig:
    return TINY
