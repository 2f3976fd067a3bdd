"""One training step (forward, backward, AdamW) of the model presets on CPU, against the bare model math.

Run: ``uv run python bench/bench_model_step.py [--presets tiny small] [--batch 8] [--seq-len 128]``. Rows are
packed with two documents each (document-masked SDPA) and text-restricted logits; the vocabulary is the
test-sized token space (V = 454) and :data:`REFERENCE_TOKEN_SPACE` (V = 57,370). Prints the best and median
of ``--rounds`` steps after one warm-up step.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from trimodal_core import Modality, TokenSpace, TokenSpaceConfig
from trimodal_train.model import MODEL_PRESETS, REFERENCE_TOKEN_SPACE, build_model, param_groups

SMALL_SPACE = TokenSpaceConfig(text_vocab_size=300, image_codebook_size=64, audio_codebook_size=32,
                               audio_num_codebooks=2)


def step_times(preset: str, space: TokenSpace, batch: int, seq_len: int, rounds: int) -> list[float]:
    torch.manual_seed(0)
    model = build_model(MODEL_PRESETS[preset], space)
    optimizer = torch.optim.AdamW(param_groups(model, lr=1e-3, eps=1e-8, weight_decay=0.1))
    start_id, stop_id = space.id_range(Modality.TEXT)
    tokens = torch.randint(start_id, stop_id, (batch, seq_len))
    docs = (torch.arange(seq_len) >= seq_len // 2).int().expand(batch, seq_len)
    spans = torch.full((batch, seq_len), int(Modality.TEXT), dtype=torch.uint8)
    times = []
    for _ in range(rounds + 1):
        start = time.perf_counter()
        logits = model(tokens, document_ids_BL=docs, span_modality_BL=spans)
        loss = F.cross_entropy(logits.flatten(0, 1), tokens.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch} x {args.seq_len}")
    print("| preset | vocab | best ms/step | median ms/step |")
    print("|---|---|---|---|")
    for preset in args.presets:
        for config in (SMALL_SPACE, REFERENCE_TOKEN_SPACE):
            space = TokenSpace(config)
            times = step_times(preset, space, args.batch, args.seq_len, args.rounds)
            best, median = min(times) * 1e3, statistics.median(times) * 1e3
            print(f"| {preset} | {space.vocab_size:,} | {best:.1f} | {median:.1f} |")


if __name__ == "__main__":
    main()
