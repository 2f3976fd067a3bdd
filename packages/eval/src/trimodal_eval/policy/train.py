"""Training the unmasking policy with GRPO on a frozen base model: resumable, logged, seeded.

One iteration: draw ``prompts_per_iteration`` train-split prompts (seeded by ``(seed, iteration)``), run
``G`` episodes of each (``rollout.py``; row seeds from ``(seed, iteration, row)``), score them
(``reward.py``), compute group advantages and take ``updates_per_batch`` AdamW steps on the clipped loss
(``grpo.py``), unless the batch is skipped. Optimizer (``shared/paper.md``): AdamW lr 3e-5, betas
(0.9, 0.99), weight decay 0.1, gradient-norm clip 0.2, fp32 policy; the learning rate of optimizer step
``k`` of ``K = iterations * updates_per_batch`` is ``lr * (k + 1) / W`` during the ``W`` warmup steps, then
``lr * (r + (1 - r)(1 + cos(pi (k - W) / (K - W))) / 2)`` (cosine to ``min_lr_ratio`` ``r``, [ours]: 0).

Run folder: ``config.json``; ``metrics.jsonl`` (one record per iteration); ``checkpoints/iter_XXXXXX/``
(``policy.safetensors``, ``optimizer.pt`` (``torch.save``; read with ``weights_only=True``), ``state.json``;
written to a temporary folder and renamed, so a folder that exists is complete); ``policy/`` (the final
policy, :func:`~trimodal_eval.policy.export.load_policy`). Every random choice is a function of (seed,
iteration), so a run resumed from any checkpoint reproduces the uninterrupted one bit for bit (tested).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from trimodal_core import derive_seed, numpy_rng, progress
from trimodal_eval.policy.config import PolicyTrainConfig
from trimodal_eval.policy.export import export_policy
from trimodal_eval.policy.grpo import group_advantages, grpo_loss, should_skip
from trimodal_eval.policy.model import PolicyNetwork, build_policy
from trimodal_eval.policy.reward import reward
from trimodal_eval.policy.rollout import rollout, stack_records
from trimodal_eval.policy.rule import PolicyRule, action_log_prob, action_probability
from trimodal_eval.policy.tasks import ALPHABET, build_examples

RESUMABLE = ("out_dir", "stop_after", "threads", "progress", "checkpoint_interval", "keep_last", "resume")
"""Fields a resumed run may change."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class PolicyTrainResult:
    out_dir: Path
    iterations: int
    """Iterations completed."""
    metrics_path: Path
    policy_dir: Path | None
    """The exported policy (None when stopped early by ``stop_after``)."""
    resumed_from: int | None = None


def learning_rate(step: int, config: PolicyTrainConfig) -> float:
    total = config.iterations * config.grpo.updates_per_batch
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, total - config.warmup_steps)
    cos = (1 + math.cos(math.pi * min(1.0, (step - config.warmup_steps) / span))) / 2
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * cos)


def _comparable(config: PolicyTrainConfig) -> dict:
    return {k: v for k, v in config.to_dict().items() if k not in RESUMABLE}


