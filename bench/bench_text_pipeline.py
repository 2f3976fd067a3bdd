"""Benchmark: the trimodal Beam text pipeline vs datatrove on the same >= 50 MB real-text corpus.

Both systems run the same steps on the same JSONL.gz files: Gopher repetition + Gopher quality filters,
MinHash near-duplicate removal (5-word shingles, 16 bands x 8 rows), and tokenization with the same
byte-level BPE ``tokenizer.json``; both write their outputs to disk (ours: Arrow shards + rejects +
manifest; datatrove: its filtered JSONL, signatures/buckets/clusters and token files). Each runs in its
own process on one core (DirectRunner in-process; datatrove ``LocalPipelineExecutor`` with one worker;
``RAYON_NUM_THREADS=1`` so the HF tokenizer does not use a second core), and throughput per core is
documents (or MB) divided by the process's CPU seconds (user + sys).

datatrove's English word splitter needs NLTK and its punkt data, which cannot be downloaded here: the
baseline gets a whitespace word tokenizer (``str.split``, what our rules use). That makes datatrove
faster than stock, so the ratio is conservative. datatrove also hands ``str`` to xxhash, which xxhash 4
refuses; the bench encodes to UTF-8 first (the hash xxhash 3 computed). Its JSONL reader needs orjson.
Its intermediate JSONL between the filter and dedupe stages is written uncompressed by default (faster for
datatrove than its gzip default; ``--datatrove-compression gzip`` restores that).

The second part measures dedupe quality: a corpus with planted near duplicates (random word edits, so the
true Jaccard spreads over about 0.5-1.0, some chained) goes through our ``MinHashDedup``; the reference is
exact Jaccard over every pair of documents sharing at least one shingle (all other pairs have Jaccard 0),
with connected components at the 0.8 threshold, keeping the smallest id. Precision and recall are over the
documents removed.

Corpus sources (real text, generated at bench time, never committed): the King James Bible (Debian
``bible-kjv``), the Wikipedia articles and ABC news documents in gensim's test data. Documents are random
contiguous runs of verses / paragraphs (1.5-12 KB) drawn until the corpus holds ``--target-mb`` MB.

Run from the repo root (about 10 minutes on 2 cores)::

    apt-get install -y bible-kjv
    uv run --group bench --with gensim --with orjson python bench/bench_text_pipeline.py
"""

from __future__ import annotations

import argparse
import bz2
import functools
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path("bench/_work/text")
SEED = 20240601


