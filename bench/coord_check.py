"""Coordinate check: activation RMS after 5 AdamW steps, CompleteP vs standard, widths 64-512, depths 2-16.

Run: ``uv run python bench/coord_check.py [--lr 3e-3] [--steps 5] [--batch 4] [--seq-len 16] [--seeds 1]``.
Prints one row per shape and the spread (max/min over shapes) of each statistic; see
``trimodal_train.coord_check`` for what is measured.
"""

from __future__ import annotations

import argparse
import time

import torch

from trimodal_train.coord_check import STATISTICS, coord_check, spreads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--seq-len", type=int, default=16)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=1, help="repeat with seeds 0..N-1")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; lr={args.lr}, steps={args.steps}, "
          f"batch={args.batch}x{args.seq_len}")
    for seed in range(args.seeds):
        for parameterization in ("completep", "standard"):
            t0 = time.perf_counter()
            rows = coord_check(parameterization, steps=args.steps, lr=args.lr, seq_len=args.seq_len,
                               batch=args.batch, seed=seed)
            print(f"\n{parameterization} (seed {seed}, {time.perf_counter() - t0:.1f} s)")
            print("| d_model | n_layers | " + " | ".join(STATISTICS) + " |")
            print("|---|---|" + "---|" * len(STATISTICS))
            for row in rows:
                values = " | ".join(f"{row.rms[name]:.3g}" for name in STATISTICS)
                print(f"| {row.d_model} | {row.n_layers} | {values} |")
            values = spreads(rows)
            print("| spread (max/min) | | " + " | ".join(f"{values[name]:.2f}" for name in STATISTICS) + " |")


if __name__ == "__main__":
    main()
