"""Learned-policy overhead per sampler step against the bare model forward (issue 14).

    uv run python bench/bench_policy.py                        # CPU, one thread
    uv run python bench/bench_policy.py --model small --rows 8

A random-init ``DiffusionTransformer`` of a preset (``tiny``: d 64, 2 layers; ``small``: d 256, 4 layers)
over the reference token space (V = 57,370; ``--vocab task``: the policy tasks' alphabet) generates ``rows``
text answers of ``target`` positions after a ``prompt``-token prompt, full diffusion, greedy, with the
policy (``trimodal_eval.policy``: 331k parameters, one DiT block over the target positions) as the rule.
Timers wrap the model calls and the policy's ``select`` inside the same sampling calls; the ratio is policy
time / model time (CPU time of this process, best of ``rounds``). A second line times the two forwards
alone on the same shapes.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
import tyro

from trimodal_core import Modality, TokenSpace
from trimodal_eval.policy import PolicyRule, build_policy, count_parameters, task_token_space
from trimodal_eval.sampling import PromptRow, SamplerConfig, build_sampler, collate
from trimodal_eval.sampling.vocab import TEXT_CONTENT
from trimodal_train.model import MODEL_PRESETS, build_model
from trimodal_train.model.presets import REFERENCE_TOKEN_SPACE


@dataclasses.dataclass(frozen=True)
class Args:
    model: str = "tiny"
    """Base model preset."""
    vocab: str = "reference"
    """``reference`` (V = 57,370) or ``task`` (the policy tasks' 41-character alphabet)."""
    rows: int = 16
    prompt: int = 32
    target: int = 64
    rounds: int = 3
    threads: int = 1


class Timed:
    def __init__(self, fn) -> None:  # type: ignore[no-untyped-def]
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.process_time()
        out = self.fn(*args, **kwargs)
        self.seconds += time.process_time() - start
        return out


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    space = TokenSpace(REFERENCE_TOKEN_SPACE) if args.vocab == "reference" else task_token_space()
    model = build_model(MODEL_PRESETS[args.model], space).eval()
    net = build_policy()
    rng = np.random.default_rng(0)
    rows = []
    for r in range(args.rows):
        lo, hi = space.id_range("text")
        tokens = np.array([space.task_id("text"), space.special_id("bot"), *rng.integers(lo, hi, args.prompt),
                           *([space.mask_id] * args.target)], dtype=np.int64)
        span = np.full(len(tokens), int(Modality.TEXT), dtype=np.uint8)
        span[:2] = Modality.SPECIAL
        target = np.zeros(len(tokens), dtype=bool)
        target[2 + args.prompt:] = True
        rows.append(PromptRow(tokens=tokens, span_modality=span, target=target,
                              vocab_class=np.where(target, TEXT_CONTENT, 0).astype(np.int64),
                              condition=np.zeros(len(tokens), dtype=bool), seed=r))
    batch = collate(rows, pad_id=space.pad_id)
    best = None
    for _ in range(args.rounds):
        timed_model = Timed(model)
        rule = PolicyRule(net)
        rule.network = Timed(net)  # type: ignore[assignment]
        result = build_sampler(SamplerConfig(temperature=0.0), space, rule=rule).sample(timed_model, batch)
        ratio = rule.network.seconds / timed_model.seconds  # type: ignore[attr-defined]
        if best is None or ratio < best[0]:
            best = (ratio, rule.network.seconds, timed_model.seconds, int(result.nfe_B.sum()),  # type: ignore[attr-defined]
                    int(result.steps_B.max()))
    ratio, pol_s, model_s, nfe, steps = best  # type: ignore[misc]
    print(f"model {args.model}, vocab {args.vocab} ({sum(p.numel() for p in model.parameters()):,} params), policy "
          f"{count_parameters(net):,} params; {args.rows} rows x ({args.prompt} prompt + {args.target} target)")
    print(f"in sampler: {steps} steps, NFE {nfe}: policy {pol_s:.3f} s, model {model_s:.3f} s CPU, "
          f"ratio {ratio:.3f}")
    with torch.inference_mode():
        l_tokens = batch.tokens_BL
        top1 = torch.rand(args.rows, args.target)
        mask = torch.ones(args.rows, args.target, dtype=torch.bool)
        t = torch.zeros(args.rows)
        times = []
        docs, spans = batch.document_ids_BL, batch.span_modality_BL
        for fn in (lambda: model(l_tokens, document_ids_BL=docs, span_modality_BL=spans),
                   lambda: net(top1, mask, t, mask)):
            fn()
            start = time.process_time()
            for _ in range(10):
                fn()
            times.append((time.process_time() - start) / 10)
    print(f"alone: model forward {times[0] * 1e3:.2f} ms, policy forward {times[1] * 1e3:.2f} ms, "
          f"ratio {times[1] / times[0]:.3f}")


if __name__ == "__main__":
    main(tyro.cli(Args))
