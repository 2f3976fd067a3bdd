"""``trimodal-data inspect``: summarize and validate a shard, a corpus manifest or a mixture manifest."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import tyro

from trimodal_core import CorpusManifest, MixtureManifest, ShardReader, load_manifest
from trimodal_core.shard_schema import SHARD_SUFFIX


@dataclasses.dataclass(frozen=True, kw_only=True)
class InspectConfig:
    """Print a shard's or manifest's summary (schema version, rows, tokens per modality, fingerprint)
    and validate it; exits 1 with the reason when validation fails."""

    path: Annotated[Path, tyro.conf.Positional]
    """A shard (.arrow), a corpus manifest or a mixture manifest (.json)."""
    check_sha256: bool = False
    """Also verify every shard's sha256 against the manifest (reads every byte)."""
    json: bool = False
    """Print the summary as JSON instead of a table."""


def _corpus_summary(manifest: CorpusManifest) -> dict[str, Any]:
    return {
        "kind": "corpus",
        "path": str(manifest.path),
        "name": manifest.name,
        "schema_version": 1,
        "fingerprint": manifest.fingerprint,
        "tokenizer_fingerprint": manifest.tokenizer_fingerprint,
        "shards": len(manifest.shards),
        "rows": manifest.num_rows,
        "tokens": manifest.tokens,
        "bytes": sum(s.bytes for s in manifest.shards),
        "pipeline": manifest.provenance.get("pipeline"),
    }


def summarize(config: InspectConfig) -> dict[str, Any]:
    """Validate ``config.path`` and return its summary; raises ``ValueError`` when invalid."""
    path = config.path
    if path.suffix == SHARD_SUFFIX:
        with ShardReader(path) as reader:
            return {"kind": "shard", **reader.summary()}
    manifest = load_manifest(path)
    if isinstance(manifest, MixtureManifest):
        manifest.validate(check_sha256=config.check_sha256)
        components = manifest.load_components()
        return {
            "kind": "mixture",
            "path": str(path),
            "schema_version": 1,
            "fingerprint": manifest.token_space_fingerprint,
            "tokenizer_fingerprint": manifest.tokenizer_fingerprint,
            "weight_unit": manifest.weight_unit,
            "components": [
                {"name": c.name, "weight": c.weight, **_corpus_summary(components[c.name])}
                for c in manifest.components
            ],
        }
    manifest.validate(check_sha256=config.check_sha256)
    return _corpus_summary(manifest)


def _print_table(summary: dict[str, Any]) -> None:
    rows: list[tuple[str, str]] = []
    for key, value in summary.items():
        if key == "components":
            continue
        if key == "tokens":
            value = ", ".join(f"{m}={n:,}" for m, n in value.items())
        elif isinstance(value, int):
            value = f"{value:,}"
        rows.append((key, str(value)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    for component in summary.get("components", []):
        tokens = ", ".join(f"{m}={n:,}" for m, n in component["tokens"].items())
        print(f"  - {component['name']} (weight {component['weight']}): {component['rows']:,} rows, {tokens}")
    print("valid: yes")


def run(argv: list[str]) -> int:
    config = tyro.cli(InspectConfig, args=argv, prog="trimodal-data inspect")
    try:
        summary = summarize(config)
    except ValueError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    if config.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        _print_table(summary)
    return 0
