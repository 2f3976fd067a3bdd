"""``WriteCorpus``: formatted examples + rejects -> deterministic Arrow shards, reject files and a manifest.

Modality-agnostic; the text, image-text and audio-text pipelines all end with it::

    summary = {"examples": records, "rejects": rejects, "read": read_counts} | WriteCorpus(out, ...)

* ``examples``: ``PCollection[trimodal_core.ShardRecord]``; routed to ``num_buckets`` buckets by a hash
  of ``example_id``, sorted by id inside a bucket with one copy kept per id
  (:func:`~trimodal_data.writers.shard_bucket.order_bucket`: repeated ids become ``duplicate_id`` rejects,
  whatever order they arrived in), written with :class:`trimodal_core.ShardWriter` to
  ``shards/<name>-bNNNNN-MMMMM.arrow`` (several shards per bucket once ``shard_target_bytes`` is reached).
* ``rejects``: ``PCollection[Reject]`` (filter rejects and ``duplicate_*`` removals), written with the
  writer's own rejects by :class:`~trimodal_data.transforms.rejects.WriteRejects`.
* ``read``: ``PCollection[int]``: counts of input elements read (summed; usually one 1 per element).
* ``names`` (optional): ``PCollection[str]``: the source names of the inputs read; the sorted distinct names
  become ``provenance["inputs"]`` (``[{"name": ...}]``).

The output is a one-element ``PCollection`` holding the summary dict (see ``metrics.build_summary``), which
is also stored under ``provenance["summary"]`` of ``manifest.json``, written last via ``CorpusManifest``.
``provenance["tokenizer_fingerprint"]`` (the bundle's content fingerprint) becomes the manifest's top-level
``tokenizer_fingerprint``.
Shards, reject files and manifest are byte-identical on a rerun, whatever the number of workers, because
every file is a function of its bucket's *set* of elements. A bucket must fit in one worker's memory.
The corpus folder must be a filesystem every worker can write (local disk for local runners; a shared
mount such as NFS/Filestore/gcsfuse on a cluster).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam

from trimodal_core import CorpusManifest, ShardInfo, ShardRecord, ShardWriterConfig
from trimodal_data.metrics import ReasonCounters, build_summary
from trimodal_data.transforms.buckets import bucket_of
from trimodal_data.transforms.rejects import REJECTS_DIR, RejectsFormat, WriteRejects
from trimodal_data.writers.shard_bucket import order_bucket, write_bucket

MANIFEST_FILE = "manifest.json"
SHARDS_DIR = "shards"
WRITER_REJECTS = "rejects"


@dataclasses.dataclass(frozen=True, kw_only=True)
class WriteConfig:
    """How a corpus is written."""

    num_buckets: int = 16
    """Output buckets (each gives at least one shard and one reject file when non-empty). Fixed, so that
    output does not depend on the runner's parallelism; raise it for corpora over ~4 GB."""
    shard_target_bytes: int = 256 * 2**20
    """Roll to a new shard inside a bucket at this size."""
    rows_per_batch: int = 1024
    """Rows per Arrow record batch."""
    rejects_format: RejectsFormat = "parquet"
    """``parquet`` or ``jsonl``."""

    def __post_init__(self) -> None:
        if self.num_buckets < 1:
            raise ValueError(f"WriteConfig.num_buckets must be positive, got {self.num_buckets}")
        if self.rejects_format not in ("parquet", "jsonl"):
            raise ValueError(f"WriteConfig.rejects_format must be 'parquet' or 'jsonl', got {self.rejects_format!r}")


def prepare_output_dir(corpus_dir: str | Path, *, overwrite: bool) -> Path:
    """Create the corpus folder; refuse one that holds a corpus unless ``overwrite`` (then clear it)."""
    out = Path(corpus_dir)
    existing = [out / MANIFEST_FILE, out / SHARDS_DIR, out / REJECTS_DIR]
    if any(p.exists() for p in existing):
        if not overwrite:
            raise ValueError(f"--output {out}: already holds a corpus (pass --overwrite to replace it)")
        for p in existing:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


class _WriteShardBucket(beam.DoFn):
    def __init__(self, shards_dir: str, name: str, fingerprint: str, config: WriteConfig) -> None:
        self.shards_dir = shards_dir
        self.name = name
        self.fingerprint = fingerprint
        self.config = config

    def setup(self) -> None:
        self.counters = ReasonCounters()

    def process(self, element: tuple[int, Iterable[ShardRecord]]) -> Iterator[Any]:
        bucket, records = element
        ordered, rejects = order_bucket(records)
        for reject in rejects:
            yield beam.pvalue.TaggedOutput(WRITER_REJECTS, reject)
        writer_config = ShardWriterConfig(
            target_bytes=self.config.shard_target_bytes, rows_per_batch=self.config.rows_per_batch
        )
        infos = write_bucket(ordered, self.shards_dir, prefix=f"{self.name}-b{bucket:05d}",
                             fingerprint=self.fingerprint, config=writer_config)
        self.counters.inc("kept", len(ordered))
        for info in infos:
            yield dataclasses.replace(info, path=f"{SHARDS_DIR}/{info.path}")