def _save(out: Path, iteration: int, opt_steps: int, net: PolicyNetwork, opt: torch.optim.Optimizer,
          config: PolicyTrainConfig) -> None:
    root = out / "checkpoints"
    final, tmp = root / f"iter_{iteration:06d}", root / f".tmp_iter_{iteration:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp / "policy.safetensors"))
    torch.save(opt.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({"iteration": iteration, "opt_steps": opt_steps,
                                                "config": _comparable(config)}, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    kept = sorted(p for p in root.glob("iter_*") if p.is_dir())
    for old in kept[: max(0, len(kept) - config.keep_last)]:
        shutil.rmtree(old)


def _latest(out: Path) -> Path | None:
    found = sorted(p for p in (out / "checkpoints").glob("iter_*") if (p / "state.json").exists())
    return found[-1] if found else None


def _resume(out: Path, net: PolicyNetwork, opt: torch.optim.Optimizer, config: PolicyTrainConfig) -> tuple[int, int]:
    ckpt = _latest(out)
    if ckpt is None:
        return 0, 0
    state = json.loads((ckpt / "state.json").read_text())
    if state["config"] != _comparable(config):
        changed = sorted(k for k in set(state["config"]) | set(_comparable(config))
                         if state["config"].get(k) != _comparable(config).get(k))
        raise ValueError(f"PolicyTrainConfig differs from the checkpoint {ckpt} in {', '.join(changed)} "
                         f"(only {', '.join(RESUMABLE)} may change on resume)")
    net.load_state_dict(load_file(str(ckpt / "policy.safetensors")))
    opt.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
    return int(state["iteration"]), int(state["opt_steps"])


def _iteration(it: int, net: PolicyNetwork, opt: torch.optim.Optimizer, opt_steps: int, denoiser, space,  # type: ignore[no-untyped-def]
               pool: list, config: PolicyTrainConfig) -> tuple[dict, int]:
    p, g = config.prompts_per_iteration, config.grpo.group_size
    picks = numpy_rng(config.seed, "policy-prompts", it).choice(len(pool), size=p, replace=False)
    examples = [pool[int(i)] for i in picks]
    seeds = [derive_seed(config.seed, "policy-rollout", it, row) for row in range(g * p)]
    rule = PolicyRule(net, tau=config.tau, train=True, force=config.force_one)
    episodes = rollout(rule, denoiser, examples, group_size=g, seeds=seeds, space=space,
                       sampler=config.sampler_config())
    cost_B = episodes.steps_B if config.reward.cost == "steps" else episodes.nfe_B
    reward_B = reward(episodes.correct_B, cost_B, episodes.length_B, config.reward)
    advantage_B = group_advantages(reward_B, torch.arange(g * p) % p)
    record = {"iteration": it, "reward": float(reward_B.mean()), "accuracy": float(episodes.correct_B.double().mean()),
              "steps": float(episodes.steps_B.double().mean()), "nfe": float(episodes.nfe_B.double().mean()),
              "advantage_abs": float(advantage_B.abs().mean()), "skipped": should_skip(advantage_B, config.grpo),
              "loss": None, "grad_norm": None, "lr": learning_rate(opt_steps, config)}
    if not record["skipped"]:
        data = stack_records(episodes.records)
        old_N = data["log_prob_B"].clone()
        losses, norms = [], []
        for _ in range(config.grpo.updates_per_batch):
            for group in opt.param_groups:
                group["lr"] = learning_rate(opt_steps, config)
            logits_NT = net(data["top1_BT"], data["mask_BT"], data["time_B"], data["valid_BT"])
            new_N = action_log_prob(logits_NT, data["candidates_BT"], data["action_BT"], tau=config.tau)
            loss = grpo_loss(new_N, old_N, advantage_B, data["row_N"], clip=config.grpo.clip)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)))
            opt.step()
            opt_steps += 1
            losses.append(float(loss.detach()))
        with torch.no_grad():
            p_NT = action_probability(logits_NT, tau=config.tau)
        record.update(loss=losses, grad_norm=norms,
                      mean_p=float(p_NT[data["candidates_BT"]].mean()), decisions=int(old_N.numel()))
    return record, opt_steps


def train_policy(config: PolicyTrainConfig) -> PolicyTrainResult:
    """Train (or resume) the policy of ``config``; see the module docstring."""
    if not Path(config.model).exists():
        raise ValueError(f"PolicyTrainConfig.model: {config.model} does not exist")
    from trimodal_train.model_export import load_model

    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        loaded = load_model(config.model)
        space = loaded.token_space
        if space.config.text_vocab_size != len(ALPHABET):
            raise ValueError(f"PolicyTrainConfig.model {config.model}: text vocabulary {space.config.text_vocab_size}, "
                             f"the task alphabet has {len(ALPHABET)} (train it with policy.base_model)")
        out = Path(config.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        net = build_policy(config.policy, seed=derive_seed(config.seed, "policy-init") % 2**31)
        opt = torch.optim.AdamW(net.parameters(), lr=config.lr, betas=(config.beta1, config.beta2),
                                weight_decay=config.weight_decay)
        start, opt_steps = _resume(out, net, opt, config) if config.resume else (0, 0)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=1))
        metrics = out / "metrics.jsonl"
        kept = [line for line in (metrics.read_text().splitlines() if metrics.exists() else [])
                if line.strip() and json.loads(line)["iteration"] < start]
        metrics.write_text("".join(line + "\n" for line in kept))
        pool = build_examples(config.task, config.num_train_examples, split="train")
        end = config.iterations if config.stop_after is None else min(config.iterations, config.stop_after)
        iterations = range(start, end)
        shown = progress(iterations, desc="policy GRPO", total=end - start, unit="iter")
        for it in shown if config.progress else iterations:
            record, opt_steps = _iteration(it, net, opt, opt_steps, loaded.model, space, pool, config)
            with metrics.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            if (it + 1) % config.checkpoint_interval == 0 or it + 1 == end:
                _save(out, it + 1, opt_steps, net, opt, config)
        policy_dir = export_policy(net, out / "policy", config) if end == config.iterations else None
        return PolicyTrainResult(out_dir=out, iterations=end, metrics_path=metrics, policy_dir=policy_dir,
                                 resumed_from=start or None)
    finally:
        torch.set_num_threads(threads)
