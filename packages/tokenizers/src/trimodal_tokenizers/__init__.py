"""trimodal_tokenizers: text BPE, a trainable FSQ image tokenizer and the DAC audio codec in one token space.

Torch-based modules (image, audio) are re-exported lazily so that text-only users never import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.image_protocol import DiscreteImageTokenizer, load_image_tokenizer, register_image_tokenizer
from trimodal_tokenizers.sequence import FormattedSequence, ParsedSequence, SequenceLayout, SequenceLayoutConfig
from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer

_LAZY = {
    "AudioTokenizer": "trimodal_tokenizers.audio_dac",
    "AudioTokenizerConfig": "trimodal_tokenizers.audio_dac",
    "DACArchConfig": "trimodal_tokenizers.audio_dac",
    "ImageTokenizer": "trimodal_tokenizers.image_fsq",
    "ImageTokenizerConfig": "trimodal_tokenizers.image_fsq",
    "ImageTrainConfig": "trimodal_tokenizers.image_train",
    "ImageTrainResult": "trimodal_tokenizers.image_train",
    "train_image_tokenizer": "trimodal_tokenizers.image_train",
}

__all__ = [
    "DiscreteImageTokenizer",
    "FormattedSequence",
    "ParsedSequence",
    "SequenceLayout",
    "SequenceLayoutConfig",
    "TextBPEConfig",
    "TextTokenizer",
    "TokenizerBundle",
    "load_image_tokenizer",
    "register_image_tokenizer",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trimodal_tokenizers' has no attribute {name!r}")
