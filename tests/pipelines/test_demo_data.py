"""The committed demo corpora under ``pipelines/demo_data/`` are present, well formed and within budget.

They are rebuilt by ``pipelines/build_demo_corpora.py`` (which needs Debian packages and gensim); these
tests only read the committed files, plus two checks that its writers are byte-deterministic.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest
import soundfile as sf
from PIL import Image

from pipelines.build_demo_corpora import Doc, write_jsonl_gz, write_tar

DEMO = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data"
MAX_TOTAL_BYTES = 30 * 2**20


def read_docs() -> list[dict[str, str]]:
    shards = sorted((DEMO / "text").glob("docs-*.jsonl.gz"))
    assert shards, f"no text shards in {DEMO / 'text'}"
    docs = []
    for path in shards:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            docs.extend(json.loads(line) for line in fh)
    return docs


def read_pairs() -> dict[str, tuple[bytes, str]]:
    shards = sorted((DEMO / "image_text").glob("pairs-*.tar"))
    assert shards, f"no image-text shards in {DEMO / 'image_text'}"
    pairs: dict[str, dict[str, bytes]] = {}
    for path in shards:
        with tarfile.open(path) as tar:
            members = tar.getmembers()
            names = [m.name for m in members]
            assert names == sorted(names), f"{path}: members not sorted"
            for m in members:
                assert m.isfile() and m.mtime == 0 and m.uid == 0 and m.gid == 0, f"{path}: {m.name}"
                key, ext = m.name.split(".", 1)
                assert key not in pairs or ext not in pairs[key], f"{path}: {m.name} repeated"
                pairs.setdefault(key, {})[ext] = tar.extractfile(m).read()  # type: ignore[union-attr]
    for key, files in pairs.items():
        assert set(files) == {"jpg", "txt"}, f"pair {key} has {sorted(files)}"
    return {key: (files["jpg"], files["txt"].decode("utf-8")) for key, files in pairs.items()}


def read_transcripts() -> list[dict[str, str]]:
    with (DEMO / "audio_text" / "transcripts.tsv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def original_id(planted_id: str) -> str:
    return planted_id.split("-of-", 1)[1]


def test_text_docs_have_three_string_fields_and_unique_ids() -> None:
    docs = read_docs()
    for doc in docs:
        assert set(doc) == {"id", "text", "source"}, doc.get("id")
        assert all(isinstance(v, str) and v.strip() for v in doc.values()), doc["id"]
    ids = [d["id"] for d in docs]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1][:5]
    sources = Counter(d["source"] for d in docs)
    assert sources["enwiki"] == 106 and sources["kjv"] == 1189 and sources["lee-abc-news"] == 300
    assert {"lowq-bullet-list", "lowq-very-short", "lowq-non-english-de", "lowq-non-english-fr"} <= set(sources)


def test_text_planted_duplicates_match_their_originals() -> None:
    docs = read_docs()
    by_id = {d["id"]: d for d in docs}
    near = [d for d in docs if d["source"] == "planted-near-dup"]
    exact = [d for d in docs if d["source"] == "planted-exact-dup"]
    assert near and exact
    assert 0.03 <= (len(near) + len(exact)) / len(docs) <= 0.05
    for doc in exact:
        assert doc["text"] == by_id[original_id(doc["id"])]["text"], doc["id"]
    for doc in near:
        original = by_id[original_id(doc["id"])]["text"]
        assert doc["text"] != original, doc["id"]
        words, original_words = Counter(doc["text"].split()), Counter(original.split())
        changed = sum(((words - original_words) + (original_words - words)).values())
        assert changed <= 12, (doc["id"], changed)


def test_image_text_pairs_open_and_have_captions() -> None:
    pairs = read_pairs()
    assert len(pairs) > 700
    for key, (jpeg, caption) in pairs.items():
        assert caption.strip(), key
        with Image.open(io.BytesIO(jpeg)) as im:
            im.load()
            assert im.format == "JPEG" and im.mode == "RGB", key
            expected = (96, 96) if "-resized-96-" in key else (128, 128)
            assert im.size == expected, (key, im.size)
    planted = [k for k in pairs if k.startswith("planted-dup-")]
    assert len(planted) >= 5
    for key in planted:
        assert pairs[key][1] == pairs[original_id(key)][1], key
        if "-exact-of-" in key:
            assert pairs[key][0] == pairs[original_id(key)][0], key


def test_audio_clips_are_16k_mono_with_transcripts() -> None:
    rows = read_transcripts()
    clips_dir = DEMO / "audio_text" / "clips"
    assert 150 <= len(rows) <= 260
    assert sorted(f"clips/{p.name}" for p in clips_dir.glob("*.ogg")) == sorted(r["path"] for r in rows)
    for row in rows:
        path = DEMO / "audio_text" / row["path"]
        info = sf.info(str(path))
        assert (info.samplerate, info.channels) == (16000, 1), row["path"]
        assert 2.5 <= info.duration <= 9.0, (row["path"], info.duration)
        assert row["transcript"].strip() and row["speaker"].startswith("flite-"), row["path"]
        assert path.with_suffix(".txt").read_text(encoding="utf-8") == row["transcript"], row["path"]
    by_path = {r["path"]: r for r in rows}
    planted = [r for r in rows if Path(r["path"]).name.startswith("planted-dup-")]
    assert len(planted) >= 5
    for row in planted:
        original = by_path[f"clips/{original_id(Path(row['path']).name)}"]
        assert row["transcript"] == original["transcript"], row["path"]
        if "-exact-of-" in row["path"]:
            assert (DEMO / "audio_text" / row["path"]).read_bytes() == (
                DEMO / "audio_text" / original["path"]
            ).read_bytes()


def test_licenses_present_and_total_size_within_budget() -> None:
    licenses = (DEMO / "LICENSES.md").read_text(encoding="utf-8")
    for needle in ("CC BY-SA", "public domain", "GPL-2", "flite", "build_demo_corpora.py"):
        assert needle.lower() in licenses.lower(), needle
    total = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    assert 0 < total <= MAX_TOTAL_BYTES, total


@pytest.mark.parametrize("run", ["jsonl", "tar"])
def test_writers_are_byte_deterministic(run: str, tmp_path: Path) -> None:
    outputs = []
    for i in range(2):
        path = tmp_path / f"{i}.{run}"
        if run == "jsonl":
            write_jsonl_gz(path, [Doc("b", "Grüße", "x"), Doc("a", "text", "y")])
        else:
            write_tar(path, {"k2.txt": b"two", "k1.jpg": b"\xff\xd8", "k1.txt": b"one"})
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    if run == "jsonl":
        lines = gzip.decompress(outputs[0]).decode("utf-8").splitlines()
        assert [json.loads(x)["id"] for x in lines] == ["b", "a"]
    else:
        with tarfile.open(tmp_path / "0.tar") as tar:
            assert tar.getnames() == ["k1.jpg", "k1.txt", "k2.txt"]
