"""The interface every discrete image tokenizer implements, and a registry of loaders by kind.

A tokenizer directory holds ``image_tokenizer.json`` whose ``kind`` names the implementation. The package
ships one kind, ``fsq`` (:class:`~trimodal_tokenizers.image_fsq.ImageTokenizer`). To plug in another
pretrained tokenizer loaded from a local checkpoint, write a class with the members of
:class:`DiscreteImageTokenizer`, make its ``save`` write ``image_tokenizer.json`` with its ``kind``, and call
:func:`register_image_tokenizer` with a loader before loading a bundle.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

IMAGE_META_FILE = "image_tokenizer.json"


@runtime_checkable
class DiscreteImageTokenizer(Protocol):
    """Square images in, ``[N, tokens_per_image]`` local codes out, and back."""

    kind: str

    @property
    def codebook_size(self) -> int: ...

    @property
    def resolution(self) -> int: ...

    @property
    def tokens_per_image(self) -> int: ...

    def encode_batch(self, images: list[Image.Image]) -> np.ndarray: ...

    def decode_batch(self, codes: np.ndarray) -> list[Image.Image]: ...

    def save(self, path: str | Path) -> None: ...


ImageTokenizerLoader = Callable[[Path], DiscreteImageTokenizer]
# Built-in kinds are imported lazily so that a text-only process never imports torch.
_BUILTIN: dict[str, str] = {"fsq": "trimodal_tokenizers.image_fsq:ImageTokenizer.load"}
_REGISTRY: dict[str, ImageTokenizerLoader] = {}


def register_image_tokenizer(kind: str, loader: ImageTokenizerLoader) -> None:
    """Make :func:`load_image_tokenizer` load directories whose ``image_tokenizer.json`` says ``kind``."""
    if not kind or not isinstance(kind, str):
        raise ValueError(f"image tokenizer kind must be a non-empty string, got {kind!r}")
    _REGISTRY[kind] = loader


def image_tokenizer_kind(path: str | Path) -> str:
    meta_path = Path(path) / IMAGE_META_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{Path(path)}: no {IMAGE_META_FILE}; not an image tokenizer directory") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path}: not valid JSON ({exc})") from None
    kind = meta.get("kind") if isinstance(meta, dict) else None
    if not isinstance(kind, str):
        raise ValueError(f"{meta_path}: missing 'kind'")
    return kind


def load_image_tokenizer(path: str | Path) -> DiscreteImageTokenizer:
    """Load an image tokenizer directory with the loader registered for its kind."""
    p = Path(path)
    kind = image_tokenizer_kind(p)
    if kind in _REGISTRY:
        return _REGISTRY[kind](p)
    if kind in _BUILTIN:
        module_name, attr = _BUILTIN[kind].split(":")
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj(p)  # type: ignore[operator]
    known = sorted({*_REGISTRY, *_BUILTIN})
    raise ValueError(f"{p}: unknown image tokenizer kind {kind!r}; registered kinds: {known}")
