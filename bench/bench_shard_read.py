"""Shard reading: trimodal_core's validated, memory-mapped reader vs plain pyarrow on the same files.

Run: ``uv run python bench/bench_shard_read.py [--rows 200000] [--repeats 5]``

Both paths open every shard, memory-map it and touch every token (sum of the ``tokens`` values), so
the ratio shows the cost of our schema/fingerprint validation and batch iteration over the raw
pyarrow limit. Prints rows/s, tokens/s and the ratio (ours / pyarrow; 1.0 means no overhead).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from trimodal_core import ShardReader, ShardRecord, ShardWriter, ShardWriterConfig, TokenSpace, TokenSpaceConfig


def build(out: Path, rows: int, seed: int) -> tuple[list[Path], str]:
    space = TokenSpace(TokenSpaceConfig(text_vocab_size=32000, image_codebook_size=4096, audio_codebook_size=1024,
                                        audio_num_codebooks=4))
    rng = np.random.default_rng(seed)
    with ShardWriter(out, prefix="bench", fingerprint=space.fingerprint,
                     config=ShardWriterConfig(target_bytes=64 * 2**20)) as writer:
        for i in range(rows):
            tokens = space.to_global("text", rng.integers(0, 32000, size=int(rng.integers(64, 1024))))
            writer.write(ShardRecord(example_id=f"{i:09d}", source="bench", task="text", tokens=tokens,
                                     modality=space.modality_of(tokens)))
    return [out / s.path for s in writer.close()], space.fingerprint


def read_ours(paths: list[Path], fingerprint: str) -> tuple[int, int]:
    rows = tokens = 0
    for path in paths:
        with ShardReader(path, expected_fingerprint=fingerprint) as reader:
            for batch in reader.iter_batches(columns=["tokens"]):
                values = batch.column(0).values.to_numpy()
                rows += batch.num_rows
                tokens += values.size
                values.sum()
    return rows, tokens


def read_pyarrow(paths: list[Path]) -> tuple[int, int]:
    rows = tokens = 0
    for path in paths:
        with pa.memory_map(str(path)) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                values = batch.column("tokens").values.to_numpy()
                rows += batch.num_rows
                tokens += values.size
                values.sum()
    return rows, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths, fingerprint = build(Path(tmp), args.rows, seed=0)
        size = sum(p.stat().st_size for p in paths)
        print(f"{len(paths)} shards, {args.rows:,} rows, {size / 2**20:.0f} MiB")
        best = {"ours": float("inf"), "pyarrow": float("inf")}
        for _ in range(args.repeats):
            for name, fn in (("pyarrow", lambda: read_pyarrow(paths)), ("ours", lambda: read_ours(paths, fingerprint))):
                start = time.perf_counter()
                rows, tokens = fn()
                best[name] = min(best[name], time.perf_counter() - start)
        for name, seconds in best.items():
            print(f"{name:8s} {rows / seconds:14,.0f} rows/s {tokens / seconds:16,.0f} tokens/s ({seconds:.3f} s)")
        print(f"ratio ours/pyarrow: {best['pyarrow'] / best['ours']:.2f}x")


if __name__ == "__main__":
    main()
