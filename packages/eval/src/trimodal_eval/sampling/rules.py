"""Selection rules: which masked positions of the current block are unmasked at a step.

A rule sees a :class:`SelectionState` (target coordinates ``[B, T]``: position ``j`` of row ``b`` is the
row's ``j``-th target position in sequence order) and returns a bool ``[B, T]`` selection inside
``candidates_BT`` (the masked positions of each row's current block). Unmasked tokens stay.

*Scheduled* rules (``dynamic = False``) unmask exactly ``num_to_unmask_B`` positions, the highest scores:

=========== ====================================== ======================================
rule         score                                  source
=========== ====================================== ======================================
random       a uniform per position                 MDLM / D3PM ancestral order
confidence   q(sampled token)                       LLaDA low-confidence remasking, MaskGIT
margin       top1 - top2 of q                       "margin" (Kim et al.)
entropy      -H(q)                                  "entropy" (Ben-Hamu et al.)
=========== ====================================== ======================================

ties go to the earlier position (a stable sort). *Dynamic* rules ignore the step schedule and decide the
count themselves; a block ends when its candidates are exhausted:

- ``threshold(lam)``: every candidate with ``q(sampled) > lam``; when none, the most confident one
  (Fast-dLLM's threshold rule; ``lam = 0.7`` by default per ``shared/paper.md``).
- ``factor(f)``: sort candidate confidences ``c_(1) >= c_(2) >= ...``; unmask the longest prefix with
  ``c_(n) >= 1 - f / (n + 1)`` for all of its ``n``, at least one (Fast-dLLM's factor rule: ``n`` tokens
  in parallel are safe when ``(n + 1)(1 - c_(n)) <= f``). Fast-dLLM's code also adds the first failing
  token when only the last one fails; here the rule is applied as written.

A learned unmasking policy (arXiv 2512.09106) is a dynamic rule: it reads ``mask_BT``, ``top1_BT`` (the
per-position top-1 confidence), ``time_B`` (steps taken / L) and the current block, and may select no
position at a step (the next step then reuses the logits: no token changed). ``scope = "all"`` asks for
statistics at every masked target position, not only in the current block (the policy sees the buffer).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal, Protocol, runtime_checkable

import torch

Stat = Literal["confidence", "top1", "margin", "entropy"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class SelectionState:
    """What a rule sees at one step of the rows in ``rows_B`` (every tensor has those rows first)."""

    rows_B: torch.Tensor
    """Batch indices of these rows (int64): the active rows of the step."""
    valid_BT: torch.Tensor
    """Real target positions (False on padding and on text dropped after ``eot``)."""
    mask_BT: torch.Tensor
    """Still-masked target positions (the whole buffer)."""
    candidates_BT: torch.Tensor
    """Masked positions of the current block: the rule's action space."""
    tokens_BT: torch.Tensor
    """Current target tokens (int64; ``mask`` where masked)."""
    sampled_BT: torch.Tensor
    """The token each statistic position would take if selected (int64; ``mask`` elsewhere)."""
    confidence_BT: torch.Tensor
    """q(sampled token) (float32; 0 where not computed)."""
    top1_BT: torch.Tensor
    """Top-1 probability (float32; 0 where not computed, 1 at unmasked valid positions)."""
    margin_BT: torch.Tensor | None
    """Top-1 minus top-2 probability, when the rule asks for ``margin``."""
    entropy_BT: torch.Tensor | None
    """Entropy in nats, when the rule asks for ``entropy``."""
    uniform_BT: torch.Tensor
    """Per-position uniforms of this step (float64), reproducible per row (see ``randomness.py``)."""
    num_to_unmask_B: torch.Tensor
    """Count the step schedule asks for (int64; scheduled rules must select exactly this many)."""
    steps_taken_B: torch.Tensor
    """Steps this row took before this one (int64)."""
    length_B: torch.Tensor
    """Number of valid target positions ``L`` of the row (int64)."""
    time_B: torch.Tensor
    """``steps_taken / L`` (float32), the policy's time input."""
    block_B: torch.Tensor
    """Index of the current block (int64)."""
    num_blocks_B: torch.Tensor
    """Number of blocks of the row (int64)."""


