"""Hashes shared by the rules and dedupe stages: content keys for exact dedupe, and vectorized 64-bit mixing.

* :func:`text_key`: 128-bit xxh3 of a normalized text (the text pipeline's exact-dedupe key);
  :func:`pixel_digest` and :func:`pcm_digest`: the same for decoded pixels and decoded audio samples, so
  byte-different files with identical content share a key.
* :func:`mix64`: splitmix64's finalizer over uint64 arrays (numpy, wrapping arithmetic), used by the n-gram
  rules and MinHash to combine word hashes into n-gram hashes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xxhash

if TYPE_CHECKING:
    from PIL import Image

    from trimodal_data.decode.audio import DecodedAudio

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31 = np.uint64(27), np.uint64(30), np.uint64(31)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijective, well-mixed map of uint64 arrays (array arithmetic wraps
    silently in numpy)."""
    x = x ^ (x >> _S30)
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    return x ^ (x >> _S31)


def text_key(text: str) -> bytes:
    """The exact-dedupe key of a (normalized) text."""
    return xxhash.xxh3_128_digest(text.encode("utf-8"))


def pixel_digest(image: Image.Image) -> str:
    """A 128-bit hash of the decoded pixels and size: equal for byte-different files with identical pixels."""
    h = xxhash.xxh3_128()
    h.update(f"{image.mode}:{image.width}x{image.height}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def pcm_digest(audio: DecodedAudio) -> str:
    """A 128-bit hash of the decoded samples and rate: equal for byte-different files with identical PCM."""
    h = xxhash.xxh3_128()
    h.update(f"{audio.sample_rate}:".encode())
    h.update(np.ascontiguousarray(audio.samples, dtype=np.float32).tobytes())
    return h.hexdigest()
