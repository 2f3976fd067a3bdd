"""Corpus and mixture manifests: the JSON contract between the data pipelines and the trainer.

A *corpus manifest* lists a corpus's shards (path relative to the manifest, rows, tokens per modality,
bytes, sha256), embeds the token space they were built for, and records provenance (pipeline, config,
input description, filter and dedupe statistics, package versions). A *mixture manifest* names corpus
manifests with weights. Both carry ``schema_version``; JSON is written with sorted keys and no
timestamps, so a rerun on the same input writes the same bytes.

Two identities. ``token_space_fingerprint`` is the id layout (also in every shard's schema).
``tokenizer_fingerprint`` is the sha256 over the tokenizers' content that produced the ids (BPE merges,
image and audio weights and configs; ``trimodal_tokenizers.fingerprint``): corpora with the same layout but
other tokenizers must not mix. :func:`check_tokenizer_fingerprints` enforces it wherever manifests meet
(``trimodal-data mix``, :meth:`MixtureManifest.load_components`, hence the train loader): a mismatch is a
``ValueError`` naming both files and both fingerprints. Manifests written before the field existed have
``tokenizer_fingerprint = None`` and are accepted with a warning (their tokenizer cannot be checked; rebuild
them to get one) [ours: refusing them would strand every existing corpus, which still carries the
token-space check].
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from trimodal_core.atomic import atomic_write_text
from trimodal_core.shard_reader import ShardReader
from trimodal_core.shard_writer import ShardInfo
from trimodal_core.token_space import TokenSpace

MANIFEST_SCHEMA_VERSION = 1
WeightUnit = Literal["tokens", "examples"]
_log = logging.getLogger(__name__)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (``"not installed"`` when absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"manifest not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a manifest must be a JSON object")
    version = data.get("schema_version")
    if version != MANIFEST_SCHEMA_VERSION:
        raise ValueError(
            f"{path}: unknown manifest schema_version {version!r} (this code reads version {MANIFEST_SCHEMA_VERSION})"
        )
    return data


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: Path) -> Any:
    if key not in data:
        raise ValueError(f"{where}: manifest lacks field {key!r}")
    if not isinstance(data[key], kind):
        raise ValueError(f"{where}: manifest field {key!r} has the wrong type ({type(data[key]).__name__})")
    return data[key]


def _optional_fingerprint(data: dict[str, Any], where: Path) -> str | None:
    value = data.get("tokenizer_fingerprint")
    if value is not None and not (isinstance(value, str) and _SHA256_HEX.fullmatch(value)):
        raise ValueError(f"{where}: tokenizer_fingerprint must be a sha256 hex digest or null, got {value!r}")
    return value


def check_tokenizer_fingerprints(
    entries: Sequence[tuple[str | Path | None, str | None]],
    *,
    reference: tuple[str | Path | None, str | None] | None = None,
) -> str | None:
    """The tokenizer fingerprint that ``entries`` (``(manifest path, fingerprint or None)``) share.

    ``reference`` (e.g. a mixture manifest and its recorded fingerprint) is checked first when it has one.
    Raises ``ValueError`` naming both files and both fingerprints on the first disagreement; entries without a
    fingerprint (manifests from before the field) are skipped with one warning naming them. Returns ``None``
    when no entry (and no reference) has a fingerprint.
    """
    known_path, known = reference if reference is not None and reference[1] is not None else (None, None)
    missing = []
    for path, fingerprint in entries:
        if fingerprint is None:
            missing.append(str(path))
        elif known is None:
            known_path, known = path, fingerprint
        elif fingerprint != known:
            raise ValueError(
                f"tokenizer fingerprint mismatch: {path} was tokenized by {fingerprint}, {known_path} by {known} "
                "(same token-space layout, different tokenizer content: rebuild one with the other's bundle)"
            )
    if missing:
        _log.warning("%d manifest(s) predate tokenizer fingerprints, their tokenizer cannot be checked "
                     "(rebuild them to record it): %s", len(missing), ", ".join(missing))
    return known


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@dataclasses.dataclass(kw_only=True)
class CorpusManifest:
    """The shards of one built corpus, with the token space and provenance."""

    name: str
    token_space: dict[str, Any]
    shards: list[ShardInfo]
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    tokenizer_fingerprint: str | None = None
    """sha256 over the content of the tokenizers that made the ids (``TokenizerBundle.tokenizer_fingerprint``);
    None for manifests written before the field existed (or by code that had no bundle)."""
    path: Path | None = None
    """Where the manifest was loaded from or saved to (shard paths are relative to its folder)."""

    kind: Literal["corpus"] = "corpus"

    @property
    def fingerprint(self) -> str:
        return TokenSpace.from_dict(self.token_space).fingerprint

    def load_token_space(self) -> TokenSpace:
        return TokenSpace.from_dict(self.token_space, source=str(self.path or "manifest"))

    @property
    def base_dir(self) -> Path:
        if self.path is None:
            raise ValueError("manifest has no path yet: save it or load it from a file first")
        return self.path.parent

    def shard_path(self, shard: ShardInfo) -> Path:
        return self.base_dir / shard.path

    @property
    def num_rows(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def tokens(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for shard in self.shards:
            for modality, count in shard.tokens.items():
                totals[modality] = totals.get(modality, 0) + count
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "kind": self.kind,
            "name": self.name,
            "token_space_fingerprint": self.fingerprint,
            "tokenizer_fingerprint": self.tokenizer_fingerprint,
            "token_space": self.token_space,
            "shards": [s.to_dict() for s in self.shards],
            "totals": {"rows": self.num_rows, "tokens": self.tokens},
            "provenance": self.provenance,
        }

    def save(self, path: str | Path) -> None:
        self.path = Path(path)
        _write_json(self.path, self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: Path) -> CorpusManifest:
        if data.get("kind") != "corpus":
            raise ValueError(f"{path}: expected a corpus manifest, got kind {data.get('kind')!r}")
        token_space = _require(data, "token_space", dict, path)
        space = TokenSpace.from_dict(token_space, source=str(path))
        declared = _require(data, "token_space_fingerprint", str, path)
        if declared != space.fingerprint:
            raise ValueError(
                f"{path}: token_space_fingerprint {declared} does not match its embedded token space "
                f"({space.fingerprint})"
            )
        shards = []
        for i, raw in enumerate(_require(data, "shards", list, path)):
            try:
                shards.append(ShardInfo(**raw))
            except TypeError as exc:
                raise ValueError(f"{path}: shard entry {i} is malformed: {exc}") from None
            if Path(shards[-1].path).is_absolute() or ".." in Path(shards[-1].path).parts:
                raise ValueError(f"{path}: shard path {shards[-1].path!r} must be relative and inside the corpus")
        return cls(
            name=_require(data, "name", str, path),
            token_space=token_space,
            shards=shards,
            provenance=dict(data.get("provenance") or {}),
            tokenizer_fingerprint=_optional_fingerprint(data, path),
            path=path,
        )

    @classmethod
    def load(cls, path: str | Path) -> CorpusManifest:
        p = Path(path)
        return cls.from_dict(_read_json(p), path=p)

    def validate(self, *, check_sha256: bool = False, expected_fingerprint: str | None = None) -> None:
        """Check every shard exists, opens, matches the fingerprint, row count, and (optionally) sha256."""
        fingerprint = self.fingerprint
        if expected_fingerprint is not None and fingerprint != expected_fingerprint:
            raise ValueError(
                f"{self.path}: token-space fingerprint mismatch "
                f"(manifest {fingerprint}, expected {expected_fingerprint})"
            )
        for shard in self.shards:
            shard_file = self.shard_path(shard)
            if not shard_file.is_file():
                raise ValueError(f"{self.path}: missing shard {shard_file}")
            size = shard_file.stat().st_size
            if size != shard.bytes:
                raise ValueError(f"{shard_file}: size {size} bytes, manifest {self.path} says {shard.bytes}")
            with ShardReader(
                shard_file,
                expected_fingerprint=fingerprint,
                expected_sha256=shard.sha256 if check_sha256 else None,
            ) as reader:
                rows = reader.num_rows
            if rows != shard.rows:
                raise ValueError(f"{shard_file}: {rows} rows, manifest {self.path} says {shard.rows}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixtureComponent:
    name: str
    manifest: str
    """Path of the component's corpus manifest, relative to the mixture manifest's folder."""
    weight: float


@dataclasses.dataclass(kw_only=True)
class MixtureManifest:
    """Corpus manifests with mixing weights (normalized by the loader)."""

    components: list[MixtureComponent]
    weight_unit: WeightUnit = "tokens"
    token_space_fingerprint: str = ""
    tokenizer_fingerprint: str | None = None
    """The components' common tokenizer fingerprint (None when none of them records one)."""
    path: Path | None = None
    kind: Literal["mixture"] = "mixture"

    def __post_init__(self) -> None:
        if not self.components:
            raise ValueError("a mixture needs at least one component")
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise ValueError(f"mixture component names must be unique, got {names}")
        for c in self.components:
            if not (isinstance(c.weight, int | float) and math.isfinite(c.weight) and c.weight > 0):
                raise ValueError(f"mixture component {c.name!r}: weight must be a positive number, got {c.weight!r}")
        if self.weight_unit not in ("tokens", "examples"):
            raise ValueError(f"weight_unit must be 'tokens' or 'examples', got {self.weight_unit!r}")

    def component_path(self, component: MixtureComponent) -> Path:
        base = self.path.parent if self.path is not None else Path.cwd()
        return base / component.manifest

    def load_components(self) -> dict[str, CorpusManifest]:
        """Load every component manifest and check that all share this mixture's token space and tokenizers."""
        loaded = {}
        for component in self.components:
            corpus = CorpusManifest.load(self.component_path(component))
            if self.token_space_fingerprint and corpus.fingerprint != self.token_space_fingerprint:
                raise ValueError(
                    f"{corpus.path}: token-space fingerprint {corpus.fingerprint} differs from the mixture's "
                    f"{self.token_space_fingerprint} ({self.path})"
                )
            loaded[component.name] = corpus
        check_tokenizer_fingerprints([(c.path, c.tokenizer_fingerprint) for c in loaded.values()],
                                     reference=(self.path, self.tokenizer_fingerprint))
        return loaded

    def validate(self, *, check_sha256: bool = False) -> None:
        for corpus in self.load_components().values():
            corpus.validate(check_sha256=check_sha256, expected_fingerprint=self.token_space_fingerprint or None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "kind": self.kind,
            "token_space_fingerprint": self.token_space_fingerprint,
            "tokenizer_fingerprint": self.tokenizer_fingerprint,
            "weight_unit": self.weight_unit,
            "components": [dataclasses.asdict(c) for c in self.components],
        }

    def save(self, path: str | Path) -> None:
        self.path = Path(path)
        _write_json(self.path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> MixtureManifest:
        p = Path(path)
        data = _read_json(p)
        if data.get("kind") != "mixture":
            raise ValueError(f"{p}: expected a mixture manifest, got kind {data.get('kind')!r}")
        components = []
        for i, raw in enumerate(_require(data, "components", list, p)):
            try:
                components.append(MixtureComponent(**raw))
            except TypeError as exc:
                raise ValueError(f"{p}: component {i} is malformed: {exc}") from None
        try:
            return cls(
                components=components,
                weight_unit=data.get("weight_unit", "tokens"),
                token_space_fingerprint=_require(data, "token_space_fingerprint", str, p),
                tokenizer_fingerprint=_optional_fingerprint(data, p),
                path=p,
            )
        except ValueError as exc:
            raise ValueError(f"{p}: {exc}") from None


def load_manifest(path: str | Path) -> CorpusManifest | MixtureManifest:
    """Load either kind of manifest, dispatching on its ``kind`` field."""
    p = Path(path)
    kind = _read_json(p).get("kind")
    if kind == "corpus":
        return CorpusManifest.load(p)
    if kind == "mixture":
        return MixtureManifest.load(p)
    raise ValueError(f"{p}: unknown manifest kind {kind!r} (expected 'corpus' or 'mixture')")
