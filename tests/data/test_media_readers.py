"""Readers: WebDataset tars (with hostile members), Parquet, media folders and transcript lists."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from trimodal_data.readers.audio_list import plan_audio_list, read_list_entry
from trimodal_data.readers.media_config import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, MediaReaderConfig
from trimodal_data.readers.media_folder import plan_media_folder, read_media_group
from trimodal_data.readers.media_inputs import check_media_inputs, media_units
from trimodal_data.readers.media_parquet import read_media_parquet
from trimodal_data.readers.media_tar import read_media_tar, split_key

DEMO = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data"
CONFIG = MediaReaderConfig()


def _jpeg(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), color).save(buf, format="JPEG")
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _read_tar(path: Path, config: MediaReaderConfig = CONFIG) -> dict[str, str | None]:
    samples = list(read_media_tar(path, source=path.name, media_exts=IMAGE_EXTENSIONS, config=config))
    return {s.example_id: s.reason for s in samples}


def test_split_key() -> None:
    assert split_key("a/b/cat.seg.jpg") == ("a/b/cat", "seg.jpg")
    assert split_key("dog.TXT") == ("dog", "txt")


def test_demo_tars_read_completely() -> None:
    tars = sorted((DEMO / "image_text").glob("*.tar"))
    samples = [s for t in tars for s in read_media_tar(t, source=t.name, media_exts=IMAGE_EXTENSIONS, config=CONFIG)]
    assert len(samples) == 795
    assert all(s.reason is None and s.media_ext == "jpg" and s.text for s in samples)
    assert len({s.example_id for s in samples}) == 795


def test_hostile_tar_members_become_rejects(tmp_path: Path) -> None:
    path = tmp_path / "hostile.tar"
    with tarfile.open(path, "w") as tar:
        _add(tar, "good.jpg", _jpeg())
        _add(tar, "good.txt", b"A red square.")
        _add(tar, "../../etc/evil.jpg", _jpeg())
        _add(tar, "/abs/evil.txt", b"x")
        _add(tar, "link.jpg", kind=tarfile.SYMTYPE, link="/etc/passwd")
        _add(tar, "hard.jpg", kind=tarfile.LNKTYPE, link="good.jpg")
        _add(tar, "nocap.jpg", _jpeg())
        _add(tar, "noimg.txt", b"orphan caption")
        _add(tar, "big.jpg", b"\xff" * 5000)
        _add(tar, "big.txt", b"caption")
        _add(tar, "js.jpg", _jpeg((0, 0, 255)))
        _add(tar, "js.json", json.dumps({"caption": "A blue square."}).encode())
        _add(tar, "badjs.jpg", _jpeg())
        _add(tar, "badjs.json", b"{not json")
    reasons = _read_tar(path, MediaReaderConfig(max_media_bytes=4000))
    assert reasons["hostile.tar/good"] is None
    assert reasons["hostile.tar/js"] is None
    assert sorted(r for k, r in reasons.items() if "#" in k) == [
        "tar_link_member", "tar_link_member", "tar_unsafe_path", "tar_unsafe_path"
    ]
    assert reasons["hostile.tar/nocap"] == "missing_text"
    assert reasons["hostile.tar/noimg"] == "missing_media"
    assert reasons["hostile.tar/big"] == "media_too_large"
    assert reasons["hostile.tar/badjs"] == "bad_text_sidecar"
    assert len(reasons) == 10
    assert not any(".." in k for k in reasons)


def test_truncated_and_garbage_tars(tmp_path: Path) -> None:
    path = tmp_path / "cut.tar"
    with tarfile.open(path, "w") as tar:
        for i in range(3):
            _add(tar, f"k{i}.jpg", _jpeg())
            _add(tar, f"k{i}.txt", b"A red square.")
    with tarfile.open(path) as tar:
        cut = tar.getmember("k1.jpg").offset_data + 10  # inside k1.jpg's data
    path.write_bytes(path.read_bytes()[:cut])
    reasons = _read_tar(path)
    assert reasons == {"cut.tar/k0": None, "cut.tar/k1": "missing_media", "cut.tar/#tar_read_error": "tar_read_error"}
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"definitely not a tar file" * 100)
    assert _read_tar(garbage) == {"garbage.tar/#tar_read_error": "tar_read_error"}
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    assert list(_read_tar(empty).values()) == ["tar_read_error"]


def test_media_folder_accounts_for_every_file(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    (root / "a.jpg").write_bytes(_jpeg())
    (root / "a.txt").write_text("A red square.")
    (root / "sub" / "b.png").write_bytes(_jpeg())
    (root / "sub" / "b.json").write_text(json.dumps({"text": "A square."}))
    (root / "c.jpg").write_bytes(_jpeg())
    (root / "d.txt").write_text("orphan")
    (root / "notes.md").write_text("hello")
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(_jpeg())
    (root / "e.jpg").symlink_to(outside)
    (root / "e.txt").write_text("A link.")
    os.symlink(tmp_path, root / "loop")
    groups = plan_media_folder(root)
    samples = [s for g in groups for s in read_media_group(g, media_exts=IMAGE_EXTENSIONS, config=CONFIG)]
    reasons = {s.example_id: s.reason for s in samples}
    assert reasons == {
        "imgs/a": None,
        "imgs/sub/b": None,
        "imgs/c": "missing_text",
        "imgs/d": "missing_media",
        "imgs/e": "symlink",
        "imgs/notes.md": "unsupported_file",
        "imgs/loop": "unsupported_file",
    }
    text = {s.example_id: s.text for s in samples if s.reason is None}
    assert text == {"imgs/a": "A red square.", "imgs/sub/b": "A square."}
    with pytest.raises(ValueError, match="media folder not found"):
        plan_media_folder(tmp_path / "nope")


def test_parquet_binary_and_hf_struct(tmp_path: Path) -> None:
    path = tmp_path / "pairs.parquet"
    table = pa.table({
        "image": pa.array(
            [{"bytes": _jpeg(), "path": "x"}, {"bytes": None, "path": "y"}, {"bytes": _jpeg(), "path": "z"}]
        ),
        "caption": ["A red square.", "No image.", None],
        "key": ["r0", "r1", "r2"],
    })
    pq.write_table(table, path)
    samples = list(read_media_parquet(path, source="pairs.parquet", config=CONFIG, id_column="key"))
    assert [(s.example_id, s.reason) for s in samples] == [
        ("pairs.parquet/r0", None), ("pairs.parquet/r1", "missing_media"), ("pairs.parquet/r2", "missing_text")
    ]
    flat = tmp_path / "flat.parquet"
    pq.write_table(pa.table({"jpg": [_jpeg()], "text": ["A red square."]}), flat)
    (sample,) = read_media_parquet(flat, source="flat.parquet", config=CONFIG, image_column="jpg")
    assert sample.example_id == "flat.parquet/000000000" and sample.text == "A red square."
    with pytest.raises(ValueError, match="image_column 'nope'"):
        list(read_media_parquet(flat, source="f", config=CONFIG, image_column="nope"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 nope")
    with pytest.raises(ValueError, match="not a readable Parquet"):
        list(read_media_parquet(bad, source="b", config=CONFIG))


def test_demo_transcript_list() -> None:
    entries = plan_audio_list(DEMO / "audio_text" / "transcripts.tsv", config=CONFIG)
    assert len(entries) == 238 and all(not hasattr(e, "reason") for e in entries)
    sample = read_list_entry(entries[0], config=CONFIG)  # type: ignore[arg-type]
    assert sample.reason is None and sample.media_ext == "ogg" and sample.speaker and sample.text


def test_transcript_lists_guard_paths(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "secret.flac").write_bytes(b"fLaC")
    lines = [
        {"path": "a.wav", "transcript": "Hello there.", "speaker": "s1"},
        {"path": "../secret.flac", "text": "Escape."},
        {"path": "missing.flac", "text": "Gone."},
        {"path": "a.txt", "text": "Wrong kind."},
        {"no_path": 1},
    ]
    listing = tmp_path / "data" / "list.jsonl"
    listing.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    planned = plan_audio_list(listing, config=CONFIG)
    samples = [p if hasattr(p, "reason") else read_list_entry(p, config=CONFIG) for p in planned]  # type: ignore[arg-type]
    assert [s.reason for s in samples] == [  # type: ignore[union-attr]
        None, "path_outside_root", "file_not_found", "unsupported_file", "bad_list_line", "bad_list_line"
    ]
    assert samples[0].speaker == "s1"  # type: ignore[union-attr]
    tsv = tmp_path / "data" / "list.tsv"
    tsv.write_text("path\ttranscript\nA.WAV\tx\tspk\textra\na.wav\tHello.\n")
    planned = plan_audio_list(tsv, config=CONFIG)
    assert [getattr(p, "reason", None) for p in planned] == ["bad_list_line", None]
    assert AUDIO_EXTENSIONS[0] == "flac"


def _units(specs: list[str], kind: str) -> list:
    check_media_inputs(specs, kind)  # type: ignore[arg-type]
    return [u for spec in specs for u in media_units(spec, kind=kind, config=CONFIG)]  # type: ignore[arg-type]


def test_media_units_dispatch(tmp_path: Path) -> None:
    from trimodal_data.readers.media_inputs import read_media_unit
    from trimodal_data.records import Reject

    (tmp_path / "shards").mkdir()
    pq.write_table(pa.table({"image": [_jpeg()], "caption": ["A red square."]}), tmp_path / "shards" / "a.parquet")
    with tarfile.open(tmp_path / "shards" / "b.tar", "w") as tar:
        _add(tar, "k.jpg", _jpeg())
        _add(tar, "k.txt", b"A red square.")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "c.png").write_bytes(_jpeg())
    (tmp_path / "folder" / "c.txt").write_text("A red square.")
    units = _units([str(tmp_path / "shards"), str(tmp_path / "folder")], "image")
    assert sorted((u.kind, u.name) for u in units) == [("group", "folder"), ("parquet", "a.parquet"), ("tar", "b.tar")]
    read = [x for u in units for x in read_media_unit(u, kind="image", config=CONFIG)]
    assert sorted(x.example_id for x in read) == ["a.parquet/000000000", "b.tar/k", "folder/c"]
    # Audio: a WebDataset tar of FLAC + transcript, and a list whose bad line becomes a planned reject.
    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(1600, np.float32), 16000, format="FLAC")
    (tmp_path / "audio").mkdir()
    with tarfile.open(tmp_path / "audio" / "speech.tar", "w") as tar:
        _add(tar, "u1.flac", buf.getvalue())
        _add(tar, "u1.json", json.dumps({"transcript": "Hello.", "speaker": "s9"}).encode())
    (tmp_path / "audio" / "list.jsonl").write_text("{broken\n")
    units = _units([str(tmp_path / "audio")], "audio")
    read = [x for u in units for x in read_media_unit(u, kind="audio", config=CONFIG)]
    assert [type(x).__name__ for x in read] == ["Reject", "MediaSample"]
    assert isinstance(read[0], Reject) and read[0].reason == "bad_list_line"
    assert read[1].media_ext == "flac" and read[1].speaker == "s9"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="no such file"):
        check_media_inputs([str(tmp_path / "missing.tar")], "image")
    with pytest.raises(ValueError, match="transcript lists must be local"):
        check_media_inputs(["gs://bucket/list.tsv"], "audio")
    with pytest.raises(ValueError, match="remote folder"):
        check_media_inputs(["gs://bucket/clips/"], "audio")
    with pytest.raises(ValueError, match="no filesystem for this scheme"):
        check_media_inputs(["nosuchfs://bucket/shards/*.tar"], "image")
