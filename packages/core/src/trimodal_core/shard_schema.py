"""The versioned Arrow schema of a trimodal shard.

A shard is an Arrow IPC *file* (random access, memory-mappable, uncompressed by default so reads are
zero-copy) holding one example per row:

============================  ===============  ==================================================
column                        type             meaning
============================  ===============  ==================================================
``example_id``                string           stable id of the example (unique within a corpus)
``source``                    string           where it came from (file, dataset or sub-corpus)
``task``                      string           task token name of the layout (``text``, ``t2i`` ...)
``tokens``                    list<int32>      global token ids of the formatted sequence
``modality``                  list<uint8>      :class:`~trimodal_core.token_space.Modality` per token
``num_tokens``                int32            ``len(tokens)``
``num_special_tokens``        int32            tokens whose modality is SPECIAL
``num_text_tokens``           int32            tokens whose modality is TEXT
``num_image_tokens``          int32            tokens whose modality is IMAGE
``num_audio_tokens``          int32            tokens whose modality is AUDIO
============================  ===============  ==================================================

Schema metadata carries ``trimodal.schema_version`` and ``trimodal.token_space_fingerprint``.
Version history: 1 — first release.
"""

from __future__ import annotations

import pyarrow as pa

from trimodal_core.token_space import Modality

SHARD_SCHEMA_VERSION = 1
SHARD_SUFFIX = ".arrow"
META_SCHEMA_VERSION = b"trimodal.schema_version"
META_FINGERPRINT = b"trimodal.token_space_fingerprint"

COUNT_COLUMNS: dict[Modality, str] = {
    Modality.SPECIAL: "num_special_tokens",
    Modality.TEXT: "num_text_tokens",
    Modality.IMAGE: "num_image_tokens",
    Modality.AUDIO: "num_audio_tokens",
}

_FIELDS: list[pa.Field] = [
    pa.field("example_id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("task", pa.string(), nullable=False),
    pa.field("tokens", pa.list_(pa.int32()), nullable=False),
    pa.field("modality", pa.list_(pa.uint8()), nullable=False),
    pa.field("num_tokens", pa.int32(), nullable=False),
    *(pa.field(name, pa.int32(), nullable=False) for name in COUNT_COLUMNS.values()),
]


def shard_schema(fingerprint: str) -> pa.Schema:
    """The shard schema with its metadata for one token space."""
    return pa.schema(
        _FIELDS,
        metadata={META_SCHEMA_VERSION: str(SHARD_SCHEMA_VERSION).encode(), META_FINGERPRINT: fingerprint.encode()},
    )


def check_schema(schema: pa.Schema, *, where: str) -> tuple[int, str]:
    """Validate a shard's schema; return ``(schema_version, fingerprint)`` or raise ``ValueError``."""
    meta = schema.metadata or {}
    raw_version = meta.get(META_SCHEMA_VERSION)
    if raw_version is None:
        raise ValueError(f"{where}: not a trimodal shard (no {META_SCHEMA_VERSION.decode()} in schema metadata)")
    try:
        version = int(raw_version)
    except ValueError:
        raise ValueError(f"{where}: bad shard schema version {raw_version!r}") from None
    if version != SHARD_SCHEMA_VERSION:
        raise ValueError(
            f"{where}: unknown shard schema version {version} (this code reads version {SHARD_SCHEMA_VERSION})"
        )
    fingerprint = meta.get(META_FINGERPRINT, b"").decode()
    if not fingerprint:
        raise ValueError(f"{where}: shard has no token-space fingerprint")
    for expected in _FIELDS:
        idx = schema.get_field_index(expected.name)
        if idx < 0:
            raise ValueError(f"{where}: shard schema lacks column {expected.name!r}")
        actual = schema.field(idx)
        if actual.type != expected.type:
            raise ValueError(
                f"{where}: column {expected.name!r} has type {actual.type}, expected {expected.type}"
            )
    return version, fingerprint