@runtime_checkable
class SelectionRule(Protocol):
    """Anything with these members plugs into the sampler (``build_sampler(config, rule=...)``)."""

    name: str
    dynamic: bool
    """False: unmask exactly ``num_to_unmask_B`` (driven by the step schedule); True: the rule decides."""
    stats: frozenset[str]
    """Statistics it reads beyond ``confidence`` and ``top1`` (``margin``, ``entropy``)."""
    scope: str
    """``"block"``: statistics at the current block's candidates; ``"all"``: at every masked position."""

    def select(self, state: SelectionState) -> torch.Tensor: ...


def top_k_mask(score_BT: torch.Tensor, candidates_BT: torch.Tensor, k_B: torch.Tensor) -> torch.Tensor:
    """The ``k_B`` highest-scoring candidates of each row (ties to the earlier position)."""
    keyed_BT = torch.where(candidates_BT, score_BT.to(torch.float64), float("-inf"))
    order_BT = torch.sort(keyed_BT, dim=-1, descending=True, stable=True).indices
    rank_BT = torch.arange(score_BT.shape[-1], device=score_BT.device).expand_as(order_BT)
    chosen_BT = torch.zeros_like(candidates_BT).scatter_(-1, order_BT, rank_BT < k_B[:, None])
    return chosen_BT & candidates_BT


class _ScoreRule:
    dynamic: ClassVar[bool] = False
    stats: ClassVar[frozenset[str]] = frozenset()
    scope: ClassVar[str] = "block"
    name: ClassVar[str]

    def score(self, state: SelectionState) -> torch.Tensor:
        raise NotImplementedError

    def select(self, state: SelectionState) -> torch.Tensor:
        return top_k_mask(self.score(state), state.candidates_BT, state.num_to_unmask_B)


class RandomRule(_ScoreRule):
    name = "random"

    def score(self, state: SelectionState) -> torch.Tensor:
        return state.uniform_BT


class ConfidenceRule(_ScoreRule):
    name = "confidence"

    def score(self, state: SelectionState) -> torch.Tensor:
        return state.confidence_BT


class MarginRule(_ScoreRule):
    name = "margin"
    stats = frozenset({"margin"})

    def score(self, state: SelectionState) -> torch.Tensor:
        assert state.margin_BT is not None
        return state.margin_BT


class EntropyRule(_ScoreRule):
    name = "entropy"
    stats = frozenset({"entropy"})

    def score(self, state: SelectionState) -> torch.Tensor:
        assert state.entropy_BT is not None
        return -state.entropy_BT


class ThresholdRule:
    """Unmask every candidate above ``threshold`` confidence, at least the most confident one."""

    name = "threshold"
    dynamic = True
    stats: frozenset[str] = frozenset()
    scope = "block"

    def __init__(self, threshold: float = 0.7) -> None:
        self.threshold = float(threshold)

    def select(self, state: SelectionState) -> torch.Tensor:
        chosen_BT = state.candidates_BT & (state.confidence_BT > self.threshold)
        ones_B = torch.ones_like(state.num_to_unmask_B)
        best_BT = top_k_mask(state.confidence_BT, state.candidates_BT, ones_B)
        return torch.where(chosen_BT.any(-1, keepdim=True), chosen_BT, best_BT)


class FactorRule:
    """Fast-dLLM's factor rule: the longest confidence-sorted prefix with ``c_(n) >= 1 - f / (n + 1)``."""

    name = "factor"
    dynamic = True
    stats: frozenset[str] = frozenset()
    scope = "block"

    def __init__(self, factor: float = 1.0) -> None:
        self.factor = float(factor)

    def select(self, state: SelectionState) -> torch.Tensor:
        keyed_BT = torch.where(state.candidates_BT, state.confidence_BT.to(torch.float64), float("-inf"))
        sorted_BT = torch.sort(keyed_BT, dim=-1, descending=True, stable=True).values
        n_T = torch.arange(1, keyed_BT.shape[-1] + 1, device=keyed_BT.device, dtype=torch.float64)
        ok_BT = sorted_BT >= 1.0 - self.factor / (n_T + 1.0)
        count_B = torch.cumprod(ok_BT.to(torch.int64), dim=-1).sum(-1).clamp_min(1)
        return top_k_mask(state.confidence_BT, state.candidates_BT, count_B)


SELECTION_RULES: dict[str, type] = {
    "random": RandomRule,
    "confidence": ConfidenceRule,
    "margin": MarginRule,
    "entropy": EntropyRule,
    "threshold": ThresholdRule,
    "factor": FactorRule,
}
