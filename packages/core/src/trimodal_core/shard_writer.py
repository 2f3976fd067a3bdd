"""Write examples into size-bounded Arrow IPC shards, atomically.

Each shard is written under a temporary name and renamed when closed, so readers and relaunched jobs
never see a partial file. Output is a pure function of the examples written and their order: no
timestamps or host names, so reruns give byte-identical shards.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from trimodal_core.shard_schema import COUNT_COLUMNS, SHARD_SUFFIX, shard_schema
from trimodal_core.token_space import Modality


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardRecord:
    """One formatted example, ready to be written."""

    example_id: str
    source: str
    task: str
    tokens: np.ndarray
    """Global token ids (any integer dtype; stored as int32)."""
    modality: np.ndarray
    """One :class:`Modality` value per token."""

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.modality):
            raise ValueError(
                f"example {self.example_id!r}: {len(self.tokens)} tokens but {len(self.modality)} modality entries"
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardInfo:
    """What a manifest records about one finished shard."""

    path: str
    rows: int
    bytes: int
    sha256: str
    tokens: dict[str, int]
    """Token counts per modality name (``special``, ``text``, ``image``, ``audio``)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardWriterConfig:
    target_bytes: int = 256 * 2**20
    """Roll to a new shard once the current one reaches this size."""
    rows_per_batch: int = 1024
    """Rows per Arrow record batch (the unit readers iterate over)."""

    def __post_init__(self) -> None:
        if self.target_bytes < 1:
            raise ValueError(f"ShardWriterConfig.target_bytes must be positive, got {self.target_bytes}")
        if self.rows_per_batch < 1:
            raise ValueError(f"ShardWriterConfig.rows_per_batch must be positive, got {self.rows_per_batch}")


def sha256_file(path: str | Path, chunk_bytes: int = 8 * 2**20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


def records_to_batch(records: Sequence[ShardRecord], schema: pa.Schema) -> pa.RecordBatch:
    """Build one record batch from records with flat buffers (no per-token Python objects)."""
    lengths = np.fromiter((len(r.tokens) for r in records), dtype=np.int64, count=len(records))
    offsets = np.zeros(len(records) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    if len(records):
        flat_tokens = np.concatenate([np.asarray(r.tokens) for r in records])
        flat_modality = np.concatenate([np.asarray(r.modality) for r in records])
    else:
        flat_tokens = np.zeros(0, np.int64)
        flat_modality = np.zeros(0, np.uint8)
    if flat_tokens.size and (flat_tokens.min() < 0 or flat_tokens.max() > np.iinfo(np.int32).max):
        raise ValueError("token ids must be non-negative int32 values")
    if flat_modality.size and flat_modality.max() > max(Modality):
        raise ValueError(f"modality values must be in 0..{max(Modality)}")
    flat_modality = flat_modality.astype(np.uint8, copy=False)
    per_modality = {}
    for modality, column in COUNT_COLUMNS.items():
        hits = (flat_modality == modality).astype(np.int64)
        csum = np.concatenate([[0], np.cumsum(hits)])
        per_modality[column] = (csum[offsets[1:]] - csum[offsets[:-1]]).astype(np.int32)
    arrays = {
        "example_id": pa.array([r.example_id for r in records], pa.string()),
        "source": pa.array([r.source for r in records], pa.string()),
        "task": pa.array([r.task for r in records], pa.string()),
        "tokens": pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat_tokens.astype(np.int32))),
        "modality": pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat_modality)),
        "num_tokens": pa.array(lengths.astype(np.int32)),
        **{name: pa.array(values) for name, values in per_modality.items()},
    }
    return pa.RecordBatch.from_arrays([arrays[f.name] for f in schema], schema=schema)


