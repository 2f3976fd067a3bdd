"""A deterministic, disjoint train/validation split of a corpus, chosen by a salted hash of the example id.

An example goes to validation when

    u(id) = int.from_bytes(sha256(salt_utf8 + b"\\x00" + id_utf8)[:8], "little") / 2**64  <  fraction

(ids encoded with ``surrogatepass``, so any Python string has bytes). The rule depends on the id alone, not on
shard layout, row order, worker count or the other examples: rerunning gives the same split, a corpus rebuilt
from the same inputs splits the same way, and an example that is in two corpora is held out from both
[ours: the eval issue asks for a split "by a hash of the example id, chosen when the mixture is written"].
The expected validation share is ``fraction``; its count is binomial(N, fraction).

:func:`split_corpus` materializes the split as two corpora, ``out_dir/train`` and ``out_dir/val``, each a
normal corpus manifest with its own shards (written by :class:`ShardWriter`, rows in the parent's order),
so training mixes ``train/manifest.json`` with ``trimodal-data mix`` and evaluation reads ``val/`` like any
corpus; :func:`split_mixture` does it for every component of a mixture and writes ``train.json`` and
``val.json`` with the same weights [ours: a copy rather than a filter inside the loader, which keeps the
loader's ordinal -> example map O(1) and lets ``val`` be validated, inspected and read by tools that know
nothing of splits; the cost is a second copy of the corpus on disk]. Provenance records the parent manifest
(relative path and sha256 of its bytes), the fraction, the salt, the rule and the row counts; the parent's own
provenance is kept under ``parent``. The token space and the tokenizer fingerprint are the parent's.
Beam-free; one pass over the shards, the ids hashed in Python (~1 us per example).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from trimodal_core.manifest import CorpusManifest, MixtureComponent, MixtureManifest
from trimodal_core.shard_reader import ShardReader
from trimodal_core.shard_writer import ShardWriter, ShardWriterConfig, sha256_file

SPLIT_RULE = "sha256(salt + '\\0' + example_id)[:8] little-endian / 2^64 < fraction -> val"
SplitName = Literal["train", "val"]
SPLITS: tuple[SplitName, ...] = ("train", "val")
MANIFEST_FILE = "manifest.json"
SHARDS_DIR = "shards"


def validation_scores(example_ids: Sequence[str], salt: str) -> np.ndarray:
    """``u(id)`` in ``[0, 1)`` for every id (float64; see the module docstring)."""
    prefix = salt.encode("utf-8", "surrogatepass") + b"\x00"
    out = np.empty(len(example_ids), dtype=np.float64)
    for i, example_id in enumerate(example_ids):
        digest = hashlib.sha256(prefix + example_id.encode("utf-8", "surrogatepass")).digest()
        out[i] = int.from_bytes(digest[:8], "little") / 2.0**64
    return out


def is_validation(example_ids: Sequence[str], *, fraction: float, salt: str) -> np.ndarray:
    """Boolean mask: which ids the split sends to validation."""
    _check_fraction(fraction)
    return validation_scores(example_ids, salt) < fraction


def _check_fraction(fraction: float) -> None:
    if not (isinstance(fraction, int | float) and math.isfinite(fraction) and 0 < fraction < 1):
        raise ValueError(f"split fraction must be in (0, 1), got {fraction!r}")


@dataclasses.dataclass(frozen=True)
class SplitResult:
    """The two written corpora."""

    train: CorpusManifest
    val: CorpusManifest


class _SplitWriter:
    """One side of the split: regroups the selected rows into record batches of ``rows_per_batch``."""

    def __init__(self, out: Path, name: str, fingerprint: str, config: ShardWriterConfig, split: SplitName) -> None:
        self.writer = ShardWriter(out / SHARDS_DIR, prefix=f"{name}-{split}", fingerprint=fingerprint, config=config)
        self.rows_per_batch = config.rows_per_batch
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.pending.append(batch)
            self.pending_rows += batch.num_rows
        if self.pending_rows >= self.rows_per_batch:
            self._drain(keep_tail=True)

    def _drain(self, *, keep_tail: bool) -> None:
        if not self.pending:
            return
        table = pa.Table.from_batches(self.pending, schema=self.writer.schema).combine_chunks()
        full = (table.num_rows // self.rows_per_batch) * self.rows_per_batch if keep_tail else table.num_rows
        for start in range(0, full, self.rows_per_batch):
            chunk = table.slice(start, min(self.rows_per_batch, full - start))
            for batch in chunk.to_batches():
                self.writer.write_batch(batch)
        tail = table.slice(full)
        self.pending = tail.to_batches() if tail.num_rows else []
        self.pending_rows = tail.num_rows

    def close(self) -> list:
        self._drain(keep_tail=False)
        return [dataclasses.replace(info, path=f"{SHARDS_DIR}/{info.path}") for info in self.writer.close()]


def split_corpus(
    manifest_path: str | Path,
    out_dir: str | Path,
    *,
    fraction: float,
    salt: str,
    writer_config: ShardWriterConfig | None = None,
    overwrite: bool = False,
    check_sha256: bool = False,
) -> SplitResult:
    """Write ``out_dir/train`` and ``out_dir/val`` (shards + ``manifest.json`` each) from a corpus manifest.

    Args:
        manifest_path: the parent corpus manifest.
        out_dir: gets ``train/`` and ``val/``; refused if either holds a manifest, unless ``overwrite``.
        fraction: expected share of examples held out for validation, in (0, 1).
        salt: any string; another salt gives an independent split of the same ids.
        writer_config: shard size and rows per record batch of the outputs (default: ShardWriter's).
        overwrite: replace ``train/`` and ``val/`` of an earlier split.
        check_sha256: verify the parent's shards against their recorded sha256 before reading them.
    """
    _check_fraction(fraction)
    if not isinstance(salt, str):
        raise ValueError(f"split salt must be a string, got {type(salt).__name__}")
    parent_path = Path(manifest_path)
    parent = CorpusManifest.load(parent_path)
    parent.validate(check_sha256=check_sha256)
    out = Path(out_dir)
    dirs = {split: out / split for split in SPLITS}
    for split, folder in dirs.items():
        if (folder / MANIFEST_FILE).exists() or (folder / SHARDS_DIR).exists():
            if not overwrite:
                raise ValueError(f"{folder}: already holds a {split} split (pass overwrite=True / --overwrite)")
            shutil.rmtree(folder)
    config = writer_config or ShardWriterConfig()
    fingerprint = parent.fingerprint
    writers = {split: _SplitWriter(dirs[split], parent.name, fingerprint, config, split) for split in SPLITS}
    for shard in parent.shards:
        with ShardReader(parent.shard_path(shard), expected_fingerprint=fingerprint) as reader:
            for batch in reader.iter_batches():
                schema = writers["train"].writer.schema
                batch = pa.RecordBatch.from_arrays([batch.column(f.name) for f in schema], schema=schema)
                val = is_validation(batch.column("example_id").to_pylist(), fraction=fraction, salt=salt)
                writers["val"].add(batch.filter(pa.array(val)))
                writers["train"].add(batch.filter(pa.array(~val)))
    shards = {split: writer.close() for split, writer in writers.items()}
    rows = {split: sum(s.rows for s in shards[split]) for split in SPLITS}
    assert rows["train"] + rows["val"] == parent.num_rows, (rows, parent.num_rows)
    result = {}
    for split in SPLITS:
        provenance: dict[str, Any] = {
            "split": {
                "role": split,
                "parent_manifest": Path(os.path.relpath(parent_path.resolve(), dirs[split].resolve())).as_posix(),
                "parent_sha256": sha256_file(parent_path),
                "fraction": fraction,
                "salt": salt,
                "rule": SPLIT_RULE,
                "rows": rows,
            },
            "parent": parent.provenance,
        }
        manifest = CorpusManifest(name=parent.name, token_space=parent.token_space, shards=shards[split],
                                  provenance=provenance, tokenizer_fingerprint=parent.tokenizer_fingerprint)
        manifest.save(dirs[split] / MANIFEST_FILE)
        result[split] = manifest
    return SplitResult(train=result["train"], val=result["val"])


def split_mixture(
    mixture_path: str | Path,
    out_dir: str | Path,
    *,
    fraction: float,
    salt: str,
    writer_config: ShardWriterConfig | None = None,
    overwrite: bool = False,
    check_sha256: bool = False,
) -> dict[SplitName, MixtureManifest]:
    """Split every component of a mixture (``out_dir/<component>/{train,val}``, see :func:`split_corpus`) and
    write ``out_dir/train.json`` and ``out_dir/val.json``: the same components and weights over each side."""
    mixture = MixtureManifest.load(mixture_path)
    mixture.load_components()  # every component loads and agrees on token space and tokenizers
    out = Path(out_dir)
    sides: dict[SplitName, list[MixtureComponent]] = {split: [] for split in SPLITS}
    for component in mixture.components:
        split_corpus(mixture.component_path(component), out / component.name, fraction=fraction, salt=salt,
                     writer_config=writer_config, overwrite=overwrite, check_sha256=check_sha256)
        for split in SPLITS:
            sides[split].append(dataclasses.replace(component, manifest=f"{component.name}/{split}/{MANIFEST_FILE}"))
    written = {}
    for split in SPLITS:
        side = MixtureManifest(components=sides[split], weight_unit=mixture.weight_unit,
                               token_space_fingerprint=mixture.token_space_fingerprint,
                               tokenizer_fingerprint=mixture.tokenizer_fingerprint)
        side.save(out / f"{split}.json")
        written[split] = side
    return written
