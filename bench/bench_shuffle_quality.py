"""How well the loader mixes sources inside each batch, against a uniform shuffle (issue 12, item 6).

    uv run trimodal demo --size tiny --out /tmp/fp_demo            # a real corpus (or any mixture manifest)
    uv run python bench/bench_shuffle_quality.py --mixture /tmp/fp_demo/mixture.json

Shards are written sorted by example id, and ids start with their source (``enwiki-...``, ``kjv-...``), so a
loader that reads consecutive rows fills a batch from one or two sources. For every mixture component with
more than one ``source`` value, this plans ``--steps`` global batches with each shuffle setting and records
which examples of the component each batch holds (the stream ordinals between consecutive cursors; a packed
document split across two batches counts in both). Per batch it computes

* ``D`` = the number of distinct sources among those examples, and
* ``H`` = the entropy of their source histogram divided by ``log(K)``, K = sources in the component,

averaged over the batches. The *ideal* is the same statistic for a uniform shuffle: the same loader and
planner, with each epoch's order replaced by numpy's ``default_rng(k).permutation(N)`` (a uniform random
permutation), averaged over ``--ideal-seeds`` seeds. Same packing, same batch shapes: only the order differs,
so documents of unequal length are accounted for. Printed: D and H per setting and their ratios to the ideal.
Settings: ``global`` (the default since this fix), ``window`` with the previous default
``shuffle_buffer=8192`` (bit-identical to the loader before the fix), and ``window`` with smaller buffers.

What matters for the window shuffle is the ratio of shard, window and batch sizes. At scale a shard holds
~10^5 documents sorted by id, a window 8,192 and a batch a few hundred (1 : ~10 : ~100 for batch : window :
shard): a batch sees one narrow id range, i.e. one or two sources. A demo corpus has ~1,500 documents in 16
hash-bucket shards of ~95, smaller than one window; build it in one bucket (``--write.num-buckets 1``) and use
a small batch and buffer (e.g. 8 rows of 1,024 tokens ~ 6 documents, buffer 64) to reproduce those ratios.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import tyro

from trimodal_core import MixtureManifest
from trimodal_train.data import LoaderConfig, build_loader
from trimodal_train.data import streams as streams_module


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShuffleBenchConfig:
    """Source mixing per batch, per shuffle setting, against a uniform shuffle."""

    mixture: Path = Path("/tmp/fp_demo/mixture.json")
    """Mixture manifest of a real corpus (e.g. the demo's)."""
    seq_len: int = 1024
    """Row length L."""
    global_batch_size: int = 32
    """Rows per global batch."""
    steps: int = 400
    """Global batches planned per setting."""
    buffers: tuple[int, ...] = (8192, 64, 16)
    """``shuffle_buffer`` values of the window settings (8192: the former default)."""
    ideal_seeds: int = 8
    """Uniform shuffles (seeds) averaged for the ideal."""
    seed: int = 0
    """Loader seed."""


def _sources(manifest_paths: list[Path]) -> np.ndarray:
    """The ``source`` of every row of the given shards, in order, as integer codes."""
    values: list[str] = []
    for path in manifest_paths:
        values += pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all().column("source").to_pylist()
    _, codes = np.unique(np.asarray(values, dtype=object), return_inverse=True)
    return codes


def _stats(codes: np.ndarray, num_sources: int) -> tuple[int, float]:
    counts = np.bincount(codes, minlength=num_sources)
    p = counts[counts > 0] / counts.sum()
    return int((counts > 0).sum()), float(-(p * np.log(p)).sum() / math.log(num_sources))


@contextlib.contextmanager
def uniform_epochs() -> Iterator[None]:
    """Make ``shuffle="global"`` use numpy's uniform ``permutation(N)`` (seeded by the epoch key) per epoch."""
    original = streams_module.permute
    cache: dict[tuple[int, int], np.ndarray] = {}

    def uniform(index: np.ndarray, n: int, keys: np.ndarray) -> np.ndarray:
        key = (int(keys[0]), n)
        if key not in cache:
            cache[key] = np.random.default_rng(key[0]).permutation(n)
        return cache[key][index]

    streams_module.permute = uniform
    try:
        yield
    finally:
        streams_module.permute = original


def measure(cfg: ShuffleBenchConfig, loader_config: LoaderConfig, component: str) -> tuple[float, float]:
    """(D, H) of one component under one loader setting."""
    loader = build_loader(cfg.mixture, loader_config)
    planner = loader._planner.clone()
    index = planner.names.index(component)
    stream = planner.streams[index]
    paths = [stream.store.paths[int(s)] for s in stream.shard_ids]
    codes = _sources(paths)
    num_sources = int(codes.max()) + 1
    first_row = dict(zip(stream.shard_ids.tolist(), np.concatenate([[0], np.cumsum(stream._rows)[:-1]]).tolist(),
                         strict=True))
    d, h = [], []
    start = planner.state_dict()["cursors"][component]
    for _ in range(cfg.steps):
        planner.next_item()
        end = planner.state_dict()["cursors"][component]
        stop = end[0] + (1 if end[1] > 0 else 0)
        if stop > start[0]:
            shard, row = stream.locate(np.arange(start[0], stop))
            example = np.array([first_row[int(s)] for s in shard]) + row
            distinct, entropy = _stats(codes[example], num_sources)
            d.append(distinct)
            h.append(entropy)
        start = end
    loader.close()
    return float(np.mean(d)), float(np.mean(h))


def main(cfg: ShuffleBenchConfig) -> None:
    mixture = MixtureManifest.load(cfg.mixture)
    corpora = mixture.load_components()
    base = LoaderConfig(seq_len=cfg.seq_len, global_batch_size=cfg.global_batch_size, seed=cfg.seed, prefetch=0)
    settings = [("global", dataclasses.replace(base, shuffle="global"))]
    settings += [(f"window {b}", dataclasses.replace(base, shuffle="window", shuffle_buffer=b)) for b in cfg.buffers]
    print(f"mixture {cfg.mixture}; L={cfg.seq_len}, global batch {cfg.global_batch_size}, {cfg.steps} batches")
    for name, corpus in corpora.items():
        paths = [corpus.shard_path(s) for s in corpus.shards]
        codes = _sources(paths)
        if codes.max() == 0:
            print(f"{name}: one source only, skipped")
            continue
        counts = np.bincount(codes)
        print(f"\n{name}: {corpus.num_rows} examples, {len(counts)} sources (largest share "
              f"{counts.max() / counts.sum():.0%}), {len(paths)} shards")
        with uniform_epochs():
            ideal = np.mean([measure(cfg, dataclasses.replace(base, shuffle="global", seed=1000 + k), name)
                             for k in range(cfg.ideal_seeds)], axis=0)
        print(f"{'setting':<14} {'D':>6} {'D/ideal':>8} {'H':>6} {'H/ideal':>8}")
        print(f"{'ideal':<14} {ideal[0]:6.2f} {1:8.3f} {ideal[1]:6.3f} {1:8.3f}   (uniform shuffle, "
              f"{cfg.ideal_seeds} seeds)")
        for label, config in settings:
            d, h = measure(cfg, config, name)
            print(f"{label:<14} {d:6.2f} {d / ideal[0]:8.3f} {h:6.3f} {h / ideal[1]:8.3f}")


if __name__ == "__main__":
    main(tyro.cli(ShuffleBenchConfig))