def _write_manifest(
    shards: list[ShardInfo],
    *,
    corpus_dir: str,
    name: str,
    token_space: dict[str, Any],
    provenance: dict[str, Any],
    rejects_format: str,
    reasons: dict[str, int],
    num_read: int,
    reject_files: list[str],
    input_names: list[str] | None = None,
) -> dict[str, Any]:
    ordered = sorted(shards, key=lambda s: s.path)
    tokens: dict[str, int] = {}
    for shard in ordered:
        for modality, count in shard.tokens.items():
            tokens[modality] = tokens.get(modality, 0) + count
    summary = build_summary(
        num_read=num_read, num_kept=sum(s.rows for s in ordered), reasons=reasons, tokens=tokens
    )
    provenance = dict(provenance)
    if input_names is not None:
        provenance["inputs"] = [{"name": name} for name in sorted(set(input_names))]
    manifest = CorpusManifest(
        name=name,
        token_space=token_space,
        shards=ordered,
        tokenizer_fingerprint=provenance.pop("tokenizer_fingerprint", None),
        provenance={
            **provenance,
            "summary": summary,
            "rejects": {"format": rejects_format, "files": sorted(reject_files), "count": sum(reasons.values())},
        },
    )
    manifest.save(Path(corpus_dir) / MANIFEST_FILE)
    return summary


class WriteCorpus(beam.PTransform):
    """``{"examples", "rejects", "read"}`` -> one-element ``PCollection`` with the summary dict."""

    def __init__(
        self,
        corpus_dir: str | Path,
        *,
        name: str,
        token_space: dict[str, Any],
        provenance: dict[str, Any],
        config: WriteConfig = WriteConfig(),
    ) -> None:
        super().__init__()
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"corpus name {name!r} must be a plain file-name stem")
        self.corpus_dir = str(corpus_dir)
        self.name = name
        self.token_space = token_space
        self.provenance = provenance
        self.config = config

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        from trimodal_core import TokenSpace

        missing = {"examples", "rejects", "read"} - set(inputs)
        if missing:
            raise ValueError(f"WriteCorpus needs the inputs {sorted(missing)}")
        fingerprint = TokenSpace.from_dict(self.token_space).fingerprint
        n = self.config.num_buckets
        written = (
            inputs["examples"]
            | "KeyByBucket" >> beam.Map(lambda r: (bucket_of(r.example_id, n), r))
            | "GroupByBucket" >> beam.GroupByKey()
            | "WriteShards"
            >> beam.ParDo(
                _WriteShardBucket(str(Path(self.corpus_dir) / SHARDS_DIR), self.name, fingerprint, self.config)
            ).with_outputs(WRITER_REJECTS, main="shards")
        )
        shards = written.shards | "AllShards" >> beam.combiners.ToList()
        rejects = (inputs["rejects"], written[WRITER_REJECTS]) | "AllRejects" >> beam.Flatten()
        reject_files = rejects | "WriteRejects" >> WriteRejects(
            self.corpus_dir, fmt=self.config.rejects_format, num_buckets=n
        )
        reasons = (
            rejects
            | "Reason" >> beam.Map(lambda r: r.reason)
            | "CountReasons" >> beam.combiners.Count.PerElement()
            | "ReasonDict" >> beam.combiners.ToDict()
        )
        num_read = inputs["read"] | "SumRead" >> beam.CombineGlobally(sum)
        extra: dict[str, Any] = {}
        if "names" in inputs:
            names = inputs["names"] | "DistinctNames" >> beam.Distinct() | "AllNames" >> beam.combiners.ToList()
            extra["input_names"] = beam.pvalue.AsSingleton(names)
        return shards | "WriteManifest" >> beam.Map(
            _write_manifest,
            corpus_dir=self.corpus_dir,
            name=self.name,
            token_space=self.token_space,
            provenance=self.provenance,
            rejects_format=self.config.rejects_format,
            reasons=beam.pvalue.AsSingleton(reasons),
            num_read=beam.pvalue.AsSingleton(num_read),
            reject_files=beam.pvalue.AsList(reject_files),
            **extra,
        )
