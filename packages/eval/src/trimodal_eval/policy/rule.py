"""The learned policy as a sampler ``SelectionRule``: Bernoulli unmasking inside the current block.

At each step the network (``model.py``) reads the whole buffer (``scope = "all"``: top-1 confidence at every
masked position, 1 where unmasked; the mask; ``t = steps_taken / L``) and gives a logit ``l_j``; each
candidate ``j`` (a masked position of the current block) is unmasked independently with

    p_j = min(1, beta * sigmoid(l_j / tau))          (tau: policy temperature; beta: test-time speed knob)

using the row's per-step uniforms ``u_j`` (``a_j = [u_j < p_j]``, reproducible per row seed). Evaluation
(``train=False``) forces the candidate with the highest logit when none is chosen, so every step unmasks
something; training records each step's state, action and

    log pi(a | s) = sum_{j in candidates} a_j log p_j + (1 - a_j) log(1 - p_j)

(:func:`action_log_prob`, recomputed with gradients by ``grpo.py``). In training an empty selection is the
policy's action; with ``force=True`` the environment then unmasks the top-logit candidate as in evaluation
(the recorded action, and its log-probability, stay the policy's empty choice) [ours: the default of
``PolicyTrainConfig.force_one``: at small ``L`` the initial policy (``p = sigmoid(-2) = 0.12``) otherwise
takes more than ``L + 1`` steps on most episodes, every reward is 0 and GRPO has nothing to learn from].
Without forcing an empty step costs a step (the sampler reuses the logits) and the sampler forces a token
at its ``max_steps`` bound.
"""

from __future__ import annotations

import dataclasses

import torch

from trimodal_eval.policy.model import PolicyNetwork
from trimodal_eval.sampling.rules import SelectionState, top_k_mask


def action_probability(logits_BT: torch.Tensor, *, tau: float, beta: float = 1.0) -> torch.Tensor:
    """``min(1, beta * sigmoid(logit / tau))``."""
    return torch.clamp(beta * torch.sigmoid(logits_BT / tau), max=1.0)


def action_log_prob(logits_BT: torch.Tensor, candidates_BT: torch.Tensor, action_BT: torch.Tensor, *,
                    tau: float) -> torch.Tensor:
    """``log pi(a | s)`` per row (``[B]``) of independent Bernoulli actions at the candidates (beta = 1)."""
    z_BT = torch.where(candidates_BT, logits_BT / tau, 0.0)
    per_BT = torch.where(action_BT, torch.nn.functional.logsigmoid(z_BT), torch.nn.functional.logsigmoid(-z_BT))
    return (per_BT * candidates_BT).sum(-1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StepRecord:
    """One sampler step of the rows in ``rows_B`` (what GRPO needs to recompute the log-probabilities)."""

    rows_B: torch.Tensor
    steps_B: torch.Tensor
    """Steps the row took before this one."""
    top1_BT: torch.Tensor
    mask_BT: torch.Tensor
    valid_BT: torch.Tensor
    time_B: torch.Tensor
    candidates_BT: torch.Tensor
    action_BT: torch.Tensor
    log_prob_B: torch.Tensor
    """``log pi(a | s)`` under the acting parameters (no gradient)."""


class PolicyRule:
    """A :class:`~trimodal_eval.sampling.SelectionRule` driven by a :class:`PolicyNetwork`."""

    name = "policy"
    dynamic = True
    stats: frozenset[str] = frozenset()
    scope = "all"

    def __init__(self, network: PolicyNetwork, *, tau: float = 1.0, beta: float = 1.0, train: bool = False,
                 force: bool = True) -> None:
        if not tau > 0:
            raise ValueError(f"PolicyRule tau must be > 0, got {tau!r}")
        if not beta > 0:
            raise ValueError(f"PolicyRule beta must be > 0, got {beta!r}")
        if train and beta != 1.0:
            raise ValueError("PolicyRule beta is a test-time knob: training needs beta = 1")
        self.network, self.tau, self.beta, self.train = network, float(tau), float(beta), train
        self.force = force or not train
        self.records: list[StepRecord] = []

    def select(self, state: SelectionState) -> torch.Tensor:
        with torch.no_grad():
            logits_BT = self.network(state.top1_BT, state.mask_BT, state.time_B, state.valid_BT)
        p_BT = action_probability(logits_BT, tau=self.tau, beta=self.beta)
        chosen_BT = state.candidates_BT & (state.uniform_BT < p_BT.to(torch.float64))
        if self.train:
            self.records.append(StepRecord(
                rows_B=state.rows_B.clone(), steps_B=state.steps_taken_B.clone(), top1_BT=state.top1_BT.clone(),
                mask_BT=state.mask_BT.clone(), valid_BT=state.valid_BT.clone(), time_B=state.time_B.clone(),
                candidates_BT=state.candidates_BT.clone(), action_BT=chosen_BT.clone(),
                log_prob_B=action_log_prob(logits_BT, state.candidates_BT, chosen_BT, tau=self.tau)))
            if not self.force:
                return chosen_BT
        ones_B = torch.ones_like(state.num_to_unmask_B)
        best_BT = top_k_mask(logits_BT, state.candidates_BT, ones_B)
        return torch.where(chosen_BT.any(-1, keepdim=True), chosen_BT, best_BT)
