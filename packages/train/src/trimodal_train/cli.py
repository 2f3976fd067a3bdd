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


COMMANDS: dict[str, Subcommand] = {
    "batch-scaling": Subcommand("scale AdamW hyperparameters to another batch size and horizon", _batch_scaling),
}


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("trimodal-train", "Train tri-modal masked diffusion models.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
