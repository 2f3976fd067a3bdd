"""The learned unmasking policy (arXiv 2512.09106): network, selection rule, MDP, reward, GRPO, training, comparison."""

from trimodal_eval.policy.base_model import BaseModelConfig, train_base_model, write_task_corpus
from trimodal_eval.policy.config import PolicyTrainConfig
from trimodal_eval.policy.export import LoadedPolicy, export_policy, load_policy
from trimodal_eval.policy.grpo import GRPOConfig, clipped_ratio, group_advantages, grpo_loss, should_skip
from trimodal_eval.policy.model import PolicyModelConfig, PolicyNetwork, build_policy, count_parameters
from trimodal_eval.policy.reward import RewardConfig, reward, speed
from trimodal_eval.policy.rollout import Episodes, prompt_row, rollout, run_episodes, stack_records
from trimodal_eval.policy.rule import PolicyRule, StepRecord, action_log_prob, action_probability
from trimodal_eval.policy.tasks import TASKS, Example, TaskConfig, build_examples, correct, task_token_space
from trimodal_eval.policy.train import PolicyTrainResult, learning_rate, train_policy

__all__ = [
    "TASKS",
    "BaseModelConfig",
    "Episodes",
    "Example",
    "GRPOConfig",
    "LoadedPolicy",
    "PolicyModelConfig",
    "PolicyNetwork",
    "PolicyRule",
    "PolicyTrainConfig",
    "PolicyTrainResult",
    "RewardConfig",
    "StepRecord",
    "TaskConfig",
    "action_log_prob",
    "action_probability",
    "build_examples",
    "build_policy",
    "clipped_ratio",
    "correct",
    "count_parameters",
    "export_policy",
    "group_advantages",
    "grpo_loss",
    "learning_rate",
    "load_policy",
    "prompt_row",
    "reward",
    "rollout",
    "run_episodes",
    "should_skip",
    "speed",
    "stack_records",
    "task_token_space",
    "train_base_model",
    "train_policy",
    "write_task_corpus",
]
