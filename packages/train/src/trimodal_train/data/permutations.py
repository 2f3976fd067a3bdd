"""Many seeded permutations at once, identical to ``np.random.default_rng(seed).permutation(n)`` for each seed.

The loader shuffles the rows of every global batch with a generator seeded by the step. Building a numpy
``Generator`` costs ~6 us (hashing the seed with ``SeedSequence`` and seeding ``PCG64``), about a fifth of
the planner's per-step time, for a 1-2 us shuffle. Hand-written (numba) because numpy has no batched
constructor: :func:`permutations` reproduces numpy's documented algorithms step for step for a whole chunk
of steps in one compiled call -- ``SeedSequence`` entropy mixing and ``generate_state``, PCG64 (XSL-RR
128/64) seeding and output, the buffered 32-bit draws, the masked rejection of ``random_interval`` and the
Fisher-Yates shuffle of ``Generator.shuffle`` -- and ``tests/train/data/test_permutations.py`` checks it against numpy
bit for bit, so a numpy release that changed its streams would be caught there.
"""

from __future__ import annotations

import numba
import numpy as np

_M32 = 0xFFFFFFFF
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
# PCG64's 128-bit multiplier, as high and low 64-bit words.
_PCG_MULT_HI, _PCG_MULT_LO = 0x2360ED051FC65DA4, 0x4385DF649FCCF645


@numba.njit(cache=True, inline="always")
def _hashmix(value: int, hash_const: int) -> tuple[int, int]:
    value = (value ^ hash_const) & _M32
    hash_const = (hash_const * _MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> 16), hash_const


@numba.njit(cache=True, inline="always")
def _mix(x: int, y: int) -> int:
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _M32
    return result ^ (result >> 16)


@numba.njit(cache=True, inline="always")
def _mul64(a: np.uint64, b: np.uint64) -> tuple[np.uint64, np.uint64]:
    """Full 128-bit product of two 64-bit words, as (high, low)."""
    mask = np.uint64(_M32)
    s32 = np.uint64(32)
    a_lo, a_hi, b_lo, b_hi = a & mask, a >> s32, b & mask, b >> s32
    lo_lo = a_lo * b_lo
    mid1 = a_hi * b_lo + (lo_lo >> s32)
    mid2 = a_lo * b_hi + (mid1 & mask)
    high = a_hi * b_hi + (mid1 >> s32) + (mid2 >> s32)
    return high, (mid2 << s32) | (lo_lo & mask)


@numba.njit(cache=True, inline="always")
def _pcg_step(hi: np.uint64, lo: np.uint64, inc_hi: np.uint64, inc_lo: np.uint64) -> tuple[np.uint64, np.uint64]:
    """state = state * MULT + inc (mod 2^128)."""
    m_hi, m_lo = np.uint64(_PCG_MULT_HI), np.uint64(_PCG_MULT_LO)
    p_hi, p_lo = _mul64(lo, m_lo)
    p_hi = p_hi + lo * m_hi + hi * m_lo
    new_lo = p_lo + inc_lo
    carry = np.uint64(1) if new_lo < p_lo else np.uint64(0)
    return p_hi + inc_hi + carry, new_lo


@numba.njit(cache=True, nogil=True)
def _permutations(seeds: np.ndarray, n: int) -> np.ndarray:
    out = np.empty((seeds.shape[0], n), dtype=np.int64)
    pool = np.zeros(4, dtype=np.int64)
    entropy = np.zeros(2, dtype=np.int64)
    words = np.zeros(8, dtype=np.int64)
    s32 = np.uint64(32)
    for row in range(seeds.shape[0]):
        # SeedSequence(seed): the seed as little-endian 32-bit words, mixed into a pool of four words.
        seed = seeds[row]
        entropy[0] = seed & _M32
        entropy[1] = seed >> 32
        num_entropy = 2 if entropy[1] else 1
        hash_const = _INIT_A
        for i in range(4):
            pool[i], hash_const = _hashmix(entropy[i] if i < num_entropy else 0, hash_const)
        for i_src in range(4):
            for i_dst in range(4):
                if i_src != i_dst:
                    hashed, hash_const = _hashmix(pool[i_src], hash_const)
                    pool[i_dst] = _mix(pool[i_dst], hashed)
        # generate_state(4, uint64): eight 32-bit words, read as four little-endian 64-bit words.
        hash_const = _INIT_B
        for i in range(8):
            value = (pool[i % 4] ^ hash_const) & _M32
            hash_const = (hash_const * _MULT_B) & _M32
            value = (value * hash_const) & _M32
            words[i] = value ^ (value >> 16)
        seed_hi = np.uint64(words[0]) | (np.uint64(words[1]) << s32)
        seed_lo = np.uint64(words[2]) | (np.uint64(words[3]) << s32)
        inc_hi = np.uint64(words[4]) | (np.uint64(words[5]) << s32)
        inc_lo = np.uint64(words[6]) | (np.uint64(words[7]) << s32)
        # pcg64_srandom_r: inc = (initseq << 1) | 1; step; state += initstate; step.
        inc_hi = (inc_hi << np.uint64(1)) | (inc_lo >> np.uint64(63))
        inc_lo = (inc_lo << np.uint64(1)) | np.uint64(1)
        hi, lo = _pcg_step(np.uint64(0), np.uint64(0), inc_hi, inc_lo)
        new_lo = lo + seed_lo
        hi = hi + seed_hi + (np.uint64(1) if new_lo < lo else np.uint64(0))
        lo = new_lo
        hi, lo = _pcg_step(hi, lo, inc_hi, inc_lo)
        # permutation(n) = shuffle(arange(n)): Fisher-Yates from the end, j = bounded draw in [0, i].
        perm = out[row]
        for i in range(n):
            perm[i] = i
        has_half = False
        half = np.uint64(0)
        for i in range(n - 1, 0, -1):
            # random_interval(i): 32-bit draws masked to the smallest all-ones mask >= i, rejected while > i.
            mask = np.uint64(i)
            for shift in (1, 2, 4, 8, 16):
                mask |= mask >> np.uint64(shift)
            while True:
                if has_half:  # next_uint32: the high half of the last 64-bit output, then a new output
                    draw = half
                    has_half = False
                else:
                    hi, lo = _pcg_step(hi, lo, inc_hi, inc_lo)
                    x = hi ^ lo
                    rot = hi >> np.uint64(58)
                    out64 = (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))
                    half = out64 >> s32
                    has_half = True
                    draw = out64 & np.uint64(_M32)
                value = draw & mask
                if value <= np.uint64(i):
                    break
            j = np.int64(value)
            perm[i], perm[j] = perm[j], perm[i]
    return out


def permutations(seeds: list[int], n: int) -> np.ndarray:
    """Row ``s`` is ``np.random.default_rng(seeds[s]).permutation(n)`` (seeds below 2**63, ``n`` below 2**32)."""
    if n >= 2**32 or any(not 0 <= s < 2**63 for s in seeds):
        raise ValueError(f"permutations: need 0 <= seed < 2**63 and n < 2**32 (got n={n})")
    return _permutations(np.asarray(seeds, dtype=np.int64).reshape(-1), int(n))
