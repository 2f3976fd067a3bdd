"""``SamplerConfig``: every choice of the sampler in one frozen record, and ``build_sampler``.

Per-modality starting points live in ``defaults.py``; a config is also what each output's JSON sidecar
stores (``SampleResult.settings``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Literal

from trimodal_eval.sampling.guidance import GUIDANCE_SCHEDULES
from trimodal_eval.sampling.rules import SELECTION_RULES, SelectionRule
from trimodal_eval.sampling.steps import STEP_SCHEDULES

if TYPE_CHECKING:
    from trimodal_core import TokenSpace
    from trimodal_eval.sampling.sampler import Sampler


@dataclasses.dataclass(frozen=True, kw_only=True)
class SamplerConfig:
    """One sampler (see the ``trimodal_eval.sampling`` modules for the formulas)."""

    selection: Literal["random", "confidence", "margin", "entropy", "threshold", "factor"] = "confidence"
    """Which masked positions are unmasked at a step (``rules.py``); a learned policy is passed to
    :func:`build_sampler` as ``rule`` instead."""
    steps: int | None = None
    """Steps per row for scheduled rules (shared among blocks in proportion to size); ``None``: one step per
    target token. Dynamic rules (threshold, factor, policies) ignore it."""
    step_schedule: Literal["equal", "cosine", "arccos", "noise"] = "equal"
    """Tokens per step within a block (``steps.py``)."""
    noise_schedule: str = "linear"
    """Training noise schedule name for ``step_schedule="noise"`` (``trimodal_train.diffusion.schedules``)."""
    noise_schedule_k: float = 2.0
    """Power of the ``polynomial`` noise schedule."""
    block_length: int | None = None
    """Semi-autoregressive block length in target tokens; ``None``: full diffusion (one block)."""
    threshold: float = 0.7
    """Confidence threshold ``lambda`` of the ``threshold`` rule (``shared/paper.md``: 0.7)."""
    factor: float = 1.0
    """``f`` of the ``factor`` rule [ours: 1.0, Fast-dLLM's default]."""
    temperature: float = 1.0
    """Sampling temperature; 0 is greedy."""
    top_k: int | None = None
    """Keep the ``k`` most probable tokens (None: all)."""
    top_p: float | None = None
    """Nucleus mass in (0, 1] (None: all)."""
    guidance_scale: float = 0.0
    """Classifier-free guidance ``w`` (``guidance.py``); 0 is the conditional sampler exactly."""
    guidance_schedule: Literal["constant", "decay", "ramp"] = "constant"
    """Time dependence of ``w`` (``guidance.py``)."""
    restrict: bool = True
    """Sample only ids of each target position's vocabulary class (``vocab.py``)."""
    reuse_logits: bool = True
    """Skip a row's model call when none of its tokens changed since its last call (same input, same
    logits: the model takes no time input). False calls the model at every step, as a naive loop does."""
    truncate_at_eot: bool = True
    """When a text position that may end (class ``TEXT``) takes ``eot``, the rest of that text span becomes
    padding (see ``sampler.py`` on the full-diffusion over-generation pitfall)."""
    max_steps: int | None = None
    """Bound on a row's steps under a dynamic rule (None: twice its target length); at the bound the most
    confident candidate is forced, so a rule that keeps selecting nothing cannot stall."""
    seed: int = 0
    """Sampler seed; row ``r`` draws from ``derive_seed(seed, "sampling", row_seed[r])``."""

    def __post_init__(self) -> None:
        if self.selection not in SELECTION_RULES:
            raise ValueError(f"SamplerConfig.selection: unknown rule {self.selection!r}; "
                             f"known: {', '.join(SELECTION_RULES)}")
        if self.step_schedule not in STEP_SCHEDULES:
            raise ValueError(f"SamplerConfig.step_schedule: unknown {self.step_schedule!r}; "
                             f"known: {', '.join(STEP_SCHEDULES)}")
        if self.guidance_schedule not in GUIDANCE_SCHEDULES:
            raise ValueError(f"SamplerConfig.guidance_schedule: unknown {self.guidance_schedule!r}; "
                             f"known: {', '.join(GUIDANCE_SCHEDULES)}")
        for name in ("steps", "block_length", "top_k", "max_steps"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"SamplerConfig.{name} must be a positive integer or None, got {value!r}")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"SamplerConfig.temperature must be >= 0, got {self.temperature!r}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"SamplerConfig.top_p must be in (0, 1], got {self.top_p!r}")
        if not 0 <= self.threshold < 1:
            raise ValueError(f"SamplerConfig.threshold must be in [0, 1), got {self.threshold!r}")
        if not self.factor > 0:
            raise ValueError(f"SamplerConfig.factor must be > 0, got {self.factor!r}")
        if not math.isfinite(self.guidance_scale):
            raise ValueError(f"SamplerConfig.guidance_scale must be finite, got {self.guidance_scale!r}")

    def replace(self, **changes: Any) -> SamplerConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def build_rule(config: SamplerConfig) -> SelectionRule:
    """The built-in rule named by ``config.selection``."""
    cls = SELECTION_RULES[config.selection]
    if config.selection == "threshold":
        return cls(config.threshold)
    if config.selection == "factor":
        return cls(config.factor)
    return cls()


def build_sampler(
    config: SamplerConfig,
    token_space: TokenSpace,
    *,
    rule: SelectionRule | None = None,
    maskable_specials: tuple[str, ...] = ("eot",),
) -> Sampler:
    """A sampler for ``token_space``; ``rule`` (e.g. a learned policy) replaces ``config.selection``."""
    from trimodal_eval.sampling.sampler import Sampler

    if rule is not None and not isinstance(rule, SelectionRule):
        raise TypeError(f"rule must implement SelectionRule (name, dynamic, stats, scope, select), got {rule!r}")
    return Sampler(config, token_space, rule=rule or build_rule(config), maskable_specials=maskable_specials)
