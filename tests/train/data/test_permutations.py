"""The batched permutations equal numpy's ``default_rng(seed).permutation(n)`` bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from trimodal_core import derive_seed
from trimodal_train.data.permutations import permutations


def test_permutations_equal_numpy_generator() -> None:
    rng = np.random.default_rng(0)
    seeds = [0, 1, 2**32 - 1, 2**32, 2**63 - 1]
    seeds += [derive_seed(7, "loader", "rows", step) for step in range(100)]
    seeds += rng.integers(0, 2**63 - 1, 100).tolist()
    seeds += rng.integers(0, 2**32, 20).tolist()  # one 32-bit word of entropy
    for n in (0, 1, 2, 3, 7, 32, 257, 4096):
        got = permutations(seeds, n)
        assert got.shape == (len(seeds), n) and got.dtype == np.int64
        for row, seed in zip(got, seeds, strict=True):
            assert np.array_equal(row, np.random.default_rng(seed).permutation(n)), (seed, n)


def test_permutations_reject_out_of_range_seeds() -> None:
    with pytest.raises(ValueError, match="seed"):
        permutations([-1], 4)
    with pytest.raises(ValueError, match="seed"):
        permutations([2**63], 4)
    assert permutations([], 5).shape == (0, 5)
