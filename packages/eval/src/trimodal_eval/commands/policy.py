"""``trimodal-eval policy {train,compare}``: the learned unmasking policy's commands.

``policy train --model RUN --task NAME [--task.length 5 ...] [--reward.alpha 0.3 ...]`` trains a policy
with GRPO on a frozen base model (``PolicyTrainConfig``); ``policy compare --model RUN --policies P1 P2
--task NAME ...`` writes the accuracy-vs-NFE comparison (``CompareConfig``). ``--task NAME`` is short for
``--task.task NAME`` (the task's other fields keep their ``--task.`` prefix).
"""

from __future__ import annotations

from collections.abc import Callable

from trimodal_core.subcommands import Subcommand, dispatch


def task_alias(argv: list[str]) -> list[str]:
    """``--task NAME`` (or ``--task=NAME``) -> ``--task.task NAME``."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--task" and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            out.append("--task.task")
        elif arg.startswith("--task="):
            out.append("--task.task=" + arg.split("=", 1)[1])
        else:
            out.append(arg)
    return out


def _train(argv: list[str]) -> int:
    import tyro

    from trimodal_eval.policy import PolicyTrainConfig, train_policy

    config = tyro.cli(PolicyTrainConfig, args=task_alias(argv), prog="trimodal-eval policy train")
    result = train_policy(config)
    print(f"{result.iterations} iterations (resumed from {result.resumed_from or 0}); metrics {result.metrics_path}; "
          f"policy {result.policy_dir or 'not exported (stopped early)'}")
    return 0


def _compare(argv: list[str]) -> int:
    import tyro

    from trimodal_eval.policy.compare import CompareConfig, run_compare

    config = tyro.cli(CompareConfig, args=task_alias(argv), prog="trimodal-eval policy compare")
    result = run_compare(config)
    for v in result["versus_random"]:
        print(f"{v['mode']} L={v['length']} {v['label']}: NFE {v['policy_nfe']:.2f}, accuracy "
              f"{v['policy_accuracy']:.3f} vs random ({v['random_steps']} steps) {v['random_accuracy']:.3f}: "
              f"difference {v['difference']:+.3f} [{v['ci_low']:+.3f}, {v['ci_high']:+.3f}]")
    print(f"wrote {config.out_dir}/comparison.json, report.html and the accuracy_vs_nfe_*.png plots")
    return 0


SUBCOMMANDS: dict[str, Subcommand] = {
    "train": Subcommand("train an unmasking policy with GRPO on a frozen base model", _train),
    "compare": Subcommand("accuracy vs NFE of policies and heuristic rules, plot and report section", _compare),
}


def run_policy(argv: list[str], guard: Callable[[Callable[[list[str]], int]], Callable[[list[str]], int]]) -> int:
    """Dispatch ``policy SUB ...`` (each subcommand wrapped by the CLI's user-error ``guard``)."""
    commands = {name: Subcommand(cmd.help, guard(cmd.run)) for name, cmd in SUBCOMMANDS.items()}  # type: ignore[arg-type]
    return dispatch("trimodal-eval policy", "The learned unmasking policy (arXiv 2512.09106).", commands, argv)