# ------------------------------------------------------------------------------------------- corpus
def _source_units() -> dict[str, list[str]]:
    """Paragraph-sized units of real text per source."""
    import gensim
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    data = Path(gensim.__file__).parent / "test" / "test_data"
    wiki = []
    with bz2.BZ2File(data / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2") as f:
        for _, text, _ in extract_pages(f):
            clean = filter_wiki(text)
            wiki += [p.strip() for p in clean.split("\n\n") if len(p.strip()) > 40]
    lee = [line.strip() for line in (data / "lee_background.cor").read_text(errors="replace").splitlines() if line]
    kjv_raw = subprocess.run(["bible", "gen1:1-rev22:21"], capture_output=True, text=True, check=True).stdout
    kjv = [line.strip() for line in kjv_raw.splitlines() if line.strip()]
    return {"kjv": kjv, "enwiki": wiki, "lee": lee}


def _make_docs(units: dict[str, list[str]], target_bytes: int, rng: random.Random) -> list[dict]:
    docs, total = [], 0
    names = sorted(units)
    while total < target_bytes:
        source = rng.choice(names)
        pool = units[source]
        size = rng.randint(1500, 12000)
        start = rng.randrange(len(pool))
        parts, length = [], 0
        for unit in pool[start:]:
            parts.append(unit)
            length += len(unit) + 1
            if length >= size:
                break
        text = "\n".join(parts)
        docs.append({"id": f"{source}-{len(docs):07d}", "text": text, "source": source})
        total += len(text.encode())
    return docs


def _write_shards(docs: list[dict], folder: Path, num_files: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(num_files):
        lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs[i::num_files])
        (folder / f"part-{i:03d}.jsonl.gz").write_bytes(gzip.compress(lines.encode(), mtime=0))


def build_corpus(target_mb: float) -> dict:
    meta_path = WORK / "corpus.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta["target_mb"] == target_mb:
            return meta
    rng = random.Random(SEED)
    units = _source_units()
    docs = _make_docs(units, int(target_mb * 1e6), rng)
    shutil.rmtree(WORK / "corpus", ignore_errors=True)
    _write_shards(docs, WORK / "corpus", num_files=8)
    shutil.rmtree(WORK / "warmup", ignore_errors=True)
    _write_shards(docs[:100], WORK / "warmup", num_files=1)
    meta = {
        "target_mb": target_mb,
        "docs": len(docs),
        "mb": sum(len(d["text"].encode()) for d in docs) / 1e6,
        "per_source": {s: sum(d["source"] == s for d in docs) for s in units},
    }
    # The shared tokenizer: our byte-level BPE trained on a 5 MB sample of the corpus.
    from trimodal_tokenizers.bundle import TokenizerBundle
    from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer

    sample = [d["text"] for d in rng.sample(docs, k=min(len(docs), 800))]
    tokenizer = TextTokenizer.train(sample, TextBPEConfig(vocab_size=8192))
    shutil.rmtree(WORK / "bundle", ignore_errors=True)
    TokenizerBundle.build(text=tokenizer).save(WORK / "bundle")
    meta_path.write_text(json.dumps(meta, indent=2))
    return meta


# ------------------------------------------------------------------------------------------- runs
def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


def run_ours(corpus: Path, out: Path) -> dict:
    from trimodal_data.pipelines.text import TextPipelineConfig, run_text_pipeline
    from trimodal_data.rules.language import LanguageConfig
    from trimodal_data.rules.text import C4Config, FineWebConfig
    from trimodal_data.rules.text_filters import TextFiltersConfig

    config = TextPipelineConfig(
        filters=TextFiltersConfig(
            c4=C4Config(enabled=False), fineweb=FineWebConfig(enabled=False), language=LanguageConfig(enabled=False)
        ),
        exact_dedup=False,
    )
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    summary = run_text_pipeline(
        inputs=[str(corpus)], output=out, tokenizer=WORK / "bundle", config=config,
        beam_args=["--runner=DirectRunner"], overwrite=True,
    )
    return {
        "cpu_s": _cpu_seconds() - cpu0,
        "wall_s": time.perf_counter() - wall0,
        "kept": summary["kept"],
        "near_duplicates": summary["duplicates_removed"],
        "rejected": summary["rejected"],
        "tokens": summary["tokens_written"]["text"],
    }


def run_datatrove(corpus: Path, base: Path, compression: str | None = None) -> dict:
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.word_tokenizers import WordTokenizer

    class WhitespaceTokenizer(WordTokenizer):
        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return text.split("\n")

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            spans, start = [], 0
            for line in text.split("\n"):
                spans.append((start, start + len(line)))
                start += len(line) + 1
            return spans

    # datatrove passes str to xxhash, which xxhash >= 4 refuses: encode first (same hash as xxhash 3 gave).
    import datatrove.utils.hashes.xxhash as datatrove_xxhash
    import xxhash

    datatrove_xxhash.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode() if isinstance(data, str) else data)
    datatrove_xxhash.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode() if isinstance(data, str) else data)

    words = WhitespaceTokenizer()
    shutil.rmtree(base, ignore_errors=True)
    minhash = MinhashConfig(n_grams=5, num_buckets=16, hashes_per_bucket=8, seed=1)
    logs = base / "logs"
    stages = [
        ([JsonlReader(str(corpus)), GopherRepetitionFilter(language=words),
          GopherQualityFilter(language=words), JsonlWriter(str(base / "filtered"), compression=compression)], 1),
        ([JsonlReader(str(base / "filtered")),
          MinhashDedupSignature(output_folder=str(base / "sigs"), config=minhash, language=words)], 1),
        ([MinhashDedupBuckets(input_folder=str(base / "sigs"), output_folder=str(base / "buckets"),
                              config=minhash)], minhash.num_buckets),
        ([MinhashDedupCluster(input_folder=str(base / "buckets"), output_folder=str(base / "remove"),
                              config=minhash)], 1),
        ([JsonlReader(str(base / "filtered")), MinhashDedupFilter(input_folder=str(base / "remove")),
          DocumentTokenizer(output_folder=str(base / "tokens"),
                            tokenizer_name_or_path=str(WORK / "bundle" / "text" / "tokenizer.json"))], 1),
    ]
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    for i, (pipeline, tasks) in enumerate(stages):
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=str(logs / f"stage{i}"),
                              skip_completed=False).run()
    cpu, wall = _cpu_seconds() - cpu0, time.perf_counter() - wall0
    stats = json.loads((logs / "stage4" / "stats.json").read_text())
    kept = next(s for s in stats if "Tokenizer" in s["name"] or "tokeniz" in s["name"].lower())
    return {"cpu_s": cpu, "wall_s": wall, "tokenizer_stats": kept.get("stats", {})}


