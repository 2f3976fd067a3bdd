"""Stable seeding: derive independent, reproducible seeds from a root seed and a path of names.

``derive_seed(1234, "loader", "rank", 3)`` is the same on every machine and Python version (it hashes
with BLAKE2b, not Python's salted ``hash``), so every component gets its own stream without seeds
colliding or depending on process start order.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(root_seed: int, *path: object) -> int:
    """A 63-bit seed determined by ``root_seed`` and the ``path`` components."""
    h = hashlib.blake2b(digest_size=8)
    h.update(str(int(root_seed)).encode())
    for part in path:
        h.update(b"\x1f")
        h.update(str(part).encode())
    return int.from_bytes(h.digest(), "little") >> 1


def numpy_rng(root_seed: int, *path: object) -> np.random.Generator:
    """A numpy ``Generator`` seeded from ``derive_seed(root_seed, *path)``."""
    return np.random.default_rng(derive_seed(root_seed, *path))


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's legacy global RNG and torch (when installed)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)