class ShardWriter:
    """Append examples; shards roll at ``target_bytes``; :meth:`close` returns their :class:`ShardInfo`.

    Shards are named ``{prefix}-{index:05d}.arrow`` inside ``out_dir``. Use as a context manager, or
    call :meth:`close` (on an exception the context manager removes the unfinished shard).
    """

    def __init__(
        self,
        out_dir: str | Path,
        *,
        prefix: str,
        fingerprint: str,
        config: ShardWriterConfig | None = None,
    ) -> None:
        if not prefix or "/" in prefix or prefix.startswith("."):
            raise ValueError(f"bad shard prefix {prefix!r}: a plain file-name stem is required")
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.config = config or ShardWriterConfig()
        self.schema = shard_schema(fingerprint)
        self._buffer: list[ShardRecord] = []
        self._index = 0
        self._sink: pa.OSFile | None = None
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._tmp_path: Path | None = None
        self._rows = 0
        self._tokens = dict.fromkeys((m.name.lower() for m in COUNT_COLUMNS), 0)
        self._finished: list[ShardInfo] = []
        self._closed = False

    def _final_path(self) -> Path:
        return self.out_dir / f"{self.prefix}-{self._index:05d}{SHARD_SUFFIX}"

    def write(self, record: ShardRecord) -> None:
        if self._closed:
            raise ValueError("ShardWriter is closed")
        self._buffer.append(record)
        if len(self._buffer) >= self.config.rows_per_batch:
            self._flush()

    def write_all(self, records: Iterable[ShardRecord]) -> None:
        for record in records:
            self.write(record)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        """Append rows already in shard form (e.g. selected from another shard of the same token space).

        Pending records are flushed first, so rows keep the order they were given in; the batch is written
        as one record batch (callers choose its size), after checking its columns and token-space fingerprint.
        """
        if self._closed:
            raise ValueError("ShardWriter is closed")
        if not batch.schema.equals(self.schema, check_metadata=True):
            raise ValueError("write_batch: the batch's schema (columns or token-space fingerprint) differs from "
                             "this writer's")
        self._flush()
        if batch.num_rows:
            self._write_record_batch(batch)

    def _flush(self) -> None:
        if not self._buffer:
            return
        batch = records_to_batch(self._buffer, self.schema)
        self._buffer = []
        self._write_record_batch(batch)

    def _write_record_batch(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            final = self._final_path()
            self._tmp_path = final.with_name(f".{final.name}.tmp")
            self._sink = pa.OSFile(str(self._tmp_path), "wb")
            self._writer = pa.ipc.new_file(self._sink, self.schema)
        self._writer.write_batch(batch)
        self._rows += batch.num_rows
        for modality, column in COUNT_COLUMNS.items():
            self._tokens[modality.name.lower()] += int(batch.column(column).to_numpy().sum())
        assert self._sink is not None
        if self._sink.tell() >= self.config.target_bytes:
            self._finish_shard()

    def _finish_shard(self) -> None:
        assert self._writer is not None and self._sink is not None and self._tmp_path is not None
        self._writer.close()
        self._sink.close()
        with open(self._tmp_path, "rb") as handle:
            os.fsync(handle.fileno())
        final = self._final_path()
        os.replace(self._tmp_path, final)
        self._finished.append(
            ShardInfo(
                path=final.name,
                rows=self._rows,
                bytes=final.stat().st_size,
                sha256=sha256_file(final),
                tokens=dict(self._tokens),
            )
        )
        self._writer = self._sink = self._tmp_path = None
        self._rows = 0
        self._tokens = dict.fromkeys(self._tokens, 0)
        self._index += 1

    def close(self) -> list[ShardInfo]:
        """Flush, finish the open shard and return every finished shard (paths relative to out_dir)."""
        if not self._closed:
            self._flush()
            if self._writer is not None:
                self._finish_shard()
            self._closed = True
        return list(self._finished)

    def abort(self) -> None:
        """Drop the unfinished shard (finished shards stay)."""
        if self._writer is not None:
            self._writer.close()
        if self._sink is not None:
            self._sink.close()
        if self._tmp_path is not None and self._tmp_path.exists():
            self._tmp_path.unlink()
        self._writer = self._sink = self._tmp_path = None
        self._buffer = []
        self._closed = True

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
