"""Property-based fuzzing (hypothesis) of every reader and of the shard-bucket writer: arbitrary bytes and
records never raise, and every record is accounted for (one output per record read; kept + rejected == read).

The strategies mix arbitrary bytes with near-valid input (JSON objects with odd types, lone surrogates,
deep nesting, over-long integers, hostile tar member names), because purely random bytes rarely get past
the first parser. Examples are few (``max_examples``) so the module runs in seconds.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trimodal_core import Modality, ShardReader, ShardRecord, ShardWriterConfig
from trimodal_data.readers.audio_list import ListEntry, plan_audio_list, read_list_entry
from trimodal_data.readers.files import InputFile
from trimodal_data.readers.media_config import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, MediaReaderConfig
from trimodal_data.readers.media_parquet import read_media_parquet
from trimodal_data.readers.media_tar import read_media_tar, unsafe_name_reason
from trimodal_data.readers.text import TextReadConfig, read_text_file
from trimodal_data.records import Document, MediaSample, Reject
from trimodal_data.writers.rejects_file import rejects_to_bytes
from trimodal_data.writers.shard_bucket import order_bucket, write_bucket

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
CONFIG = TextReadConfig(max_record_bytes=4096)

# Strings as JSON can carry them: any code point, lone surrogates included.
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)
JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), ANY_TEXT)
JSON_VALUE = st.recursive(JSON_SCALAR, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.sampled_from(["id", "text", "source", "x"]), inner, max_size=3),
                          max_leaves=8)
RECORD = st.fixed_dictionaries({}, optional={"id": JSON_VALUE, "text": JSON_VALUE, "source": JSON_VALUE,
                                             "caption": JSON_VALUE, "speaker": JSON_VALUE, "path": JSON_VALUE})


def _line(kind: str, record: dict, raw: bytes, depth: int) -> bytes:
    if kind == "record":
        return json.dumps(record, ensure_ascii=True).encode()  # ensure_ascii keeps lone surrogates as \\udXXX
    if kind == "deep":
        return b"[" * depth + b"]" * depth
    if kind == "bigint":
        return b'{"id": ' + b"9" * 5000 + b', "text": "x"}'
    return raw.replace(b"\n", b" ")


LINE = st.builds(_line, st.sampled_from(["record", "record", "deep", "bigint", "raw"]), RECORD,
                 st.binary(max_size=64), st.integers(10, 100_000))


def _check_strings(*values: str) -> None:
    for value in values:
        assert isinstance(value, str)
        value.encode("utf-8")  # would raise on a lone surrogate


def _check_text_outputs(items: list) -> None:
    for item in items:
        assert isinstance(item, Document | Reject)
        _check_strings(item.id, item.source)
        if isinstance(item, Document):
            _check_strings(item.text)
        else:
            assert item.reason


@FUZZ
@given(lines=st.lists(LINE, max_size=12), newline=st.sampled_from([b"\n", b"\r\n"]))
def test_jsonl_reader_accounts_for_every_line(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes],
                                              newline: bytes) -> None:
    path = tmp_path_factory.mktemp("jsonl") / "in.jsonl"
    path.write_bytes(newline.join(lines))
    items = list(read_text_file(InputFile(path=str(path), name="in.jsonl"), CONFIG))
    _check_text_outputs(items)
    records = sum(1 for line in lines if line.strip())
    assert len(items) == max(records, 1)  # one output per non-blank line; an empty file is one reject


@FUZZ
@given(data=st.binary(max_size=3000), cut=st.integers(0, 3000), suffix=st.sampled_from([".jsonl.gz", ".jsonl.zst",
                                                                                           ".txt", ".parquet"]))
def test_any_bytes_under_any_suffix_never_raise(tmp_path_factory: pytest.TempPathFactory, data: bytes, cut: int,
                                                suffix: str) -> None:
    """Random bytes, and truncated real gzip, as every format: rejects only, never an exception."""
    if suffix == ".jsonl.gz" and cut % 2:
        data = gzip.compress(b'{"id": "a", "text": "hello"}\n' * 20 + data, mtime=0)[:cut]
    path = tmp_path_factory.mktemp("bytes") / f"in{suffix}"
    path.write_bytes(data)
    items = list(read_text_file(InputFile(path=str(path), name=path.name), CONFIG))
    _check_text_outputs(items)
    assert items


@FUZZ
@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=8), st.integers()),
                               st.one_of(st.none(), st.text(max_size=20), st.binary(max_size=8)),
                               st.one_of(st.none(), st.text(max_size=8))), max_size=10),
       text_as=st.sampled_from(["string", "binary", "int"]))
def test_parquet_reader_accounts_for_every_row(tmp_path_factory: pytest.TempPathFactory, rows: list, text_as: str
                                               ) -> None:
    ids = pa.array([r[0] if not isinstance(r[0], int) else str(r[0]) for r in rows], pa.string())
    if text_as == "string":
        texts = pa.array([r[1] if isinstance(r[1], str) else None for r in rows], pa.string())
    elif text_as == "binary":
        texts = pa.array([r[1] if isinstance(r[1], bytes) else None for r in rows], pa.binary())
    else:
        texts = pa.array([len(r) for r in rows], pa.int64())
    path = tmp_path_factory.mktemp("parquet") / "in.parquet"
    pq.write_table(pa.table({"id": ids, "text": texts, "source": pa.array([r[2] for r in rows], pa.string())}), path)
    items = list(read_text_file(InputFile(path=str(path), name="in.parquet"), CONFIG))
    _check_text_outputs(items)
    assert len(items) == max(len(rows), 1)


MEMBER_NAME = st.one_of(
    st.sampled_from(["a.jpg", "a.txt", "a.json", "a.flac", "b.png", "b.txt", "../x.jpg", "/abs.jpg", "d/c.jpg",
                     "d/c.txt", "c\\d.jpg", "e.JPG", "e.TXT"]),
    st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), min_size=1, max_size=10),
)
MEMBER = st.tuples(MEMBER_NAME, st.binary(max_size=40), st.sampled_from([tarfile.REGTYPE] * 4 + [tarfile.SYMTYPE,
                                                                                                  tarfile.DIRTYPE]))


def _tar(members: list[tuple[str, bytes, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buf.getvalue()


def _check_samples(samples: list) -> None:
    for sample in samples:
        assert isinstance(sample, MediaSample)
        assert (sample.reason is None) == bool(sample.media) or sample.reason is not None
        _check_strings(sample.example_id, sample.source)
        if sample.reason is None:
            assert sample.text is not None
            _check_strings(sample.text)
        rejects_to_bytes([sample.to_reject()] if sample.reason else [], "parquet")  # reject files always write


@FUZZ
@given(members=st.lists(MEMBER, max_size=12), cut=st.one_of(st.none(), st.integers(0, 4000)),
       kind=st.sampled_from(["image", "audio"]))
def test_tar_reader_never_raises_and_accounts_for_members(tmp_path_factory: pytest.TempPathFactory, members: list,
                                                          cut: int | None, kind: str) -> None:
    data = _tar(members)
    path = tmp_path_factory.mktemp("tar") / "in.tar"
    path.write_bytes(data if cut is None else data[:cut])
    exts = IMAGE_EXTENSIONS if kind == "image" else AUDIO_EXTENSIONS
    samples = list(read_media_tar(path, source="in.tar", media_exts=exts, config=MediaReaderConfig(
        max_members_per_key=3)))
    _check_samples(samples)
    if cut is None:
        # Every member but a plain directory ends up in exactly one output: its key's sample, or its own reject.
        files = [m for m in members if m[2] != tarfile.DIRTYPE or unsafe_name_reason(m[0])]
        assert bool(samples) == bool(files)
        assert len(samples) <= len(files)


@FUZZ
@given(lines=st.lists(st.one_of(
    st.builds(lambda p, t, s: f"{p}\t{t}\t{s}".replace("\n", " ").replace("\r", " ").encode("utf-8", "surrogatepass"),
              st.sampled_from(["a.flac", "../b.wav", "c.txt", "d.ogg", "/etc/passwd", "x\x00.wav"]), ANY_TEXT,
              ANY_TEXT),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" ")),
), max_size=10))
def test_tsv_list_accounts_for_every_line(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]) -> None:
    root = tmp_path_factory.mktemp("list")
    (root / "a.flac").write_bytes(b"fLaC not really")
    listing = root / "list.tsv"
    data = b"\n".join(lines)
    listing.write_bytes(data)
    planned = plan_audio_list(listing, config=MediaReaderConfig())
    expected = [line for number, line in enumerate(data.splitlines(), 1)
                if line.strip() and not (number == 1 and line.split(b"\t")[0] == b"path")]
    assert len(planned) == len(expected)
    for item in planned:
        sample = read_list_entry(item, config=MediaReaderConfig()) if isinstance(item, ListEntry) else item
        _check_samples([sample])


@FUZZ
@given(records=st.lists(RECORD, max_size=10))
def test_jsonl_list_and_json_sidecar_fields_are_validated(tmp_path_factory: pytest.TempPathFactory,
                                                          records: list[dict]) -> None:
    root = tmp_path_factory.mktemp("jsonl_list")
    listing = root / "list.jsonl"
    listing.write_bytes(b"\n".join(json.dumps(r).encode() for r in records) + b"\n" + b"[" * 200_000)
    planned = plan_audio_list(listing, config=MediaReaderConfig())
    assert len(planned) == len(records) + 1
    for item in planned:
        sample = read_list_entry(item, config=MediaReaderConfig()) if isinstance(item, ListEntry) else item
        _check_samples([sample])
    # The same objects as JSON sidecars in a tar.
    members = [(f"k{i}.json", json.dumps(r).encode(), tarfile.REGTYPE) for i, r in enumerate(records)]
    members += [(f"k{i}.jpg", b"\xff\xd8", tarfile.REGTYPE) for i in range(len(records))]
    path = root / "side.tar"
    path.write_bytes(_tar(sorted(members)))
    _check_samples(list(read_media_tar(path, source="side.tar", media_exts=IMAGE_EXTENSIONS,
                                       config=MediaReaderConfig())))


def test_media_parquet_caption_that_is_not_utf8_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "pairs.parquet"
    table = pa.table({"image": pa.array([b"\xff\xd8a", b"\xff\xd8b"]),
                      "caption": pa.array([b"fine caption", b"bad \xff caption"]).view(pa.string())})
    pq.write_table(table, path)
    samples = list(read_media_parquet(path, source="pairs.parquet", config=MediaReaderConfig()))
    assert [s.reason for s in samples] == [None, "invalid_utf8"]


ID = st.one_of(st.sampled_from(["a", "b", "c"]), ANY_TEXT)
SHARD_RECORD = st.builds(
    lambda i, s, n, seed: ShardRecord(example_id=i, source=s, task="text",
                                      tokens=np.random.default_rng(seed).integers(0, 1000, n),
                                      modality=np.full(n, int(Modality.TEXT), np.uint8)),
    ID, st.sampled_from(["x", "y", "\udcff"]), st.integers(0, 20), st.integers(0, 3))


@FUZZ
@given(records=st.lists(SHARD_RECORD, max_size=12), seed=st.integers(0, 1000))
def test_shard_bucket_writer_accounts_for_every_record(tmp_path_factory: pytest.TempPathFactory,
                                                       records: list[ShardRecord], seed: int) -> None:
    """Any records: kept + rejected == given, one row per distinct valid id, and the same bytes whatever the
    order the records arrive in."""
    kept, rejects = order_bucket(records)
    assert len(kept) + len(rejects) == len(records)
    assert len({r.example_id for r in kept}) == len(kept)
    assert {r.reason for r in rejects} <= {"duplicate_id", "invalid_utf8"}
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    again, again_rejects = order_bucket(shuffled)
    assert [r.example_id for r in again] == [r.example_id for r in kept]
    assert sorted(again_rejects, key=repr) == sorted(rejects, key=repr)
    out = tmp_path_factory.mktemp("shards")
    infos = write_bucket(kept, out / "a", prefix="t", fingerprint="f" * 16, config=ShardWriterConfig())
    infos_again = write_bucket(again, out / "b", prefix="t", fingerprint="f" * 16, config=ShardWriterConfig())
    assert [i.sha256 for i in infos] == [i.sha256 for i in infos_again]
    rows = 0
    for info in infos:
        with ShardReader(out / "a" / info.path) as reader:
            rows += reader.table().num_rows
    assert rows == len(kept)
    rejects_to_bytes(rejects, "parquet")
    rejects_to_bytes(rejects, "jsonl")
