"""``trimodal-data stats OUTPUT``: statistics of a built corpus, computed with polars.

Reads the manifest, the shards' metadata columns (never the token lists) and the reject files, and reports:
rows and tokens per source; histograms (power-of-two bins) of sequence length and of tokens per modality,
per source; rejects per reason (and per source); duplicate-cluster sizes (a cluster is a keeper plus the
``duplicate_*`` rejects that name it in ``detail``). Works for any modality's corpus written by
``WriteCorpus``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import tyro

from trimodal_core import CorpusManifest, ShardReader
from trimodal_core.shard_schema import COUNT_COLUMNS
from trimodal_data.records import DUPLICATE_PREFIX, REJECT_FIELDS
from trimodal_data.transforms.write import MANIFEST_FILE

_META_COLUMNS = ["example_id", "source", "num_tokens", *COUNT_COLUMNS.values()]


@dataclasses.dataclass(frozen=True, kw_only=True)
class StatsConfig:
    """Summarize a corpus built by a trimodal data pipeline."""

    output: Annotated[Path, tyro.conf.Positional]
    """The corpus folder (holding manifest.json) or the manifest itself."""
    json: bool = False
    """Print the statistics as JSON."""


def _shard_metadata(manifest: CorpusManifest) -> pl.DataFrame:
    frames = []
    for shard in manifest.shards:
        with ShardReader(manifest.shard_path(shard)) as reader:
            frames.append(pl.from_arrow(reader.table().select(_META_COLUMNS)))
    if not frames:
        return pl.DataFrame(schema={c: pl.Utf8 if c in ("example_id", "source") else pl.Int32 for c in _META_COLUMNS})
    return pl.concat(frames)


def load_rejects(manifest: CorpusManifest) -> pl.DataFrame:
    """Every reject of a corpus (columns ``id``, ``source``, ``reason``, ``detail``) from its reject files."""
    info = manifest.provenance.get("rejects") or {}
    frames = []
    for rel in info.get("files", []):
        path = manifest.base_dir / rel
        frames.append(pl.read_ndjson(path) if path.suffix == ".jsonl" else pl.read_parquet(path))
    if not frames:
        return pl.DataFrame(schema=dict.fromkeys(REJECT_FIELDS, pl.Utf8))
    return pl.concat(frames).select(list(REJECT_FIELDS))


def _histogram(values: pl.Series) -> dict[str, int]:
    """Counts in power-of-two bins labelled ``"[lo, hi)"`` (``"0"`` for zeros)."""
    if values.is_empty():
        return {}
    frame = pl.DataFrame({"v": values.cast(pl.Int64)}).with_columns(
        bin=pl.when(pl.col("v") <= 0).then(0).otherwise(pl.col("v").log(2).floor().cast(pl.Int64) + 1)
    )
    counts = frame.group_by("bin").len().sort("bin")
    out = {}
    for b, n in counts.iter_rows():
        out["0" if b == 0 else f"[{2 ** (b - 1)}, {2**b})"] = int(n)
    return out


def corpus_stats(path: str | Path) -> dict[str, Any]:
    """All statistics of one corpus as a JSON-ready dict."""
    p = Path(path)
    manifest = CorpusManifest.load(p / MANIFEST_FILE if p.is_dir() else p)
    meta = _shard_metadata(manifest)
    rejects = load_rejects(manifest)
    per_source: dict[str, Any] = {}
    for (source,), group in sorted(meta.group_by("source"), key=lambda item: str(item[0][0])):
        entry: dict[str, Any] = {
            "rows": group.height,
            "tokens": int(group["num_tokens"].sum()),
            "length_histogram": _histogram(group["num_tokens"]),
        }
        for modality, column in COUNT_COLUMNS.items():
            if group[column].sum() > 0 and modality.name != "SPECIAL":
                entry[f"{modality.name.lower()}_token_histogram"] = _histogram(group[column])
        per_source[str(source)] = entry
    by_reason = rejects.group_by("reason").len().sort("reason")
    by_source_reason = rejects.group_by("source", "reason").len().sort("source", "reason")
    dups = rejects.filter(pl.col("reason").str.starts_with(DUPLICATE_PREFIX))
    cluster_sizes = (dups.group_by("detail").len().with_columns(size=pl.col("len") + 1).group_by("size").len()
                     .sort("size"))
    return {
        "corpus": manifest.name,
        "manifest": str(manifest.path),
        "rows": meta.height,
        "tokens": manifest.tokens,
        "summary": manifest.provenance.get("summary", {}),
        "per_source": per_source,
        "rejects_by_reason": {r: int(n) for r, n in by_reason.iter_rows()},
        "rejects_by_source": {
            s: {r: int(n) for _, r, n in g.iter_rows()}
            for (s,), g in sorted(by_source_reason.group_by("source"), key=lambda item: str(item[0][0]))
        },
        "duplicate_cluster_sizes": {str(size): int(n) for size, n in cluster_sizes.iter_rows()},
    }


def _print(stats: dict[str, Any]) -> None:
    print(f"corpus {stats['corpus']}: {stats['rows']:,} rows, tokens " +
          ", ".join(f"{m}={n:,}" for m, n in stats["tokens"].items()))
    print("\nper source:")
    for source, entry in stats["per_source"].items():
        print(f"  {source}: {entry['rows']:,} rows, {entry['tokens']:,} tokens")
        for label, n in entry["length_histogram"].items():
            print(f"      length {label:<18} {n:>8,}")
    print("\nrejects by reason:")
    for reason, n in stats["rejects_by_reason"].items():
        print(f"  {reason:<32} {n:>10,}")
    print("\nduplicate cluster sizes (keeper included):")
    for size, n in stats["duplicate_cluster_sizes"].items():
        print(f"  size {size:<6} {n:>10,} clusters")


def run(argv: list[str]) -> int:
    config = tyro.cli(StatsConfig, args=argv, prog="trimodal-data stats")
    try:
        stats = corpus_stats(config.output)
    except ValueError as exc:
        print(f"trimodal-data stats: {exc}")
        return 1
    if config.json:
        print(json.dumps(stats, indent=2, sort_keys=True))
    else:
        _print(stats)
    return 0
