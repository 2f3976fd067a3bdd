"""The interface every audio tokenizer implements, and a registry of loaders by kind.

An audio tokenizer turns a mono waveform into local codes ``[K, T]`` (``K = num_codebooks`` codes per frame,
each in ``[0, codebook_size)``, ``T`` frames at ``frame_rate`` per second) and back; the token space gives
each of the ``K`` codebooks its own id range (or one shared range). A tokenizer directory holds
``audio_tokenizer.json`` whose ``kind`` names the implementation. Built-in kinds:

* ``dac`` (:class:`~trimodal_tokenizers.audio_dac.AudioTokenizer`): the Descript Audio Codec, for real runs
  with official weights from a local path (``pip install 'trimodal-tokenizers[audio]'``, torch);
* ``codec2`` (:class:`~trimodal_tokenizers.audio_codec2.Codec2Tokenizer`): the Codec 2 speech codec, no
  weights, intelligible speech offline (demo and tests; ``[audio]`` extra, no torch needed).

To plug in another codec, write a class with the members of :class:`DiscreteAudioTokenizer`, make its
``save`` write ``audio_tokenizer.json`` with its ``kind``, and call :func:`register_audio_tokenizer`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

AUDIO_META_FILE = "audio_tokenizer.json"


@runtime_checkable
class DiscreteAudioTokenizer(Protocol):
    """Mono float waveforms in, local codes ``[num_codebooks, T]`` (int64) out, and back."""

    kind: str
    num_codebooks: int
    hop_length: int
    """Samples per frame at ``sample_rate`` (a clip of N samples gives ``ceil(N / hop_length)`` frames)."""

    @property
    def codebook_size(self) -> int: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def frame_rate(self) -> float: ...

    def encode(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray: ...

    def encode_batch(self, waveforms: list[np.ndarray], sample_rate: int) -> list[np.ndarray]: ...

    def decode(self, codes: np.ndarray) -> np.ndarray: ...

    def decode_batch(self, codes: list[np.ndarray]) -> list[np.ndarray]: ...

    def save(self, path: str | Path) -> None: ...


AudioTokenizerLoader = Callable[[Path], DiscreteAudioTokenizer]
# Built-in kinds are imported lazily: a text-only process never imports torch, dac or pycodec2.
_BUILTIN: dict[str, str] = {
    "dac": "trimodal_tokenizers.audio_dac:AudioTokenizer.load",
    "codec2": "trimodal_tokenizers.audio_codec2:Codec2Tokenizer.load",
}
_REGISTRY: dict[str, AudioTokenizerLoader] = {}


def register_audio_tokenizer(kind: str, loader: AudioTokenizerLoader) -> None:
    """Make :func:`load_audio_tokenizer` load directories whose ``audio_tokenizer.json`` says ``kind``."""
    if not kind or not isinstance(kind, str):
        raise ValueError(f"audio tokenizer kind must be a non-empty string, got {kind!r}")
    _REGISTRY[kind] = loader


def audio_tokenizer_kinds() -> list[str]:
    """Every kind :func:`load_audio_tokenizer` knows (built-in and registered)."""
    return sorted({*_REGISTRY, *_BUILTIN})


def read_audio_meta(path: str | Path) -> dict[str, object]:
    """The parsed ``audio_tokenizer.json`` of a tokenizer directory (ValueError naming the file)."""
    meta_path = Path(path) / AUDIO_META_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{Path(path)}: no {AUDIO_META_FILE}; not an audio tokenizer directory") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("kind"), str):
        raise ValueError(f"{meta_path}: missing 'kind'")
    return meta


def load_audio_tokenizer(path: str | Path) -> DiscreteAudioTokenizer:
    """Load an audio tokenizer directory with the loader registered for its kind."""
    p = Path(path)
    kind = str(read_audio_meta(p)["kind"])
    if kind in _REGISTRY:
        return _REGISTRY[kind](p)
    if kind in _BUILTIN:
        module_name, attr = _BUILTIN[kind].split(":")
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj(p)  # type: ignore[operator]
    raise ValueError(f"{p}: unknown audio tokenizer kind {kind!r}; registered kinds: {audio_tokenizer_kinds()}")
