"""Hashes shared by the rules and dedupe stages: content keys for exact dedupe, and vectorized 64-bit mixing.

* :func:`text_key`: 128-bit xxh3 of a normalized text (the text pipeline's exact-dedupe key).
* :func:`mix64`: splitmix64's finalizer over uint64 arrays (numpy, wrapping arithmetic), used by the n-gram
  rules and MinHash to combine word hashes into n-gram hashes.
"""

from __future__ import annotations

import numpy as np
import xxhash

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
