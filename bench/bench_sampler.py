"""Sampler overhead over the bare model forwards at the same NFE, and NFE saved by logit reuse.

    uv run python bench/bench_sampler.py                      # tiny model, reference vocabulary, CPU
    uv run python bench/bench_sampler.py --vocab small --rounds 5
    uv run python bench/bench_sampler.py --device cuda        # when a GPU is lent

A tiny random-init ``DiffusionTransformer`` (``tiny`` preset: d 64, 2 layers) over the reference token
space (V = 57,370: 32k text, 15,360 image codes, 9 x 1,024 audio codes) samples ragged batches of text
continuation (semi-AR and full diffusion), threshold decoding, text-to-image with guidance and
text-to-speech. A wrapper records every model input the sampler makes; the same inputs are then fed to the
bare model in a plain loop. Overhead = sampler time / bare-forward time - 1 (goal: at most 10% on CPU),
from wall time and from this process's CPU time (the robust number on a shared machine), best of
``rounds`` (interleaved). "In-loop" is the sampler's CPU time outside the model calls over the CPU time
inside them, within the same sampling call (immune to load changes between the two paths, but blind to any
slowdown the sampler causes inside the model). Torch runs one intra-op thread on CPU (``--threads``) so
the two paths see the same machine. The second table counts the NFE of the same samples with logit reuse on
and off.
"""

from __future__ import annotations

import dataclasses
import platform
import time

import numpy as np
import torch
import tyro

from trimodal_core import Modality, TokenSpace, TokenSpaceConfig
from trimodal_eval.sampling import PromptRow, SamplerConfig, SelectionState, build_sampler, collate
from trimodal_eval.sampling.vocab import AUDIO_BOOK, IMAGE, TEXT
from trimodal_train.model import MODEL_PRESETS, build_model
from trimodal_train.model.presets import REFERENCE_TOKEN_SPACE

SMALL = TokenSpaceConfig(text_vocab_size=4096, image_codebook_size=1000, audio_codebook_size=1024,
                         audio_num_codebooks=4)


@dataclasses.dataclass(frozen=True, kw_only=True)
class BenchConfig:
    vocab: str = "reference"
    """``reference`` (V = 57,370) or ``small`` (V = 9,218)."""
    rounds: int = 3
    device: str = "cpu"
    threads: int = 1
    seed: int = 0
    model: str = "tiny"
    """Model preset (``tiny``: d 64, 2 layers; ``small``: d 256, 4 layers)."""
    only: str = ""
    """Run only the cases whose name contains this text."""


def _text_row(space: TokenSpace, rng: np.random.Generator, prompt: int, new: int, seed: int) -> PromptRow:
    ids = [space.task_id("text"), space.special_id("bot")]
    ids += (space.text_offset + rng.integers(0, space.config.text_vocab_size, prompt)).tolist()
    tokens = np.array(ids + [space.mask_id] * new, dtype=np.int64)
    target = np.arange(len(tokens)) >= len(ids)
    span = np.where(np.arange(len(tokens)) >= 2, int(Modality.TEXT), 0).astype(np.uint8)
    return PromptRow(tokens=tokens, span_modality=span, target=target,
                     vocab_class=np.where(target, TEXT, 0).astype(np.int64), condition=np.zeros(len(tokens), bool),
                     seed=seed)


def _media_row(space: TokenSpace, rng: np.random.Generator, caption: int, n: int, seed: int, *,
               audio_books: int = 0) -> PromptRow:
    task, begin, end = ("t2s", "boa", "eoa") if audio_books else ("t2i", "boi", "eoi")
    cap = (space.text_offset + rng.integers(0, space.config.text_vocab_size, caption)).tolist()
    ids = [space.task_id(task), space.special_id("bot"), *cap, space.special_id("eot"), space.special_id(begin)]
    tokens = np.array(ids + [space.mask_id] * n + [space.special_id(end)], dtype=np.int64)
    positions = np.arange(len(tokens))
    target = (positions >= len(ids)) & (positions < len(ids) + n)
    span = np.zeros(len(tokens), np.uint8)
    span[2: 3 + caption] = Modality.TEXT
    span[target] = Modality.AUDIO if audio_books else Modality.IMAGE
    condition = (positions >= 2) & (positions < 3 + caption)
    klass = np.where(target, AUDIO_BOOK + (np.cumsum(target) - 1) % audio_books if audio_books else IMAGE, 0)
    return PromptRow(tokens=tokens, span_modality=span, target=target, vocab_class=klass.astype(np.int64),
                     condition=condition, seed=seed)


def cases(space: TokenSpace) -> dict[str, tuple[list[PromptRow], SamplerConfig]]:
    rng = np.random.default_rng(0)
    text = [_text_row(space, rng, p, n, i) for i, (p, n) in enumerate([(32, 64), (8, 64), (48, 48), (20, 64)])]
    image = [_media_row(space, rng, c, 256, 10 + i) for i, c in enumerate([12, 30])]
    books = space.config.audio_num_codebooks
    audio = [_media_row(space, rng, c, books * 24, 20 + i, audio_books=books) for i, c in enumerate([10, 25])]
    return {
        "text semi-AR 32, confidence, 1 token/step": (text, SamplerConfig(block_length=32)),
        "text full diffusion, confidence, 32 steps": (text, SamplerConfig(steps=32)),
        "text semi-AR 32, threshold 0.7, greedy": (text, SamplerConfig(selection="threshold", block_length=32,
                                                                       temperature=0.0)),
        "text full, entropy, top-p 0.9, 32 steps": (text, SamplerConfig(selection="entropy", steps=32, top_p=0.9)),
        "text full diffusion, cosine, 64 steps": (text, SamplerConfig(steps=64, step_schedule="cosine")),
        "text semi-AR 32, Bernoulli(0.3) policy stand-in": (text, SamplerConfig(block_length=32)),
        "t2i 256 tokens, cosine 32 steps, guidance 2": (image, SamplerConfig(steps=32, step_schedule="cosine",
                                                                             guidance_scale=2.0)),
        "t2s 24 frames, cosine 32 steps, guidance 2": (audio, SamplerConfig(steps=32, step_schedule="cosine",
                                                                            guidance_scale=2.0)),
    }


