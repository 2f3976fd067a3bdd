"""Text tokenizer throughput: our ``TextTokenizer`` wrapper vs calling HF ``tokenizers`` directly, in one run.

Run from the repo root: ``uv run python bench/bench_text_tokenizer.py [--vocab-size 8192] [--repeats 5]``

Corpus: the real documents committed under ``pipelines/demo_data/text`` (Wikipedia, King James Bible, ABC
news; JSON lines), repeated to at least ``--min-mb`` MB. A byte-level BPE is trained on them once. Then,
interleaved over ``--repeats`` rounds on the same batches of ``--batch-size`` documents:

* ours: ``TextTokenizer.encode_batch`` -> list of int64 numpy arrays (and ``decode_batch``);
* HF ``Tokenizer.encode_batch`` -> ``Encoding`` objects, ids read as Python lists (the usual direct call);
* HF ``Tokenizer.encode_batch_fast`` -> ``Encoding`` objects without offsets (what our wrapper calls inside).

Prints tokens/s (best round, median in brackets) and the ratio ours / HF (goal >= 0.9x). HF's Rust side uses
all cores (``RAYON_NUM_THREADS`` unset) for every path alike.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer

DEMO_TEXT = Path(__file__).resolve().parents[1] / "pipelines" / "demo_data" / "text"


def load_docs(min_mb: float) -> list[str]:
    docs = []
    for path in sorted(DEMO_TEXT.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            docs += [json.loads(line)["text"] for line in handle if line.strip()]
    if not docs:
        raise SystemExit(f"no documents under {DEMO_TEXT}")
    size = sum(len(d.encode()) for d in docs)
    return docs * max(1, int(min_mb * 2**20 // size) + 1)


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    tokens = fn()
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--min-mb", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    docs = load_docs(args.min_mb)
    mb = sum(len(d.encode()) for d in docs) / 2**20
    train_start = time.perf_counter()
    tok = TextTokenizer.train(docs[: len(docs) // max(1, round(mb / 5))], TextBPEConfig(vocab_size=args.vocab_size))
    print(f"trained BPE ({tok.vocab_size} tokens) in {time.perf_counter() - train_start:.1f} s")
    hf = tok.hf_tokenizer
    batches = [docs[i : i + args.batch_size] for i in range(0, len(docs), args.batch_size)]

    def ours() -> int:
        return sum(sum(len(x) for x in tok.encode_batch(b)) for b in batches)

    def hf_encode() -> int:
        return sum(sum(len(e.ids) for e in hf.encode_batch(b, add_special_tokens=False)) for b in batches)

    def hf_fast() -> int:
        return sum(sum(len(e.ids) for e in hf.encode_batch_fast(b, add_special_tokens=False)) for b in batches)

    ids = [tok.encode_batch(b) for b in batches]
    id_lists = [[x.tolist() for x in batch] for batch in ids]

    def ours_decode() -> int:
        return sum(sum(len(t) for t in tok.decode_batch(b)) for b in ids)

    def hf_decode() -> int:
        return sum(sum(len(t) for t in hf.decode_batch(b, skip_special_tokens=False)) for b in id_lists)

    paths = {"ours encode": ours, "HF encode_batch": hf_encode, "HF encode_batch_fast": hf_fast,
             "ours decode": ours_decode, "HF decode_batch": hf_decode}  # fmt: skip
    rates: dict[str, list[float]] = {name: [] for name in paths}
    counts: dict[str, int] = {}
    names = list(paths)
    for round_index in range(args.repeats):
        # Rotate the order each round so no path always runs first (caches, other jobs on the machine).
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            fn = paths[name]
            seconds, count = timed(fn)
            rates[name].append(count / seconds)
            counts[name] = count
    assert counts["ours encode"] == counts["HF encode_batch"] == counts["HF encode_batch_fast"]

    print(f"machine: {platform.node()} {os.cpu_count()} cpus; {len(docs)} docs, {mb:.1f} MB, "
          f"{counts['ours encode']:,} tokens, batch {args.batch_size}, {args.repeats} rounds")  # fmt: skip
    print("| path | tokens/s best (median) | ratio ours / this |")
    print("|---|---|---|")
    for name in paths:
        best, median = max(rates[name]), statistics.median(rates[name])
        ours_best = max(rates["ours decode" if "decode" in name else "ours encode"])
        unit = "chars/s" if "decode" in name else "tokens/s"
        print(f"| {name} | {best:,.0f} ({median:,.0f}) {unit} | {ours_best / best:.2f}x |")


if __name__ == "__main__":
    main()
