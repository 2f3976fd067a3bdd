"""``trimodal-data mix``: write a mixture manifest over corpus manifests and validate it.

``trimodal-data mix --component text/manifest.json:0.7 image_text/manifest.json:0.3 --out mix.json``
names every component after its corpus (or ``NAME=PATH:WEIGHT``), stores component paths relative to the
mixture file, and refuses to write a mixture whose components disagree on the token space or on the
tokenizers (``tokenizer_fingerprint``: same layout, other BPE merges or weights), list missing shards, or
(with ``--check-sha256``) have shards whose bytes changed. The common tokenizer fingerprint is recorded in
the mixture; components from before the field are accepted with a warning (see ``trimodal_core.manifest``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import sys
from pathlib import Path
from typing import Literal

import tyro

from trimodal_core import (
    CorpusManifest,
    MixtureComponent,
    MixtureManifest,
    check_tokenizer_fingerprints,
    setup_logging,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixConfig:
    """Write a mixture manifest (corpus manifests with weights) and validate it."""

    component: tuple[str, ...]
    """Components as PATH:WEIGHT or NAME=PATH:WEIGHT (PATH: a corpus manifest; NAME defaults to its name)."""
    out: Path
    """Where to write the mixture manifest (component paths are stored relative to its folder)."""
    weight_unit: Literal["tokens", "examples"] = "tokens"
    """Whether weights are shares of tokens or of examples (rows)."""
    check_sha256: bool = False
    """Also verify every shard's sha256 against its manifest (reads every byte)."""


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    name: str | None
    path: Path
    weight: float


def parse_component(spec: str) -> ComponentSpec:
    """Parse ``[NAME=]PATH:WEIGHT``; the weight is after the last colon."""
    name: str | None = None
    body = spec
    if "=" in spec.split(":", 1)[0]:
        name, body = spec.split("=", 1)
        if not name:
            raise ValueError(f"--component {spec!r}: empty NAME before '='")
    path, sep, raw_weight = body.rpartition(":")
    if not sep or not path:
        raise ValueError(f"--component {spec!r}: expected PATH:WEIGHT or NAME=PATH:WEIGHT")
    try:
        weight = float(raw_weight)
    except ValueError:
        raise ValueError(f"--component {spec!r}: weight {raw_weight!r} is not a number") from None
    if not (math.isfinite(weight) and weight > 0):
        raise ValueError(f"--component {spec!r}: weight must be a positive number, got {raw_weight}")
    return ComponentSpec(name, Path(path), weight)


def build_mixture(config: MixConfig) -> MixtureManifest:
    """Build and validate the mixture manifest (not yet written); raises ``ValueError`` naming the problem."""
    if not config.component:
        raise ValueError("--component: at least one component is required")
    out_dir = config.out.parent.resolve()
    specs = [parse_component(spec) for spec in config.component]
    corpora = [CorpusManifest.load(spec.path) for spec in specs]
    fingerprint, first_path = corpora[0].fingerprint, specs[0].path
    for spec, corpus in zip(specs, corpora, strict=True):
        if corpus.fingerprint != fingerprint:
            raise ValueError(
                f"{spec.path}: token-space fingerprint {corpus.fingerprint} differs from {first_path}'s {fingerprint}"
            )
    tokenizer_fingerprint = check_tokenizer_fingerprints(
        [(spec.path, corpus.tokenizer_fingerprint) for spec, corpus in zip(specs, corpora, strict=True)]
    )
    components = []
    for spec, corpus in zip(specs, corpora, strict=True):
        corpus.validate(check_sha256=config.check_sha256, expected_fingerprint=fingerprint)
        relative = Path(os.path.relpath(spec.path.resolve(), out_dir)).as_posix()
        components.append(MixtureComponent(name=spec.name or corpus.name, manifest=relative, weight=spec.weight))
    return MixtureManifest(
        components=components, weight_unit=config.weight_unit, token_space_fingerprint=fingerprint,
        tokenizer_fingerprint=tokenizer_fingerprint, path=config.out,
    )


def run(argv: list[str]) -> int:
    setup_logging()
    config = tyro.cli(MixConfig, args=argv, prog="trimodal-data mix")
    try:
        mixture = build_mixture(config)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    mixture.save(config.out)
    total = sum(c.weight for c in mixture.components)
    for c in mixture.components:
        log.info("%s: %s weight %.4g (%.1f%% of %s)", c.name, c.manifest, c.weight, 100 * c.weight / total,
                 mixture.weight_unit)
    log.info("wrote %s", config.out)
    return 0
