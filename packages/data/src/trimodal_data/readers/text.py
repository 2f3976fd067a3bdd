"""Read text documents from JSONL (plain, ``.gz``, ``.zst``), Parquet and plain ``.txt`` files.

:func:`read_text_file` yields a :class:`~trimodal_data.records.Document` for every record and a
:class:`~trimodal_data.records.Reject` for everything it cannot use, and never raises on bad data: an
empty file, a broken gzip/zstd stream, a non-JSON line, JSON nested too deeply for the parser, a missing or
non-string text field, an id or source field of the wrong type (``bad_id_field``, ``bad_source_field``),
invalid UTF-8 or lone surrogates in any string field (rejected or replaced, configurable; every field goes
through :mod:`trimodal_data.readers.fields`) and an over-long record (read in bounded chunks, never held whole
in memory) all become rejects with a reason; any other exception while turning one record into a document is
a ``record_error`` reject. Ids are stable: the record's id field (a string or an integer) when configured and
present, else ``<file>:<line>`` (JSONL), ``<file>:<row>`` (Parquet) or ``<file>`` (``.txt``), where ``<file>``
is the path relative to the input root. Files are opened through Beam's ``FileSystems``, so ``gs://``/``s3://``
inputs work wherever Beam has the filesystem installed.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from typing import IO

import zstandard
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from trimodal_data.readers.fields import InvalidUtf8, string_field, utf8_text
from trimodal_data.readers.files import InputFile
from trimodal_data.records import Document, Reject

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz", ".jsonl.zst", ".json.zst")
PARQUET_SUFFIXES = (".parquet",)
TEXT_SUFFIXES = (".txt",)
SUPPORTED_SUFFIXES = JSONL_SUFFIXES + PARQUET_SUFFIXES + TEXT_SUFFIXES
_READ_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError, ValueError)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextReadConfig:
    """How input records are parsed."""

    text_field: str = "text"
    """JSON key / Parquet column holding the document text."""
    id_field: str | None = "id"
    """JSON key / Parquet column holding the document id (when absent from a record: ``file:line``).
    Ids must be unique across the inputs; None always uses ``file:line``."""
    source_field: str | None = "source"
    """JSON key / Parquet column naming the sub-corpus (when absent: the file path relative to its root)."""
    invalid_utf8: InvalidUtf8 = "reject"
    """What to do with bytes that are not valid UTF-8 (and strings with lone surrogates): reject the record, or
    replace them (U+FFFD for bytes, ``?`` for surrogates)."""
    max_record_bytes: int = 8 * 2**20
    """Longer records (one JSONL line, one .txt file) are rejected as ``record_too_large`` unread."""

    def __post_init__(self) -> None:
        if self.max_record_bytes < 1:
            raise ValueError(f"TextReadConfig.max_record_bytes must be positive, got {self.max_record_bytes}")
        if self.invalid_utf8 not in ("reject", "replace"):
            raise ValueError(f"TextReadConfig.invalid_utf8 must be 'reject' or 'replace', got {self.invalid_utf8!r}")


def _open(path: str) -> IO[bytes]:
    raw = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if path.endswith(".zst"):
        # zstandard's reader has no readline(); the buffered wrapper adds it.
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(reader)  # type: ignore[arg-type]
    return raw


def _read_line(handle: IO[bytes], limit: int) -> tuple[bytes, bool]:
    """One line of at most ``limit`` bytes; returns ``(line, too_long)``, skipping the rest of a long line."""
    line = handle.readline(limit + 1)
    if len(line) <= limit or line.endswith(b"\n"):
        return line, False
    while True:  # discard the remainder in bounded chunks
        chunk = handle.readline(1 << 20)
        if not chunk or chunk.endswith(b"\n"):
            return line[:64], True


def _decode(data: bytes, config: TextReadConfig) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace") if config.invalid_utf8 == "replace" else None


def _document(record: dict, fallback_id: str, file: InputFile, config: TextReadConfig) -> Document | Reject:
    """The record as a document, or the reject naming the first bad field (id, then source, then text)."""
    policy = config.invalid_utf8
    doc_id, id_reason = string_field(record, config.id_field, policy, allow_int=True)
    doc_id = doc_id or fallback_id
    source, source_reason = string_field(record, config.source_field, policy)
    source = source or file.name
    if id_reason is not None:
        return Reject(id=doc_id, source=source, reason=id_reason, detail=f"field {config.id_field!r}")
    if source_reason is not None:
        return Reject(id=doc_id, source=source, reason=source_reason, detail=f"field {config.source_field!r}")
    if config.text_field not in record:
        return Reject(id=doc_id, source=source, reason="missing_text_field", detail=f"no {config.text_field!r}")
    text = record[config.text_field]
    if not isinstance(text, str):
        return Reject(id=doc_id, source=source, reason="bad_text_field", detail=type(text).__name__)
    cleaned = utf8_text(text, policy)
    if cleaned is None:
        return Reject(id=doc_id, source=source, reason="invalid_utf8", detail="lone surrogate")
    return Document(id=doc_id, source=source, text=cleaned)


def _record_error(record_id: str, file: InputFile, exc: Exception) -> Reject:
    """An unexpected exception while turning one record into a document: a reject, never a failed run."""
    return Reject(id=record_id, source=file.name, reason="record_error", detail=f"{type(exc).__name__}: {exc}"[:300])


def _read_jsonl(file: InputFile, config: TextReadConfig) -> Iterator[Document | Reject]:
    with _open(file.path) as handle:
        lineno = 0
        while True:
            line, too_long = _read_line(handle, config.max_record_bytes)
            if not line:
                return
            lineno += 1
            line_id = f"{file.name}:{lineno}"
            if too_long:
                yield Reject(id=line_id, source=file.name, reason="record_too_large",
                             detail=f"line longer than {config.max_record_bytes} bytes")
                continue
            if not line.strip():
                continue
            decoded = _decode(line, config)
            if decoded is None:
                yield Reject(id=line_id, source=file.name, reason="invalid_utf8", detail="line is not UTF-8")
                continue
            try:
                record = json.loads(decoded)
            except RecursionError:
                yield Reject(id=line_id, source=file.name, reason="invalid_json", detail="nested too deeply")
                continue
            except ValueError as exc:  # JSONDecodeError, and integers over Python's digit limit
                yield Reject(id=line_id, source=file.name, reason="invalid_json", detail=str(exc)[:200])
                continue
            if not isinstance(record, dict):
                yield Reject(id=line_id, source=file.name, reason="invalid_json", detail="not a JSON object")
                continue
            try:
                yield _document(record, line_id, file, config)
            except Exception as exc:  # one bad record must never stop the run
                yield _record_error(line_id, file, exc)


def _read_parquet(file: InputFile, config: TextReadConfig) -> Iterator[Document | Reject]:
    import pyarrow.parquet as pq

    with FileSystems.open(file.path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
        parquet = pq.ParquetFile(io.BufferedReader(raw) if not hasattr(raw, "seek") else raw)
        names = set(parquet.schema_arrow.names)
        if config.text_field not in names:
            yield Reject(id=file.name, source=file.name, reason="missing_text_field",
                         detail=f"no column {config.text_field!r}")
            return
        columns = [c for c in (config.text_field, config.id_field, config.source_field) if c and c in names]
        row = 0
        for batch in parquet.iter_batches(columns=columns, batch_size=1024):
            for record in batch.to_pylist():
                row += 1
                row_id = f"{file.name}:{row}"
                try:
                    if record.get(config.text_field) is None:
                        record.pop(config.text_field)
                    yield _document(record, row_id, file, config)
                except Exception as exc:  # one bad row must never stop the run
                    yield _record_error(row_id, file, exc)


def _read_txt(file: InputFile, config: TextReadConfig) -> Iterator[Document | Reject]:
    with _open(file.path) as handle:
        data = handle.read(config.max_record_bytes + 1)
    if len(data) > config.max_record_bytes:
        yield Reject(id=file.name, source=file.name, reason="record_too_large",
                     detail=f"file longer than {config.max_record_bytes} bytes")
        return
    text = _decode(data, config)
    if text is None:
        yield Reject(id=file.name, source=file.name, reason="invalid_utf8", detail="file is not UTF-8")
        return
    yield Document(id=file.name, source=file.name, text=text)


def read_text_file(file: InputFile, config: TextReadConfig) -> Iterator[Document | Reject]:
    """Every document and reject of one file; I/O and decompression errors become a ``read_error`` reject
    (records yielded before the error stay), an empty file an ``empty_file`` reject."""
    path = file.path
    if path.endswith(JSONL_SUFFIXES):
        reader = _read_jsonl
    elif path.endswith(PARQUET_SUFFIXES):
        reader = _read_parquet
    elif path.endswith(TEXT_SUFFIXES):
        reader = _read_txt
    else:
        yield Reject(id=file.name, source=file.name, reason="unsupported_format", detail=path)
        return
    count = 0
    try:
        for item in reader(file, config):
            count += 1
            yield item
    except _READ_ERRORS as exc:
        count += 1
        yield Reject(id=f"{file.name}#read_error", source=file.name, reason="read_error",
                     detail=f"{type(exc).__name__}: {exc}"[:300])
    if count == 0:
        yield Reject(id=file.name, source=file.name, reason="empty_file", detail="no records")
