"""``trimodal-data split``: a deterministic, disjoint train/validation split by a salted hash of the example id.

``trimodal-data split --manifest corpora/text/manifest.json --out splits/text --fraction 0.01`` writes
``splits/text/train/`` and ``splits/text/val/`` (shards + manifest each); given a *mixture* manifest it splits
every component into ``--out/<component>/{train,val}`` and writes ``--out/train.json`` and ``--out/val.json``
(same weights). The rule and its guarantees are in :mod:`trimodal_core.split`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path

import tyro

from trimodal_core import ShardWriterConfig, load_manifest, setup_logging, split_corpus, split_mixture
from trimodal_core.manifest import MixtureManifest

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SplitConfig:
    """Split a corpus (or every component of a mixture) into train and validation corpora."""

    manifest: Path
    """A corpus manifest, or a mixture manifest (each component is split)."""
    out: Path
    """Output folder: ``train/`` and ``val/`` (a corpus), or one folder per component plus ``train.json`` and
    ``val.json`` (a mixture)."""
    fraction: float = 0.01
    """Expected share of examples held out for validation, in (0, 1) [ours: 1%]."""
    salt: str = "trimodal-heldout"
    """Hash salt: another salt gives an independent split of the same ids."""
    shard_target_mib: float = 256
    """Roll the output shards at this size."""
    rows_per_batch: int = 1024
    """Rows per Arrow record batch of the output shards."""
    overwrite: bool = False
    """Replace an earlier split in ``--out``."""
    check_sha256: bool = False
    """Verify the input shards' sha256 before reading them."""


def split(config: SplitConfig) -> dict[str, object]:
    """Run the split; return a summary (rows per side, output manifests). Raises ``ValueError`` naming the problem."""
    writer = ShardWriterConfig(target_bytes=max(1, int(config.shard_target_mib * 2**20)),
                               rows_per_batch=config.rows_per_batch)
    kwargs = dict(fraction=config.fraction, salt=config.salt, writer_config=writer, overwrite=config.overwrite,
                  check_sha256=config.check_sha256)
    if isinstance(load_manifest(config.manifest), MixtureManifest):
        sides = split_mixture(config.manifest, config.out, **kwargs)  # type: ignore[arg-type]
        rows = {split: {name: corpus.num_rows for name, corpus in side.load_components().items()}
                for split, side in sides.items()}
        return {"train": str(config.out / "train.json"), "val": str(config.out / "val.json"), "rows": rows}
    result = split_corpus(config.manifest, config.out, **kwargs)  # type: ignore[arg-type]
    return {"train": str(result.train.path), "val": str(result.val.path),
            "rows": {"train": result.train.num_rows, "val": result.val.num_rows}}


def run(argv: list[str]) -> int:
    setup_logging()
    config = tyro.cli(SplitConfig, args=argv, prog="trimodal-data split")
    try:
        summary = split(config)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0
