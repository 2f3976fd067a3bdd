"""A trained policy on disk: ``policy.safetensors`` and ``policy.json`` (network shape, tau, training config).

:func:`load_policy` rebuilds the network and returns it with its settings; :meth:`LoadedPolicy.rule` makes
the evaluation-mode :class:`~trimodal_eval.policy.rule.PolicyRule` that ``build_sampler(..., rule=...)`` takes.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors.torch import load_file, save_file

from trimodal_eval.policy.model import PolicyModelConfig, PolicyNetwork
from trimodal_eval.policy.rule import PolicyRule

if TYPE_CHECKING:
    from trimodal_eval.policy.config import PolicyTrainConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadedPolicy:
    network: PolicyNetwork
    tau: float
    train_config: dict[str, Any]

    def rule(self, *, beta: float = 1.0, tau: float | None = None) -> PolicyRule:
        """Evaluation-mode rule (forces the top logit when nothing is chosen)."""
        return PolicyRule(self.network, tau=self.tau if tau is None else tau, beta=beta, train=False)


def export_policy(network: PolicyNetwork, folder: Path, config: PolicyTrainConfig) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(folder / "policy.safetensors"))
    (folder / "policy.json").write_text(json.dumps({"format": 1, "model": network.config.to_dict(),
                                                    "tau": config.tau, "train_config": config.to_dict()}, indent=1))
    return folder


def load_policy(path: str | Path) -> LoadedPolicy:
    """A policy folder (or a training run folder holding ``policy/``)."""
    folder = Path(path)
    if not (folder / "policy.json").exists() and (folder / "policy" / "policy.json").exists():
        folder = folder / "policy"
    if not (folder / "policy.json").exists():
        raise ValueError(f"policy: no policy.json in {path}")
    meta = json.loads((folder / "policy.json").read_text())
    network = PolicyNetwork(PolicyModelConfig(**meta["model"]))
    network.load_state_dict(load_file(str(folder / "policy.safetensors")))
    network.eval()
    return LoadedPolicy(network=network, tau=float(meta["tau"]), train_config=meta["train_config"])