def _child(system: str, datatrove_compression: str) -> dict:
    env = {**os.environ, "RAYON_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "TRIMODAL_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--run", system, "--datatrove-compression", datatrove_compression]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{system} run failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------- dedupe quality
def _planted_corpus(units: list[str], rng: random.Random, num_base: int, num_planted: int) -> list[dict]:
    docs = []
    for i in range(num_base):
        start = rng.randrange(len(units) - 40)
        docs.append({"id": f"base-{i:05d}", "text": "\n".join(units[start : start + rng.randint(6, 30)])})
    for i in range(num_planted):
        parent = rng.choice(docs)  # may itself be planted: chains
        words = parent["text"].split(" ")
        edits = max(1, int(len(words) * rng.uniform(0.0, 0.08)))
        for _ in range(edits):
            j = rng.randrange(len(words))
            words[j] = rng.choice(["zebra", "quantum", "velvet", "harbor", "ember"]) if rng.random() < 0.7 else ""
        docs.append({"id": f"dup-{i:05d}", "text": " ".join(words)})
    return docs


def dedupe_quality(num_base: int, num_planted: int) -> dict:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from trimodal_data.dedup.minhash import MinHashConfig, jaccard, shingles
    from trimodal_data.records import Document
    from trimodal_data.transforms.minhash_dedup import MinHashDedup

    rng = random.Random(SEED + 1)
    kjv = subprocess.run(["bible", "gen1:1-rev22:21"], capture_output=True, text=True, check=True).stdout
    units = [line for line in kjv.splitlines() if line.strip()]
    docs = _planted_corpus(units, rng, num_base, num_planted)
    config = MinHashConfig()
    # Reference: exact Jaccard for every pair sharing a shingle, components at the threshold, keep smallest id.
    sets = {d["id"]: shingles(d["text"], config.ngram) for d in docs}
    index: dict[tuple, list[str]] = {}
    for doc_id, s in sets.items():
        for sh in s:
            index.setdefault(sh, []).append(doc_id)
    t0 = time.perf_counter()
    candidate_pairs = set()
    for ids in index.values():
        if len(ids) > 1:
            for a_i in range(len(ids)):
                for b_i in range(a_i + 1, len(ids)):
                    candidate_pairs.add((ids[a_i], ids[b_i]) if ids[a_i] < ids[b_i] else (ids[b_i], ids[a_i]))
    parent = {d: d for d in sets}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    true_pairs = 0
    for a, b in candidate_pairs:
        if jaccard(sets[a], sets[b]) >= config.threshold:
            true_pairs += 1
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    reference = {d for d in sets if find(d) != d}
    brute_s = time.perf_counter() - t0

    removed: list[str] = []
    out_file = WORK / "dedupe_removed.json"
    with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as p:
        result = (
            p
            | beam.Create([Document(id=d["id"], source="bench", text=d["text"]) for d in docs])
            | MinHashDedup(config, text_fn=lambda d: d.text, id_fn=lambda d: d.id, source_fn=lambda d: d.source)
        )
        _ = (result.rejects | beam.Map(lambda r: r.id) | beam.combiners.ToList()
             | beam.Map(lambda ids: out_file.write_text(json.dumps(sorted(ids)))))
    removed = json.loads(out_file.read_text())
    ours = set(removed)
    hit = len(ours & reference)
    return {
        "docs": len(docs),
        "planted": num_planted,
        "pairs_sharing_a_shingle": len(candidate_pairs),
        "true_pairs_at_threshold": true_pairs,
        "reference_removed": len(reference),
        "ours_removed": len(ours),
        "precision": hit / len(ours) if ours else 1.0,
        "recall": hit / len(reference) if reference else 1.0,
        "brute_force_s": brute_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target-mb", type=float, default=55.0)
    parser.add_argument("--run", choices=["ours", "datatrove"], help=argparse.SUPPRESS)
    parser.add_argument("--dedupe-base", type=int, default=3000)
    parser.add_argument("--dedupe-planted", type=int, default=600)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--datatrove-compression", choices=["none", "gzip"], default="none",
                        help="datatrove's intermediate JSONL between its filter and dedupe stages (its default: gzip)")
    args = parser.parse_args()
    if args.run:
        # Warm up on one small file first (imports, lazy initialization: this machine sets
        # PYTHONDONTWRITEBYTECODE, so every process compiles its modules), then measure the full corpus.
        if args.run == "ours":
            run = run_ours
        else:
            compression = None if args.datatrove_compression == "none" else args.datatrove_compression
            run = functools.partial(run_datatrove, compression=compression)
        run(WORK / "warmup", WORK / f"warmup_{args.run}")
        print(json.dumps(run(WORK / "corpus", WORK / f"out_{args.run}")))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    meta = build_corpus(args.target_mb)
    print(f"corpus: {meta['docs']:,} documents, {meta['mb']:.1f} MB ({meta['per_source']})", flush=True)
    if not args.skip_throughput:
        rows = {}
        for system in ("ours", "datatrove"):
            rows[system] = r = _child(system, args.datatrove_compression)
            r["docs_per_cpu_s"] = meta["docs"] / r["cpu_s"]
            r["mb_per_cpu_s"] = meta["mb"] / r["cpu_s"]
            print(f"{system:>10}: wall {r['wall_s']:7.1f} s, cpu {r['cpu_s']:7.1f} s, "
                  f"{r['docs_per_cpu_s']:7.1f} docs/s/core, {r['mb_per_cpu_s']:6.3f} MB/s/core  {r}", flush=True)
        ratio = rows["ours"]["docs_per_cpu_s"] / rows["datatrove"]["docs_per_cpu_s"]
        print(f"throughput per core, ours / datatrove: {ratio:.2f}x", flush=True)
    quality = dedupe_quality(args.dedupe_base, args.dedupe_planted)
    print(f"dedupe vs brute-force Jaccard >= 0.8: precision {quality['precision']:.3f}, "
          f"recall {quality['recall']:.3f}  {quality}", flush=True)


if __name__ == "__main__":
    main()
