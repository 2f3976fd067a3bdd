"""Read trimodal shards: memory-mapped, validated, iterated in record batches.

Opening a shard checks that it is a complete Arrow IPC file, that its schema is the documented
version and, when asked, that its token-space fingerprint and sha256 match what the caller expects.
Every failure raises ``ValueError`` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from trimodal_core.shard_schema import COUNT_COLUMNS, check_schema
from trimodal_core.shard_writer import sha256_file


class ShardReader:
    """A memory-mapped shard. Cheap to open; data is paged in lazily by the OS."""

    def __init__(
        self,
        path: str | Path,
        *,
        expected_fingerprint: str | None = None,
        expected_sha256: str | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError(f"shard not found: {self.path}")
        if expected_sha256 is not None:
            actual = sha256_file(self.path)
            if actual != expected_sha256:
                raise ValueError(f"{self.path}: checksum mismatch (sha256 {actual}, manifest says {expected_sha256})")
        try:
            self._source = pa.memory_map(str(self.path), "r")
            self._reader = pa.ipc.open_file(self._source)
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            raise ValueError(f"{self.path}: not a readable Arrow IPC file (truncated or corrupt?): {exc}") from None
        self.schema_version, self.fingerprint = check_schema(self._reader.schema, where=str(self.path))
        if expected_fingerprint is not None and self.fingerprint != expected_fingerprint:
            raise ValueError(
                f"{self.path}: token-space fingerprint mismatch (shard {self.fingerprint}, "
                f"expected {expected_fingerprint})"
            )

    @property
    def schema(self) -> pa.Schema:
        return self._reader.schema

    @property
    def num_batches(self) -> int:
        return self._reader.num_record_batches

    def batch(self, index: int) -> pa.RecordBatch:
        try:
            return self._reader.get_batch(index)
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            raise ValueError(f"{self.path}: record batch {index} is unreadable: {exc}") from None

    def iter_batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        for i in range(self.num_batches):
            batch = self.batch(i)
            yield batch.select(columns) if columns is not None else batch

    def table(self) -> pa.Table:
        """The whole shard as a zero-copy table over the memory map."""
        try:
            return self._reader.read_all()
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            raise ValueError(f"{self.path}: unreadable: {exc}") from None

    @property
    def num_rows(self) -> int:
        return sum(self.batch(i).num_rows for i in range(self.num_batches))

    def summary(self) -> dict[str, Any]:
        """Rows and token counts per modality, computed from the count columns."""
        rows = 0
        tokens = dict.fromkeys((m.name.lower() for m in COUNT_COLUMNS), 0)
        for batch in self.iter_batches(columns=list(COUNT_COLUMNS.values())):
            rows += batch.num_rows
            for modality, column in COUNT_COLUMNS.items():
                tokens[modality.name.lower()] += int(batch.column(column).to_numpy().sum())
        return {
            "path": str(self.path),
            "schema_version": self.schema_version,
            "fingerprint": self.fingerprint,
            "rows": rows,
            "tokens": tokens,
            "bytes": self.path.stat().st_size,
        }

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> ShardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
