"""One sampler library for every modality: step schedules, selection rules, exact sampling, guidance."""

from trimodal_eval.sampling.batch import PromptRow, SamplingBatch, collate
from trimodal_eval.sampling.categorical import Draw, draw, filter_logits, inverse_cdf
from trimodal_eval.sampling.config import SamplerConfig, build_rule, build_sampler
from trimodal_eval.sampling.defaults import DEFAULT_SAMPLERS, default_sampler_config
from trimodal_eval.sampling.guidance import GUIDANCE_SCHEDULES, guidance_weight, guide
from trimodal_eval.sampling.rules import (
    SELECTION_RULES,
    ConfidenceRule,
    EntropyRule,
    FactorRule,
    MarginRule,
    RandomRule,
    SelectionRule,
    SelectionState,
    ThresholdRule,
    top_k_mask,
)
from trimodal_eval.sampling.sampler import Sampler, SampleResult
from trimodal_eval.sampling.steps import STEP_SCHEDULES, mask_ratio, plan_row, split_steps, step_counts
from trimodal_eval.sampling.vocab import VocabClasses, build_vocab_classes

__all__ = [
    "DEFAULT_SAMPLERS",
    "GUIDANCE_SCHEDULES",
    "SELECTION_RULES",
    "STEP_SCHEDULES",
    "ConfidenceRule",
    "Draw",
    "EntropyRule",
    "FactorRule",
    "MarginRule",
    "PromptRow",
    "RandomRule",
    "SampleResult",
    "Sampler",
    "SamplerConfig",
    "SamplingBatch",
    "SelectionRule",
    "SelectionState",
    "ThresholdRule",
    "VocabClasses",
    "build_rule",
    "build_sampler",
    "build_vocab_classes",
    "collate",
    "default_sampler_config",
    "draw",
    "filter_logits",
    "guidance_weight",
    "guide",
    "inverse_cdf",
    "mask_ratio",
    "plan_row",
    "split_steps",
    "step_counts",
    "top_k_mask",
]
