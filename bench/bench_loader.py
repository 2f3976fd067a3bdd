"""Benchmark the mixture loader against plain pyarrow reading of the same shards, in one run.

    uv run python bench/bench_loader.py                 # full run (a few minutes on 2 cores)
    uv run python bench/bench_loader.py --num-tokens 2e6 --proportion-batches 500   # quick check

Builds three synthetic corpora with realistic formatted sequences (packed text documents, image-text
pairs, audio-text pairs, some longer than seq_len) in a temporary folder, then measures:

1. Throughput, for several batch sizes B: batches/s and tokens/s of ``build_loader`` (several worker
   settings) against a baseline that memory-maps the same shards with pyarrow and cuts the token column into
   int64 [B, L] batches (sequential, no mixing, no padding, no masks). Printed as the ratio loader / baseline
   (goal >= 0.8x), from wall time (best round and median round) and from CPU time per batch (this process's
   CPU, all threads; the robust number on a shared machine; not available for process workers). A second,
   one-pass pyarrow baseline (one concatenate of int32 column slices into each int64 batch) is timed too and
   its CPU ratio is printed too (``vs one-pass``).
2. Mixing: realized shares (rows and real tokens) over many batches against the manifest targets, for the
   exact and the stochastic mode.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import tyro

from trimodal_core import (
    CorpusManifest,
    MixtureComponent,
    MixtureManifest,
    ShardRecord,
    ShardWriter,
    ShardWriterConfig,
    TokenSpace,
    TokenSpaceConfig,
)
from trimodal_train.data import LoaderConfig, build_loader


@dataclasses.dataclass(frozen=True, kw_only=True)
class BenchConfig:
    """Mixture-loader benchmark."""

    num_tokens: float = 24e6
    """Tokens written over the three corpora (about 4 bytes each on disk)."""
    seq_len: int = 2048
    """Row length L."""
    batch_sizes: tuple[int, ...] = (8, 32, 128)
    """Rows per batch B (per rank) to time; the mixing measurement uses the second (or only) one."""
    measure_batches: int = 300
    """Batches timed per setting per round (after 20 warm-up batches)."""
    rounds: int = 5
    """Interleaved timing rounds (baseline and every setting once per round)."""
    workers: tuple[str, ...] = ("0:inline", "0", "1:thread", "2:thread", "2:process", "0@8")
    """Loader settings to time, as NUM_WORKERS[:inline|thread|process][@WORLD_SIZE][/SHUFFLE] (inline: no prefetch
    thread; @W: rank 0 of W ranks, global batch W*B, so the rank plans W*B rows and assembles B; /window: the
    window shuffle instead of the default global one)."""
    shard_mib: float = 16
    """Target shard size in MiB (smaller: more shards, which the global shuffle reads across)."""
    proportion_batches: int = 10_000
    """Batches over which realized mixing shares are measured."""
    proportion_seq_len: int = 512
    """Row length for the mixing measurement (shorter rows keep 10k batches quick)."""
    seed: int = 0
    """Seed of the synthetic data and the loader."""


SPACE = TokenSpace(TokenSpaceConfig(text_vocab_size=32_000, image_codebook_size=16_384, audio_codebook_size=1024,
                                    audio_num_codebooks=4))
WEIGHTS = {"text": 0.6, "image_text": 0.25, "audio_text": 0.15}


def _records(kind: str, num_tokens: int, rng: np.random.Generator) -> list[ShardRecord]:
    sp, records, total = SPACE, [], 0
    while total < num_tokens:
        i = len(records)
        if kind == "text":
            n = int(np.clip(rng.lognormal(6.0, 1.0), 16, 20_000))
            body = sp.to_global("text", rng.integers(0, 32_000, n))
            tokens = np.concatenate([[sp.task_id("text"), sp.special_id("bot")], body, [sp.special_id("eot")]])
        elif kind == "image_text":
            caption = sp.to_global("text", rng.integers(0, 32_000, int(rng.integers(8, 60))))
            image = sp.to_global("image", rng.integers(0, 16_384, 256))
            tokens = np.concatenate([[sp.task_id("t2i"), sp.special_id("bot")], caption,
                                     [sp.special_id("eot"), sp.special_id("boi")], image, [sp.special_id("eoi")]])
        else:
            frames = int(rng.integers(50, 700))
            codes = rng.integers(0, 1024, (4, frames))
            audio = sp.to_global("audio", codes.T.ravel(), codebook=np.tile(np.arange(4), frames))
            transcript = sp.to_global("text", rng.integers(0, 32_000, int(rng.integers(5, 80))))
            tokens = np.concatenate([[sp.task_id("t2s"), sp.special_id("bot")], transcript,
                                     [sp.special_id("eot"), sp.special_id("boa")], audio, [sp.special_id("eoa")]])
        records.append(ShardRecord(example_id=f"{kind}-{i}", source=kind, task=kind if kind == "text" else "t2i"
                                   if kind == "image_text" else "t2s", tokens=tokens,
                                   modality=sp.modality_of(tokens)))
        total += len(tokens)
    return records


def build_corpora(root: Path, num_tokens: float, seed: int, shard_mib: float = 16) -> Path:
    rng = np.random.default_rng(seed)
    components = []
    for name, weight in WEIGHTS.items():
        out = root / name
        records = _records(name, int(num_tokens * weight), rng)
        with ShardWriter(out, prefix=name, fingerprint=SPACE.fingerprint,
                         config=ShardWriterConfig(target_bytes=int(shard_mib * 2**20))) as writer:
            writer.write_all(records)
        CorpusManifest(name=name, token_space=SPACE.to_dict(), shards=writer.close()).save(out / "manifest.json")
        components.append(MixtureComponent(name=name, manifest=f"{name}/manifest.json", weight=weight))
    mix = root / "mix.json"
    MixtureManifest(components=components, weight_unit="tokens", token_space_fingerprint=SPACE.fingerprint).save(mix)
    return mix


class Baseline:
    """Plain pyarrow: memory-map each shard, read the token column, cut int64 [B, L] batches (endless)."""

    def __init__(self, paths: list[Path], batch: int, seq_len: int) -> None:
        self.paths, self.need, self.shape = paths, batch * seq_len, (batch, seq_len)
        self._it = self._batches()

    def _batches(self) -> Iterator[np.ndarray]:
        carry = np.zeros(0, dtype=np.int64)
        while True:
            for path in self.paths:
                reader = pa.ipc.open_file(pa.memory_map(str(path), "r"))
                for i in range(reader.num_record_batches):
                    values = reader.get_batch(i).column("tokens").values.to_numpy()
                    carry = np.concatenate([carry, values.astype(np.int64)])
                    while len(carry) >= self.need:
                        yield carry[: self.need].reshape(self.shape).copy()
                        carry = carry[self.need :]

    def time(self, num_batches: int) -> tuple[float, float, int]:
        """Wall seconds and CPU seconds for ``num_batches``, and the tokens they held."""
        start, cpu = time.perf_counter(), time.process_time()
        tokens = sum(next(self._it).size for _ in range(num_batches))
        return time.perf_counter() - start, time.process_time() - cpu, tokens


class LeanBaseline(Baseline):
    """Plain pyarrow, one pass: each [B, L] batch is one ``np.concatenate`` of int32 column slices into int64
    (no intermediate int64 copy of the column, no carry buffer): a stronger baseline than :class:`Baseline`."""

    def _batches(self) -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        have = 0
        while True:
            for path in self.paths:
                reader = pa.ipc.open_file(pa.memory_map(str(path), "r"))
                for i in range(reader.num_record_batches):
                    values = reader.get_batch(i).column("tokens").values.to_numpy()
                    while len(values):
                        take = min(self.need - have, len(values))
                        pending.append(values[:take])
                        values, have = values[take:], have + take
                        if have == self.need:
                            out = np.empty(self.shape, dtype=np.int64)
                            np.concatenate(pending, out=out.reshape(-1))
                            yield out
                            pending, have = [], 0


class Timed:
    """A loader iterator timed in rounds (interleaved with the baseline, so machine load hits both alike)."""

    def __init__(self, mix: Path, config: LoaderConfig) -> None:
        self._loader = build_loader(mix, config)
        self._it = iter(self._loader)
        for _ in range(20):  # warm-up: worker start, first pages
            next(self._it)

    def time(self, num_batches: int) -> tuple[float, float, int]:
        """Wall seconds and CPU seconds for ``num_batches``, and the real (non-padding) tokens they held."""
        start, cpu = time.perf_counter(), time.process_time()
        real = sum(next(self._it).num_tokens for _ in range(num_batches))
        return time.perf_counter() - start, time.process_time() - cpu, real

    def close(self) -> None:
        self._loader.close()


def proportions(mix: Path, config: LoaderConfig, num_batches: int) -> dict[str, np.ndarray]:
    loader = build_loader(mix, config)
    rows = np.zeros(len(WEIGHTS))
    tokens = np.zeros(len(WEIGHTS))
    per_batch = np.zeros((num_batches, len(WEIGHTS)))
    it = iter(loader)
    for b in range(num_batches):
        batch = next(it)
        comp = batch.component_B.numpy()
        real = batch.loss_mask_BL.sum(1).numpy()
        per_batch[b] = np.bincount(comp, minlength=len(WEIGHTS))
        rows += per_batch[b]
        tokens += np.bincount(comp, weights=real, minlength=len(WEIGHTS))
    return {"rows": rows / rows.sum(), "tokens": tokens / tokens.sum(), "per_batch": per_batch,
            "epochs": np.array(list(loader.epochs().values())),
            "truncated": np.array(list(loader.counters()["truncated"].values()))}


def throughput(cfg: BenchConfig, mix: Path, shards: list[Path], B: int, L: int) -> None:
    print(f"\n== throughput: B={B} (per rank) L={L}; {cfg.rounds} interleaved rounds of {cfg.measure_batches} "
          "batches; best round (median); CPU = this process's CPU time per batch, median round ==")
    runs: dict[str, Baseline | Timed] = {"pyarrow baseline": Baseline(shards, B, L),
                                         "pyarrow one-pass": LeanBaseline(shards, B, L)}
    for setting in cfg.workers:
        setting_spec, _, shuffle = setting.partition("/")
        spec, _, world = setting_spec.partition("@")
        workers, _, method = spec.partition(":")
        world_size = int(world or 1)
        config = LoaderConfig(seq_len=L, global_batch_size=B * world_size, world_size=world_size,
                              num_workers=int(workers), seed=cfg.seed, prefetch=0 if method == "inline" else 4,
                              worker_method="process" if method == "process" else "thread",
                              **({"shuffle": shuffle} if shuffle else {}))  # type: ignore[arg-type]
        runs[f"loader {setting}"] = Timed(mix, config)
    rates: dict[str, list[tuple[float, float, float]]] = {name: [] for name in runs}
    for _ in range(cfg.rounds):
        for name, run in runs.items():
            secs, cpu, tokens = run.time(cfg.measure_batches)
            rates[name].append((cfg.measure_batches / secs, cpu / cfg.measure_batches, tokens / secs))
    base = np.array(rates["pyarrow baseline"])
    base_best, base_median, base_cpu = base[:, 0].max(), float(np.median(base[:, 0])), float(np.median(base[:, 1]))
    lean_cpu = float(np.median(np.array(rates["pyarrow one-pass"])[:, 1]))
    for name, got in rates.items():
        arr = np.array(got)
        bps, cpu, real = arr[:, 0], float(np.median(arr[:, 1])), arr[:, 2]
        line = (f"{name:22s} {bps.max():8.1f} ({np.median(bps):7.1f}) batches/s {bps.max() * B * L / 1e6:7.1f} M "
                f"slots/s  CPU {cpu * 1e6:6.0f} us/batch")
        if not name.startswith("pyarrow"):
            cpu_ratio = f"{base_cpu / cpu:.3f}x" if "process" not in name else "n/a"
            lean_ratio = f"{lean_cpu / cpu:.3f}x" if "process" not in name else "n/a"
            line += (f"  ({real.max() / 1e6:.1f} M real/s)  ratio {bps.max() / base_best:.3f}x "
                     f"(median {np.median(bps) / base_median:.3f}x, CPU {cpu_ratio}; vs one-pass CPU {lean_ratio})")
        print(line, flush=True)
    for run in runs.values():
        if isinstance(run, Timed):
            run.close()


def main(cfg: BenchConfig) -> None:
    logging.basicConfig(level=logging.WARNING)
    print(f"machine: {platform.node()} {os.cpu_count()} cpus, python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as tmp:
        t0 = time.perf_counter()
        mix = build_corpora(Path(tmp), cfg.num_tokens, cfg.seed, cfg.shard_mib)
        shards = sorted(Path(tmp).glob("*/*.arrow"))
        size = sum(p.stat().st_size for p in shards)
        print(f"corpora: {len(shards)} shards, {size / 2**20:.0f} MiB, built in {time.perf_counter() - t0:.0f}s")
        L = cfg.seq_len
        print(f"components: {len(WEIGHTS)} ({', '.join(f'{n} {w}' for n, w in WEIGHTS.items())} by tokens)")
        for B in cfg.batch_sizes:
            throughput(cfg, mix, shards, B, L)
        B = cfg.batch_sizes[min(1, len(cfg.batch_sizes) - 1)]
        print(f"\n== mixing over {cfg.proportion_batches} batches: B={B} L={cfg.proportion_seq_len}, "
              "weights by tokens ==")
        target = np.array(list(WEIGHTS.values()))
        for mode in ("exact", "stochastic"):
            config = LoaderConfig(seq_len=cfg.proportion_seq_len, global_batch_size=B, seed=cfg.seed, mixing=mode,
                                  num_workers=1)
            t0 = time.perf_counter()
            got = proportions(mix, config, cfg.proportion_batches)
            spread = got["per_batch"].max(0) - got["per_batch"].min(0)
            print(f"{mode:10s} ({time.perf_counter() - t0:.0f}s)  epochs {np.round(got['epochs'], 2).tolist()}  "
                  f"truncated {got['truncated'].tolist()}")
            for i, name in enumerate(WEIGHTS):
                print(f"  {name:11s} target {target[i]:.4f}  tokens {got['tokens'][i]:.4f} "
                      f"(err {got['tokens'][i] - target[i]:+.4f})  rows {got['rows'][i]:.4f}  "
                      f"rows/batch {got['per_batch'][:, i].min():.0f}-{got['per_batch'][:, i].max():.0f} "
                      f"(spread {spread[i]:.0f})")


if __name__ == "__main__":
    main(tyro.cli(BenchConfig))
