"""trimodal_tokenizers: text BPE, a trainable FSQ image tokenizer and audio codecs (DAC, Codec 2) in one token space.

Image and audio modules are re-exported lazily so that text-only users never import torch: the base install holds
the text path; the ``[image]`` and ``[audio]`` extras hold the rest (a missing one raises an ImportError naming it).
"""

from __future__ import annotations

import importlib
from typing import Any

from trimodal_tokenizers.audio_protocol import DiscreteAudioTokenizer, load_audio_tokenizer, register_audio_tokenizer
from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.image_protocol import DiscreteImageTokenizer, load_image_tokenizer, register_image_tokenizer
from trimodal_tokenizers.sequence import FormattedSequence, ParsedSequence, SequenceLayout, SequenceLayoutConfig
from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer

_LAZY = {
    "AudioTokenizer": "trimodal_tokenizers.audio_dac",
    "AudioTokenizerConfig": "trimodal_tokenizers.audio_dac",
    "DACArchConfig": "trimodal_tokenizers.audio_dac",
    "Codec2Config": "trimodal_tokenizers.audio_codec2",
    "Codec2Tokenizer": "trimodal_tokenizers.audio_codec2",
    "ImageTokenizer": "trimodal_tokenizers.image_fsq",
    "ImageTokenizerConfig": "trimodal_tokenizers.image_fsq",
    "ImageTrainConfig": "trimodal_tokenizers.image_train",
    "ImageTrainResult": "trimodal_tokenizers.image_train",
    "train_image_tokenizer": "trimodal_tokenizers.image_train",
}

__all__ = [
    "DiscreteAudioTokenizer",
    "DiscreteImageTokenizer",
    "FormattedSequence",
    "ParsedSequence",
    "SequenceLayout",
    "SequenceLayoutConfig",
    "TextBPEConfig",
    "TextTokenizer",
    "TokenizerBundle",
    "load_audio_tokenizer",
    "load_image_tokenizer",
    "register_audio_tokenizer",
    "register_image_tokenizer",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trimodal_tokenizers' has no attribute {name!r}")
