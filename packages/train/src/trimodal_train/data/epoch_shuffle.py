"""A seeded pseudo-random permutation of ``[0, n)`` evaluated pointwise: the loader's per-epoch example order.

Shards are written sorted by example id, so neighbouring rows share a source; shuffling windows of
consecutive rows leaves every batch inside one narrow, source-correlated slice of the corpus. The loader
instead sends position ``i`` of epoch ``e`` of a component to example ``perm_e(i)``, a permutation of *all*
``n`` examples of the component, without materializing it (an index of 10^9 examples would be 8 GB per
process): ``perm_e`` is a keyed Feistel network over ``b``-bit integers (``b`` even, ``2^b >= n``) restricted
to ``[0, n)`` by cycle walking:

    x = (L, R), two halves of b/2 bits;  round r: (L, R) <- (R, L xor F(R, k_r)),  r = 0 .. ROUNDS-1
    F(R, k) = splitmix64(R xor k) mod 2^(b/2)
    perm(i) = E(i) if E(i) < n, else E(E(i)) if < n, ...        (E is a bijection of [0, 2^b))

Cycle walking keeps it a bijection of ``[0, n)`` (it follows ``i``'s cycle of ``E`` to the next element below
``n``); since ``2^b < 4n``, a lookup takes fewer than 4 applications of ``E`` on average. With random round
functions, 4 Feistel rounds are already a strong pseudo-random permutation (Luby-Rackoff); we use 6 [ours].
The round keys come from ``derive_seed(seed, "loader", "epoch", component, epoch)``, so the order is a pure
function of ``(seed, component, epoch, position)``: every rank computes it alone and resuming needs only the
stream cursor. Compiled (numba): evaluating all ``n`` positions takes about as long as numpy's
``default_rng().permutation(n)`` (measured side by side), and the loader evaluates them in blocks of 4,096.
"""

from __future__ import annotations

import numba
import numpy as np

from trimodal_core import derive_seed

ROUNDS = 6
_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _splitmix64(x: int) -> int:
    x = (x + _GOLDEN) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def epoch_keys(seed: int, component: str, epoch: int) -> np.ndarray:
    """The ``ROUNDS`` 64-bit round keys of one component's epoch (as uint64)."""
    state = derive_seed(seed, "loader", "epoch", component, epoch)
    keys = []
    for _ in range(ROUNDS):
        state = _splitmix64(state)
        keys.append(state)
    return np.array(keys, dtype=np.uint64)


def half_bits(n: int) -> int:
    """Bits per Feistel half for a domain of ``n`` elements (``2 * half_bits(n)`` bits cover ``n``)."""
    bits = max(2, (max(n, 1) - 1).bit_length())
    return (bits + 1) // 2


@numba.njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:
    x = x + np.uint64(_GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _permute(index: np.ndarray, n: int, half: int, keys: np.ndarray) -> np.ndarray:
    out = np.empty(index.shape[0], dtype=np.int64)
    shift = np.uint64(half)
    mask = (np.uint64(1) << shift) - np.uint64(1)
    limit = np.uint64(n)
    for i in range(index.shape[0]):
        x = np.uint64(index[i])
        while True:
            left = x >> shift
            right = x & mask
            for r in range(keys.shape[0]):
                left, right = right, left ^ (_mix(right ^ keys[r]) & mask)
            x = (left << shift) | right
            if x < limit:
                break
        out[i] = np.int64(x)
    return out


def permute(index: np.ndarray, n: int, keys: np.ndarray) -> np.ndarray:
    """``perm(index)`` for positions ``0 <= index < n`` (int64 in, int64 out); ``keys`` from :func:`epoch_keys`."""
    index = np.ascontiguousarray(index, dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= n):
        raise ValueError(f"epoch permutation: positions must lie in [0, {n})")
    if n >= 2**62:
        raise ValueError(f"epoch permutation: n={n} is too large")
    return _permute(index, int(n), half_bits(n), np.ascontiguousarray(keys, dtype=np.uint64))
