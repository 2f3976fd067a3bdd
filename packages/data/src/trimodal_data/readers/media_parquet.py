"""Read image-text pairs from Parquet: a column of encoded image bytes and a caption column.

The image column may be plain ``binary`` or the Hugging Face ``datasets`` image struct
(``{bytes: binary, path: string}``). Rows are read in record batches of the needed columns only, so a
large file never sits in memory whole. The example id is ``<source>/<id column>`` when an id column is
named, else ``<source>/<row index>``. Captions are decoded row by row, so one caption that is not UTF-8 is one
``invalid_utf8`` reject, not a broken file. The file is opened through Beam's ``FileSystems`` (``gs://``, ``s3://``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from trimodal_data.readers.fields import utf8_text
from trimodal_data.readers.media_config import MediaReaderConfig, safe_id
from trimodal_data.records import MediaSample


def _image_bytes(value: object) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        inner = value.get("bytes")
        return inner if isinstance(inner, bytes) else None
    return None


def _column_as_bytes(column: pa.Array) -> pa.Array:
    """A string column viewed as binary (no copy), so invalid UTF-8 surfaces per row, not per batch."""
    if pa.types.is_string(column.type):
        return column.view(pa.binary())
    if pa.types.is_large_string(column.type):
        return column.view(pa.large_binary())
    return column


def _decode_caption(value: bytes | str, config: MediaReaderConfig) -> str | None:
    if isinstance(value, str):
        return utf8_text(value, config.invalid_utf8)
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("utf-8", errors="replace") if config.invalid_utf8 == "replace" else None


def read_media_parquet(
    path: str | Path,
    *,
    source: str,
    config: MediaReaderConfig,
    image_column: str = "image",
    caption_column: str | None = None,
    id_column: str | None = None,
    batch_rows: int = 256,
) -> Iterator[MediaSample]:
    """Yield one :class:`MediaSample` per row of the Parquet file at ``path``.

    Raises:
        ValueError: the file is not Parquet or lacks a named column (a user error about the whole file).
    """
    try:
        parquet = pq.ParquetFile(FileSystems.open(str(path), compression_type=CompressionTypes.UNCOMPRESSED))
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
    names = set(parquet.schema_arrow.names)
    caption = caption_column or next((f for f in config.text_fields if f in names), None)
    for field, column in (("image_column", image_column), ("caption_column", caption), ("id_column", id_column)):
        if field != "id_column" and column is None:
            raise ValueError(f"{path}: no caption column (tried {list(config.text_fields)}); set caption_column")
        if column is not None and column not in names:
            raise ValueError(f"{path}: {field} {column!r} not in columns {sorted(names)}")
    columns = [c for c in (image_column, caption, id_column) if c is not None]
    row = 0
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
        images = batch.column(image_column).to_pylist()
        captions = _column_as_bytes(batch.column(caption)).to_pylist()
        ids = batch.column(id_column).to_pylist() if id_column else [None] * batch.num_rows
        for image, text, raw_id in zip(images, captions, ids, strict=True):
            key = safe_id(str(raw_id)) if raw_id is not None else f"{row:09d}"
            example_id = f"{source}/{key}"
            row += 1
            data = _image_bytes(image)
            if data is None:
                yield MediaSample(example_id=example_id, source=source, reason="missing_media")
            elif len(data) > config.max_media_bytes:
                yield MediaSample(example_id=example_id, source=source, reason="media_too_large",
                                  detail=f"{len(data)} bytes")
            elif not isinstance(text, bytes | str):
                yield MediaSample(example_id=example_id, source=source, reason="missing_text")
            elif len(text) > config.max_text_bytes:
                yield MediaSample(example_id=example_id, source=source, reason="text_too_large")
            elif (caption_text := _decode_caption(text, config)) is None:
                yield MediaSample(example_id=example_id, source=source, reason="invalid_utf8")
            else:
                yield MediaSample(example_id=example_id, source=source, media=data, text=caption_text.strip())
