"""``trimodal-train``: the training package's command line."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

import tyro

from trimodal_core.subcommands import Subcommand, dispatch
from trimodal_train.batch_scaling import AdamWBase, WeightDecayRule, scale_adamw


@dataclasses.dataclass(frozen=True, kw_only=True)
class BatchScalingConfig:
    """Transfer AdamW hyperparameters tuned at a base batch and horizon to another physical batch and
    horizon with the SDE reparameterization (lr, betas, eps, weight decay)."""

    base: AdamWBase = dataclasses.field(default_factory=AdamWBase)
    batch_size: int = 256
    """Physical batch (sequences per optimizer step) of the new run."""
    tokens: float = 13e9
    """Token horizon D of the new run."""
    seq_len: int = 1024
    """Sequence length L."""
    gamma: float = 0.44
    """Horizon exponent in kappa."""
    min_steps: int | None = None
    """S_crit: fewest optimizer steps that still approximate the SDE (enables the B_crit check)."""
    weight_decay_rule: WeightDecayRule = "per_token"
    """How weight decay follows kappa: per_token (wd * sqrt(kappa)), per_step (lr * wd constant) or fixed."""


def _batch_scaling(argv: list[str]) -> int:
    cfg = tyro.cli(BatchScalingConfig, args=argv, prog="trimodal-train batch-scaling")
    try:
        out = scale_adamw(
            cfg.base, batch_size=cfg.batch_size, tokens=cfg.tokens, seq_len=cfg.seq_len,
            gamma=cfg.gamma, min_steps=cfg.min_steps, weight_decay_rule=cfg.weight_decay_rule,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for field in dataclasses.fields(out):
        if field.name != "warning":
            print(f"{field.name:20s} {getattr(out, field.name)}")
    if out.warning:
        print(f"WARNING: {out.warning}", file=sys.stderr)
    return 0


RUN_USAGE = """usage: trimodal-train run --config NAME_OR_FILE [--launch.OPTION VALUE ...] [overrides ...]

Train (or resume) one run. NAME_OR_FILE is a preset (tiny, demo, 350m, 1b, 3b) or a .json/.toml file over
one; overrides are TrainConfig fields in tyro syntax (--optim.adamw.lr 1e-3 --run.steps 100; see
--config NAME --help). Without --launch.* options the run trains in this process (or under torchrun)."""


def _split_config(argv: list[str]) -> tuple[str | None, list[str]]:
    rest, name, i = [], None, 0
    while i < len(argv):
        key, eq, value = argv[i].partition("=")
        if key == "--config":
            if not eq and i + 1 >= len(argv):
                raise ValueError("--config: expected a preset name or a config file")
            name = value if eq else argv[i + 1]
            i += 1 if eq else 2
        else:
            rest.append(argv[i])
            i += 1
    return name, rest


def _run(argv: list[str]) -> int:
    from trimodal_train.configs import load_config
    from trimodal_train.launch_cli import launch_help, split_launch_args, submit_and_wait

    try:
        name, rest = _split_config(argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if name is None:
        asked = argv[:1] in (["-h"], ["--help"])
        print(f"{RUN_USAGE}\n\n{launch_help()}", file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    try:
        launch, overrides = split_launch_args(rest, prog="trimodal-train run")
        config = load_config(name, overrides)
        if launch is not None:
            return submit_and_wait(config, launch)
        from trimodal_train.trainer import train

        result = train(config)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    state = "preempted at" if result.preempted else "finished at"
    print(f"{state} step {result.final_step}: {result.run_dir} (metrics {result.metrics_path})")
    return 0


def _sweep(argv: list[str]) -> int:
    from trimodal_train.launch_cli import sweep_main

    return sweep_main(argv)


COMMANDS: dict[str, Subcommand] = {
    "run": Subcommand("train (or resume) one run from a preset or config file", _run),
    "sweep": Subcommand("one run per point of a grid, as a submitit job array", _sweep),
    "batch-scaling": Subcommand("scale AdamW hyperparameters to another batch size and horizon", _batch_scaling),
}


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("trimodal-train", "Train tri-modal masked diffusion models.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
