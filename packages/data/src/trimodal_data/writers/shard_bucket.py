"""One output bucket of examples -> Arrow shards, in an order that depends only on the bucket's set of examples.

:func:`order_bucket` sorts the bucket's :class:`~trimodal_core.ShardRecord` objects by ``(example_id, source,
task, tokens)`` and keeps one copy per ``example_id``: the first in that order, so the copy kept never depends on
the order records arrived in (or on which input was listed first). Every other copy is a ``duplicate_id``
reject naming the kept copy's source; a record whose id or source cannot be encoded as UTF-8 (it could only come
from a custom reader) is an ``invalid_utf8`` reject instead of a failed write. :func:`write_bucket` writes the
kept records with :class:`trimodal_core.ShardWriter`. Records with one id always share a bucket (buckets are a
hash of the id), so per-bucket checks see every copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from trimodal_core import ShardInfo, ShardRecord, ShardWriter, ShardWriterConfig
from trimodal_data.readers.fields import display_name, utf8_text
from trimodal_data.records import Reject

DUPLICATE_ID_REASON = "duplicate_id"


def _sort_key(record: ShardRecord) -> tuple[str, str, str, bytes]:
    return record.example_id, record.source, record.task, record.tokens.tobytes()


def order_bucket(records: Iterable[ShardRecord]) -> tuple[list[ShardRecord], list[Reject]]:
    """(records to write, in order; rejects for repeated ids and unwritable strings)."""
    kept: list[ShardRecord] = []
    rejects: list[Reject] = []
    valid: list[ShardRecord] = []
    for record in records:
        if utf8_text(record.example_id, "reject") is None or utf8_text(record.source, "reject") is None:
            rejects.append(Reject(id=display_name(record.example_id), source=display_name(record.source),
                                  reason="invalid_utf8", detail="id or source is not valid Unicode"))
        else:
            valid.append(record)
    valid.sort(key=_sort_key)
    for record in valid:
        if kept and kept[-1].example_id == record.example_id:
            rejects.append(Reject(id=record.example_id, source=record.source, reason=DUPLICATE_ID_REASON,
                                  detail=f"kept the copy from {kept[-1].source}"))
        else:
            kept.append(record)
    return kept, rejects


def write_bucket(
    records: list[ShardRecord], shards_dir: str | Path, *, prefix: str, fingerprint: str, config: ShardWriterConfig
) -> list[ShardInfo]:
    """Write already ordered ``records`` as ``<prefix>-MMMMM.arrow`` shards; returns their infos."""
    with ShardWriter(shards_dir, prefix=prefix, fingerprint=fingerprint, config=config) as writer:
        writer.write_all(records)
    return writer.close()
