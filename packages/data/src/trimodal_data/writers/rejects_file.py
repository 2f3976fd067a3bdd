"""One bucket of rejects -> the bytes of one reject file (Parquet or JSONL), deterministically.

A reject file has four string columns, ``id``, ``source``, ``reason`` and ``detail``
(:data:`~trimodal_data.records.REJECT_FIELDS`), one row per reject in the order given. A reject describes input
that may be broken, so every string is made writable first (:func:`~trimodal_data.readers.fields.display_name`:
undecodable file-name bytes and lone surrogates become U+FFFD): writing the rejects can never fail on them.
"""

from __future__ import annotations

import io
import json
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from trimodal_data.readers.fields import display_name
from trimodal_data.records import REJECT_FIELDS, Reject

RejectsFormat = Literal["parquet", "jsonl"]
_SCHEMA = pa.schema([pa.field(name, pa.string(), nullable=False) for name in REJECT_FIELDS])


def rejects_to_bytes(rejects: list[Reject], fmt: RejectsFormat) -> bytes:
    """The file's bytes: JSONL (sorted keys, one object a line) or zstd-compressed Parquet."""
    columns = {name: [display_name(getattr(r, name)) for r in rejects] for name in REJECT_FIELDS}
    if fmt == "jsonl":
        rows = (dict(zip(REJECT_FIELDS, values, strict=True)) for values in zip(*columns.values(), strict=True))
        lines = (json.dumps(row, ensure_ascii=False, sort_keys=True) for row in rows)
        return ("\n".join(lines) + "\n").encode("utf-8")
    sink = io.BytesIO()
    pq.write_table(pa.table(columns, schema=_SCHEMA), sink, compression="zstd")
    return sink.getvalue()
