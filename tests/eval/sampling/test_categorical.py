"""Exact categorical sampling: frequencies (chi-square), temperature, top-k/top-p, and the far tail.

The far tail cannot be checked by counting at test size: float32 Gumbel-max only goes wrong for tokens
more than ~14 nats below the top, where a frequency test needs ~1e9 token draws. So the tail is checked on
the samplers' *exact laws*: ours by bisection over its uniform input (a draw is a monotone function of
``u``; exact up to the 2^-53 grid of the uniforms), float32 Gumbel-max by enumerating all 2^24 float32
uniforms. Measured ratios of drawn to true rate (float32 Gumbel-max / ours): 14 nats 0.96 / 1.0000000,
16 nats 0.76 / 1.0000000, 18 nats 0.079 / 1.0000000, 20 nats 0 / 1.0000000, 25 nats 0 / 1.000004 (one
2^-53 grid step).
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
from scipy.stats import chi2

from trimodal_eval.sampling import draw, inverse_cdf

TAIL_P = torch.tensor([0.55, 0.25, 0.12, 0.05, 0.02, 0.008, 1.5e-3, 4e-4, 8e-5, 2e-5], dtype=torch.float64)


def _chi_square_p(counts: torch.Tensor, probs: torch.Tensor) -> float:
    n = int(counts.sum())
    expected = probs / probs.sum() * n
    assert float(expected.min()) >= 5, "every bin needs an expected count of at least 5"
    stat = float(((counts.double() - expected) ** 2 / expected).sum())
    return float(chi2.sf(stat, df=len(probs) - 1))


def _frequencies(logits_W: torch.Tensor, n: int, seed: int, **kwargs: object) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n, dtype=torch.float64, generator=gen)
    d = draw(logits_W.float().expand(n, -1), u, **kwargs)
    return torch.bincount(d.index_N, minlength=logits_W.numel())


def test_frequencies_match_a_known_categorical_with_a_low_probability_tail() -> None:
    # 2e6 draws: the 2e-5 token is expected 40 times, the 8e-5 one 160 times.
    counts = _frequencies(TAIL_P.log(), 2_000_000, seed=0)
    assert _chi_square_p(counts, TAIL_P) > 1e-3
    # The test has power: the same counts against a distribution with the tail halved fail.
    skewed = TAIL_P.clone()
    skewed[-3:] /= 2
    assert _chi_square_p(counts, skewed) < 1e-6


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_temperature(temperature: float) -> None:
    probs = TAIL_P[:5] ** (1 / temperature)
    counts = _frequencies(TAIL_P[:5].log(), 400_000, seed=1, temperature=temperature)
    assert _chi_square_p(counts, probs) > 1e-3


def test_top_k_keeps_exactly_the_k_largest_renormalized() -> None:
    counts = _frequencies(TAIL_P.log(), 200_000, seed=2, top_k=3)
    assert int(counts[3:].sum()) == 0
    assert _chi_square_p(counts[:3], TAIL_P[:3]) > 1e-3


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    # Cumulative mass 0.55, 0.80, 0.92, 0.97: p = 0.9 keeps three tokens (the third crosses 0.9), 0.95 four.
    counts = _frequencies(TAIL_P.log(), 200_000, seed=3, top_p=0.9)
    assert int(counts[3:].sum()) == 0
    assert _chi_square_p(counts[:3], TAIL_P[:3]) > 1e-3
    counts = _frequencies(TAIL_P.log(), 200_000, seed=4, top_p=0.95)
    assert int(counts[4:].sum()) == 0
    assert _chi_square_p(counts[:4], TAIL_P[:4]) > 1e-3


def test_greedy_statistics_and_ties() -> None:
    logits = torch.tensor([[1.0, 3.0, 3.0, -2.0], [0.0, 0.0, 0.0, 0.0]])
    d = draw(logits, torch.rand(2, dtype=torch.float64), temperature=0.0, margin=True, entropy=True)
    assert d.index_N.tolist() == [1, 0]
    q = torch.softmax(logits, -1)
    torch.testing.assert_close(d.confidence_N, q.max(-1).values)
    torch.testing.assert_close(d.top1_N, q.max(-1).values)
    torch.testing.assert_close(d.margin_N, torch.zeros(2))
    torch.testing.assert_close(d.entropy_N, -(q * q.log()).sum(-1))


def test_entropy_is_finite_with_underflowing_probabilities_and_flush_denormal() -> None:
    """A probability that underflows to 0 adds 0 to the entropy, also where a process flushes denormals."""
    logits = torch.tensor([[0.0, -200.0, 3.0, -150.0]])
    q = torch.softmax(logits.double(), -1)
    expected = -(q * q.log()).sum(-1).float()
    supported = torch.set_flush_denormal(True)
    try:
        d = draw(logits, torch.zeros(1, dtype=torch.float64), temperature=0.0, entropy=True)
    finally:
        torch.set_flush_denormal(False)
    assert supported and d.entropy_N is not None
    torch.testing.assert_close(d.entropy_N, expected)


def test_zero_probability_is_never_drawn_even_at_the_last_uniform() -> None:
    w = torch.tensor([[0.3, 0.7, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    u = torch.full((2,), 1.0 - 2.0**-53, dtype=torch.float64)
    assert inverse_cdf(w, u).tolist() == [1, 1]
    assert inverse_cdf(w, torch.zeros(2, dtype=torch.float64)).tolist() == [0, 1]
    logits = torch.tensor([[0.0, float("-inf"), -50.0]])
    for value in (0.0, 0.5, 1.0 - 2.0**-53):
        assert int(draw(logits, torch.tensor([value], dtype=torch.float64)).index_N) != 1


def _our_tail_probability(gap: float) -> float:
    """P(token 0) of our sampler for logits [-gap, 0], from the threshold of its uniform input (bisection)."""
    logits = torch.tensor([[-gap, 0.0]])
    lo, hi = 0.0, 1.0  # index(u) = 0 for u < threshold, 1 above
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if int(draw(logits, torch.tensor([mid], dtype=torch.float64)).index_N) == 0:
            lo = mid
        else:
            hi = mid
    return math.ceil(hi * 2**53) / 2**53  # torch float64 uniforms live on the 2^-53 grid


@functools.cache
def _float32_gumbel_noise() -> torch.Tensor:
    """Every value float32 Gumbel noise ``-log(-log(u + 1e-10) + 1e-10)`` takes, u on the 2^-24 grid (sorted)."""
    u = torch.arange(2**24, dtype=torch.float64).mul_(2.0**-24).float()
    g = -torch.log(-torch.log(u + 1e-10) + 1e-10)
    assert bool((g[1:] >= g[:-1]).all())  # monotone in u, so already sorted
    return g


def _float32_gumbel_tail_probability(gap: float) -> float:
    """P(tail) of float32 Gumbel-max ``argmax(l + g)`` for logits [0, -gap], by enumerating both noises."""
    g = _float32_gumbel_noise()
    tail_value = g + torch.tensor(-gap, dtype=torch.float32)  # the tail's noisy logit, rounded as in float32
    tail_value = tail_value[tail_value > g[0]]  # below every head value the tail never wins
    # The tail wins when its noisy logit beats the head's (argmax keeps the first index on ties).
    beaten = torch.searchsorted(g, tail_value, right=False).double()
    return float(beaten.sum() / 2.0**48)


@pytest.mark.parametrize("gap", [18.0, 20.0, 25.0])
def test_tail_law_is_exact_where_float32_gumbel_truncates(gap: float) -> None:
    exact = 1.0 / (1.0 + math.exp(gap))
    ours = _our_tail_probability(gap)
    assert abs(ours - exact) <= 2.0**-53 + 1e-9 * exact  # the only error is the 2^-53 grid of the uniforms
    if gap <= 20:
        f32 = _float32_gumbel_tail_probability(gap)
        assert f32 < 0.1 * exact  # 8% of the rate at 18 nats, 0 at 20


def test_top_p_nucleus_larger_than_the_first_candidate_prefix() -> None:
    """A flat distribution's nucleus spans hundreds of tokens: the candidate prefix must grow past 64."""
    from trimodal_eval.sampling import filter_logits

    gen = torch.Generator().manual_seed(5)
    logits = torch.randn(400, generator=gen, dtype=torch.float64) * 0.3
    kept = torch.isfinite(filter_logits(logits[None], top_p=0.5)[0])
    assert 120 < int(kept.sum()) < 280
    counts = _frequencies(logits, 20_000, seed=6, top_p=0.5)
    assert int(counts[~kept].sum()) == 0
    assert _chi_square_p(counts[kept], torch.softmax(logits, 0)[kept]) > 1e-3
