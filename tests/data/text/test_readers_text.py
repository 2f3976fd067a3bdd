"""Text readers: every supported format, every kind of broken input as a reject, stable ids, input listing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from trimodal_data.readers.files import InputFile, list_input_files
from trimodal_data.readers.text import SUPPORTED_SUFFIXES, TextReadConfig, read_text_file
from trimodal_data.records import Document, Reject

TEXT = "The quick brown fox jumps over the lazy dog."


def _read(path: Path, name: str | None = None, **config) -> list[Document | Reject]:
    return list(read_text_file(InputFile(path=str(path), name=name or path.name), TextReadConfig(**config)))


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def test_jsonl_plain_gzip_zstd_give_the_same_documents(tmp_path: Path) -> None:
    records = [{"id": "a", "text": TEXT, "source": "s"}, {"text": "no id here"}]
    (tmp_path / "x.jsonl").write_bytes(_jsonl(records))
    (tmp_path / "x.jsonl.gz").write_bytes(gzip.compress(_jsonl(records)))
    (tmp_path / "x.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(_jsonl(records)))
    outputs = [_read(tmp_path / f"x.{suffix}", name="x") for suffix in ("jsonl", "jsonl.gz", "jsonl.zst")]
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0] == [Document(id="a", source="s", text=TEXT), Document(id="x:2", source="x", text="no id here")]
    ids = _read(tmp_path / "x.jsonl", name="x", id_field=None)
    assert [d.id for d in ids] == ["x:1", "x:2"]


def test_broken_jsonl_lines_become_rejects(tmp_path: Path) -> None:
    lines = [
        b"{not json",
        b"[1, 2]",
        json.dumps({"id": "m", "body": TEXT}).encode(),
        json.dumps({"id": "n", "text": None}).encode(),
        b'{"id": "u", "text": "caf\xe9"}',
        json.dumps({"id": "big", "text": "x" * 5000}).encode(),
        b"   ",
        json.dumps({"id": "ok", "text": TEXT}).encode(),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = _read(path, max_record_bytes=1000)
    reasons = [(o.id, o.reason) if isinstance(o, Reject) else (o.id, "doc") for o in out]
    assert reasons == [
        ("bad.jsonl:1", "invalid_json"),
        ("bad.jsonl:2", "invalid_json"),
        ("m", "missing_text_field"),
        ("n", "bad_text_field"),
        ("bad.jsonl:5", "invalid_utf8"),
        ("bad.jsonl:6", "record_too_large"),
        ("ok", "doc"),
    ]
    replaced = _read(path, max_record_bytes=1000, invalid_utf8="replace")
    assert Document(id="u", source="bad.jsonl", text="caf\ufffd") in replaced


def test_empty_and_corrupt_files(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl.gz").write_bytes(gzip.compress(b""))
    assert [(r.reason, r.id) for r in _read(tmp_path / "empty.jsonl.gz")] == [("empty_file", "empty.jsonl.gz")]
    (tmp_path / "garbage.jsonl.gz").write_bytes(b"this is not gzip at all")
    (only,) = _read(tmp_path / "garbage.jsonl.gz")
    assert only.reason == "read_error" and "gzip" in only.detail.lower()
    payload = gzip.compress(_jsonl([{"id": str(i), "text": TEXT * 50} for i in range(50)]))
    (tmp_path / "cut.jsonl.gz").write_bytes(payload[: len(payload) // 2])
    out = _read(tmp_path / "cut.jsonl.gz")
    assert all(isinstance(o, Document) for o in out[:-1]) and len(out) > 1
    assert out[-1].reason == "read_error"
    (tmp_path / "bad.jsonl.zst").write_bytes(b"\x28\xb5\x2f\xfd garbage")
    assert _read(tmp_path / "bad.jsonl.zst")[-1].reason == "read_error"
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 nope")
    assert _read(tmp_path / "bad.parquet")[-1].reason == "read_error"


def test_parquet_and_txt(tmp_path: Path) -> None:
    pq.write_table(pa.table({"body": [TEXT, None], "src": ["web", "web"]}), tmp_path / "t.parquet")
    out = _read(tmp_path / "t.parquet", text_field="body", source_field="src")
    assert out[0] == Document(id="t.parquet:1", source="web", text=TEXT)
    assert out[1].reason == "missing_text_field"
    assert _read(tmp_path / "t.parquet")[0].reason == "missing_text_field"  # no "text" column at all
    (tmp_path / "a.txt").write_text(TEXT)
    assert _read(tmp_path / "a.txt", name="dir/a.txt") == [Document(id="dir/a.txt", source="dir/a.txt", text=TEXT)]
    (tmp_path / "big.txt").write_text("y" * 2000)
    assert _read(tmp_path / "big.txt", max_record_bytes=1000)[0].reason == "record_too_large"
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    assert _read(tmp_path / "latin1.txt")[0].reason == "invalid_utf8"


def test_list_input_files(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/a.jsonl", "d/sub/b.jsonl.gz", "d/skip.csv", "d/.hidden.jsonl", "c.txt"):
        (tmp_path / name).write_text("")
    files = list_input_files([str(tmp_path / "d"), str(tmp_path / "c.txt")], SUPPORTED_SUFFIXES)
    assert [f.name for f in files] == ["a.jsonl", "c.txt", "sub/b.jsonl.gz"]
    globbed = list_input_files([str(tmp_path / "d" / "**" / "*.jsonl*")], SUPPORTED_SUFFIXES)
    assert [f.name for f in globbed] == ["a.jsonl", "sub/b.jsonl.gz"]
    with pytest.raises(ValueError, match="no such file"):
        list_input_files([str(tmp_path / "missing")], SUPPORTED_SUFFIXES)
    with pytest.raises(ValueError, match="same name"):
        (tmp_path / "e").mkdir()
        (tmp_path / "e" / "a.jsonl").write_text("")
        list_input_files([str(tmp_path / "d"), str(tmp_path / "e")], SUPPORTED_SUFFIXES)