class BernoulliRule:
    """Stands in for a learned policy: unmasks each candidate with probability 0.3 (some steps select none)."""

    name, dynamic, stats, scope = "bernoulli-0.3", True, frozenset(), "all"

    def select(self, state: SelectionState) -> torch.Tensor:
        return state.candidates_BT & (state.uniform_BT < 0.3)


class Recorder:
    """Calls the model, keeping each input (for the bare replay) and the CPU time spent inside it."""

    def __init__(self, model: torch.nn.Module, device: torch.device, keep: bool) -> None:
        self.model, self.device, self.keep, self.inputs, self.cpu = model, device, keep, [], 0.0
        self.allowed_mask_MV = model.allowed_mask_MV

    def __call__(self, tokens_BL, *, document_ids_BL=None, span_modality_BL=None):
        if self.keep:
            self.inputs.append((tokens_BL.clone(), document_ids_BL.clone(), span_modality_BL.clone()))
        _sync(self.device)
        began = time.process_time()
        out = self.model(tokens_BL, document_ids_BL=document_ids_BL, span_modality_BL=span_modality_BL)
        _sync(self.device)
        self.cpu += time.process_time() - began
        return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def measure(name, model, space, rows, config, device, rounds: int) -> dict[str, float]:
    batch = collate(rows, pad_id=space.pad_id, device=device)
    sampler = build_sampler(config, space, rule=BernoulliRule() if "Bernoulli" in name else None)
    recorder = Recorder(model, device, keep=True)
    result = sampler.sample(recorder, batch)  # warm-up, and the inputs to replay
    inputs = recorder.inputs
    best = dict.fromkeys(("sample_wall", "sample_cpu", "bare_wall", "bare_cpu", "inloop"), float("inf"))
    for _ in range(rounds):
        for path in ("sample", "bare"):
            _sync(device)
            wall, cpu = time.perf_counter(), time.process_time()
            if path == "sample":
                timer = Recorder(model, device, keep=False)
                sampler.sample(timer, batch)
            else:
                held = None  # the sampler keeps a call's logits while the next call runs: so does the replay
                for tokens, docs, span in inputs:
                    held = model(tokens, document_ids_BL=docs, span_modality_BL=span)  # noqa: F841
            _sync(device)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[f"{path}_wall"] = min(best[f"{path}_wall"], wall)
            best[f"{path}_cpu"] = min(best[f"{path}_cpu"], cpu)
            if path == "sample":  # CPU outside the model calls / CPU inside them, within the same call
                best["inloop"] = min(best["inloop"], (cpu - timer.cpu) / timer.cpu)
    no_reuse = sampler.__class__(config.replace(reuse_logits=False), space, rule=sampler.rule).sample(model, batch)
    return {**best, "calls": len(inputs), "nfe": int(result.nfe_B.sum()), "nfe_no_reuse": int(no_reuse.nfe_B.sum()),
            "saved": int(result.nfe_saved_B.sum()), "rows": len(rows)}


def main(config: BenchConfig) -> None:
    torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    space = TokenSpace(REFERENCE_TOKEN_SPACE if config.vocab == "reference" else SMALL)
    torch.manual_seed(config.seed)
    model = build_model(MODEL_PRESETS[config.model], space).to(device).eval()
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"device {device}, threads {torch.get_num_threads()}, V = {space.vocab_size}, {config.model} model, "
          f"best of {config.rounds}")
    print("| case | NFE (calls) | sampler s | bare forwards s | overhead wall | overhead CPU | in-loop CPU |")
    print("|---|---|---|---|---|---|---|")
    saved_rows = []
    for name, (rows, sampler_config) in cases(space).items():
        if config.only not in name:
            continue
        m = measure(name, model, space, rows, sampler_config, device, config.rounds)
        print(f"| {name} | {m['nfe']} ({m['calls']}) | {m['sample_wall']:.3f} | {m['bare_wall']:.3f} | "
              f"{m['sample_wall'] / m['bare_wall'] - 1:+.1%} | {m['sample_cpu'] / m['bare_cpu'] - 1:+.1%} | "
              f"{m['inloop']:+.1%} |",
              flush=True)
        saved_rows.append((name, m))
    print("\n| case | rows | NFE with reuse | NFE without | saved |")
    print("|---|---|---|---|---|")
    for name, m in saved_rows:
        print(f"| {name} | {m['rows']} | {m['nfe']} | {m['nfe_no_reuse']} | {m['saved']} "
              f"({m['saved'] / max(1, m['nfe_no_reuse']):.0%}) |")


if __name__ == "__main__":
    main(tyro.cli(BenchConfig))
