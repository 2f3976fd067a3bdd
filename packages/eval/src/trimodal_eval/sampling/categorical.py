"""Exact categorical sampling with temperature, top-k and top-p, and the per-position statistics rules read.

Sampling is **inverse-CDF in float64 with 53-bit uniforms**. For logits ``l`` (one row) and temperature
``T > 0``::

    z_i = l_i / T                          (float64)
    z_i = -inf  where top-k / top-p drop i
    p_i = exp(z_i - max z)                 (float64, unnormalized; at T = 1 without filters the max is
                                            subtracted only when |max| > 600, exp(l) cannot overflow)
    c_j = sum_{i <= j} p_i                 (float64 cumulative sum)
    token = min { j : c_j > u * c_V }      u ~ U[0, 1) on the 2^-53 grid (torch float64 ``rand``)

so ``P(token = j) = p_j / sum p`` up to the 2^-53 grid of ``u`` (absolute 1.1e-16; 1e-6 relative at 25 nats
below the top) and one float64 rounding per boundary, and a zero-probability token is never drawn. The common
float32 Gumbel-max ``argmax(l - log(-log u))`` with 24-bit uniforms caps the noise at
``-log(-log(1 - 2^-24)) = 16.6``: tokens more than ~17 nats below the top are drawn too rarely (8% of
their rate at 18 nats, never at 20 with the usual ``+1e-10``), which lowers the effective temperature
(arXiv 2409.02908; measured in ``tests/eval/sampling/test_categorical.py``). ``T = 0`` is greedy
(``argmax``, the first maximum on ties).

Filters (applied in this order, as in most LM samplers): temperature, then top-k (keep the ``k`` largest;
``torch.topk`` breaks ties at the k-th value), then top-p (the smallest set of the most probable tokens whose
mass reaches ``p``; the token that crosses ``p`` is kept). Both only keep the most probable tokens, so the
draw is made among a ``topk`` prefix of candidates instead of sorting the whole vocabulary.

Statistics are those of the *untempered* distribution ``q = softmax(l)`` (after guidance and vocabulary
restriction, before temperature and filters; as LLaDA and Fast-dLLM do): ``confidence = q(token)`` of the
sampled token, ``top1 = max q``, ``margin = top1 - second largest q``, ``entropy = -sum q log q`` (nats).
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass(frozen=True, kw_only=True)
class Draw:
    """Sampled tokens of ``N`` positions and their statistics (see the module docstring)."""

    index_N: torch.Tensor
    """Index into the (restricted) vocabulary axis of the logits, int64."""
    confidence_N: torch.Tensor
    """``q(token)`` under the untempered distribution, float32."""
    top1_N: torch.Tensor
    """``max q``, float32."""
    margin_N: torch.Tensor | None = None
    """``top1 - top2``, float32 (when asked for)."""
    entropy_N: torch.Tensor | None = None
    """Entropy of ``q`` in nats, float32 (when asked for)."""


def filter_logits(z_NW: torch.Tensor, *, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """``z`` with ``-inf`` where top-k / top-p drop a token (the reference form of the filters; the sampler
    draws from a ``topk`` prefix instead, see :func:`_filtered_index`)."""
    if top_k is not None and top_k < z_NW.shape[-1]:
        kth_N1 = torch.topk(z_NW, top_k, dim=-1).values[:, -1:]
        z_NW = z_NW.masked_fill(z_NW < kth_N1, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_NW, order_NW = torch.sort(z_NW, dim=-1, descending=True)
        p_NW = torch.softmax(sorted_NW.to(torch.float64), dim=-1)
        # Mass strictly before each token; a token is kept while that mass is still below p.
        before_NW = torch.cumsum(p_NW, dim=-1) - p_NW
        drop_sorted_NW = before_NW >= top_p
        drop_NW = torch.zeros_like(drop_sorted_NW).scatter_(-1, order_NW, drop_sorted_NW)
        z_NW = z_NW.masked_fill(drop_NW, float("-inf"))
    return z_NW


def _filtered_index(logits_NW: torch.Tensor, uniform_N: torch.Tensor, temperature: float, top_k: int | None,
                    top_p: float | None) -> torch.Tensor:
    """Draw under top-k / top-p from a ``topk`` prefix of candidates, never sorting the whole vocabulary.

    Both filters keep only the most probable tokens, so the draw needs the ``k`` best candidates: ``top_k``
    of them, or for top-p alone a prefix that starts at 64 and grows 4x until every row's nucleus ends
    inside it. Candidate weights ``exp((l - max) / T)`` are float64; the top-p mass is normalized by the
    whole tempered distribution (float32 terms summed in float64) or, with top-k, by the k candidates.
    """
    width = logits_NW.shape[-1]
    limit = min(width, top_k) if top_k is not None else width
    k = limit if top_k is not None or top_p is None else min(width, 64)
    max_N1 = logits_NW.amax(dim=-1, keepdim=True)
    nucleus = top_p is not None and top_p < 1.0
    if nucleus and top_k is None:
        total_N1 = torch.exp((logits_NW - max_N1) / temperature).sum(-1, keepdim=True, dtype=torch.float64)
    while True:
        values_NK, index_NK = torch.topk(logits_NW, k, dim=-1)
        weights_NK = torch.exp((values_NK.to(torch.float64) - max_N1.to(torch.float64)) / temperature)
        if not nucleus:
            break
        total = total_N1 if top_k is None else weights_NK.sum(-1, keepdim=True)
        keep_NK = torch.cumsum(weights_NK, dim=-1) - weights_NK < top_p * total
        if k >= limit or not bool(keep_NK[:, -1].any()):
            weights_NK = weights_NK * keep_NK
            break
        k = min(limit, 4 * k)
    return index_NK.gather(-1, inverse_cdf(weights_NK, uniform_N)[:, None]).squeeze(-1)


def _sample_cdf(cdf_NW: torch.Tensor, uniform_N: torch.Tensor) -> torch.Tensor:
    """First index whose cumulative weight exceeds ``u * total`` (``u * total`` kept strictly below total)."""
    total_N = cdf_NW[:, -1]
    x_N = torch.minimum(uniform_N.to(torch.float64) * total_N, torch.nextafter(total_N, torch.zeros_like(total_N)))
    # cdf[j-1] <= x < cdf[j], so cdf[j] > cdf[j-1]: a zero-weight token is never returned.
    return torch.searchsorted(cdf_NW, x_N[:, None], right=True).squeeze(-1)


def inverse_cdf(weights_NW: torch.Tensor, uniform_N: torch.Tensor) -> torch.Tensor:
    """Index ``j`` of the first cumulative weight above ``u * total`` (float64 weights >= 0, ``u`` in [0, 1))."""
    return _sample_cdf(torch.cumsum(weights_NW.to(torch.float64), dim=-1), uniform_N)


def draw(
    logits_NW: torch.Tensor,
    uniform_N: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    margin: bool = False,
    entropy: bool = False,
) -> Draw:
    """Sample one token per row of ``logits_NW`` (float32, ``-inf`` allowed; every row needs a finite entry).

    ``uniform_N`` (float64 in [0, 1)) is the row's randomness; it is ignored when ``temperature == 0``.
    """
    if logits_NW.ndim != 2 or uniform_N.shape != logits_NW.shape[:1]:
        raise ValueError(f"draw: logits must be [N, W] and uniforms [N], got {tuple(logits_NW.shape)}, "
                         f"{tuple(uniform_N.shape)}")
    n = logits_NW.shape[0]
    if n == 0:
        empty = torch.zeros(0, dtype=torch.float32, device=logits_NW.device)
        return Draw(index_N=torch.zeros(0, dtype=torch.int64, device=logits_NW.device), confidence_N=empty,
                    top1_N=empty, margin_N=empty if margin else None, entropy_N=empty if entropy else None)
    plain = temperature == 1.0 and top_k is None and (top_p is None or top_p >= 1.0)
    max_N1 = logits_NW.amax(dim=-1, keepdim=True)
    if plain:
        # One float64 buffer gives the sampling weights and the untempered statistics. float64 exp of float32
        # logits in [-600, 600] neither overflows nor loses a token above e^-1300 relative to the top, so the
        # max is subtracted only outside that range (a pass saved); the sampled token's weight is a
        # difference of the CDF and the top one's is exp(max).
        max64_N1 = max_N1.to(torch.float64)
        shift = bool((max64_N1.abs() > 600).any())
        cdf_NW = logits_NW.to(torch.float64, copy=True)
        if shift:
            cdf_NW.sub_(max64_N1)
        cdf_NW.exp_().cumsum_(dim=-1)
        index_N = _sample_cdf(cdf_NW, uniform_N)
        total_N = cdf_NW[:, -1]
        upper_N = cdf_NW.gather(-1, index_N[:, None]).squeeze(-1)
        lower_N = cdf_NW.gather(-1, (index_N - 1).clamp_min(0)[:, None]).squeeze(-1).masked_fill(index_N == 0, 0.0)
        confidence_N = ((upper_N - lower_N) / total_N).to(torch.float32)
        top_N = torch.ones_like(total_N) if shift else torch.exp(max64_N1.squeeze(-1))
        top1_N = (top_N / total_N).to(torch.float32)
        q32_NW = torch.softmax(logits_NW, dim=-1) if (margin or entropy) else None
    else:
        if temperature == 0:
            index_N = logits_NW.argmax(dim=-1)
        elif top_k is None and (top_p is None or top_p >= 1.0):
            weights_NW = logits_NW.to(torch.float64, copy=True)
            weights_NW.sub_(max_N1.to(torch.float64)).div_(temperature).exp_()
            index_N = inverse_cdf(weights_NW, uniform_N)
        else:
            index_N = _filtered_index(logits_NW, uniform_N, temperature, top_k, top_p)
        logz_N1 = torch.logsumexp(logits_NW, dim=-1, keepdim=True)
        confidence_N = torch.exp(logits_NW.gather(-1, index_N[:, None]) - logz_N1).squeeze(-1)
        top1_N = torch.exp(max_N1 - logz_N1).squeeze(-1)
        q32_NW = torch.softmax(logits_NW, dim=-1) if (margin or entropy) else None
    margin_N = entropy_N = None
    if margin:
        assert q32_NW is not None
        top2_N2 = torch.topk(q32_NW, min(2, q32_NW.shape[-1]), dim=-1).values
        margin_N = top2_N2[:, 0] - (top2_N2[:, 1] if top2_N2.shape[-1] > 1 else 0.0)
    if entropy:
        assert q32_NW is not None
        # xlogy(0, 0) = 0 exactly; a clamp to a tiny floor would be a denormal, flushed to 0 (log 0 = -inf, NaN)
        # where a process has flush-denormal on.
        entropy_N = -torch.special.xlogy(q32_NW, q32_NW).sum(dim=-1)
    return Draw(index_N=index_N, confidence_N=confidence_N, top1_N=top1_N, margin_N=margin_N, entropy_N=entropy_N)
