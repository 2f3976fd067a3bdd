"""Rebuild the small real demo corpora committed under ``pipelines/demo_data/``.

Three corpora come out, all from sources that are on the machine once a few Debian packages are installed
(no network, no hub downloads), with planted duplicates and real low-quality records so that the filter
and dedupe stages have real work:

* ``text/docs-NNN.jsonl.gz``: 106 Wikipedia articles and 300 ABC news documents from gensim's test data,
  the King James Bible one document per chapter, ~4% planted near-duplicates and exact duplicates, and a
  handful of real low-quality records (bullet lists, very short docs, wiki redirects, German/French text).
* ``image_text/pairs-NNN.tar``: Tux Paint stamp photos on a plain light background (128x128 JPEG) with
  their English captions, WebDataset layout, plus planted duplicates (re-encoded, resized, exact copies).
* ``audio_text/clips/*.ogg`` + ``*.txt`` + ``transcripts.tsv``: flite speech (four voices) of KJV verses
  and Tux Paint captions, 16 kHz mono Ogg Vorbis, plus planted duplicates (gain change, padding, copies).

The output is byte-identical between runs on the same machine image (gzip mtime 0, sorted tar members with
zeroed metadata, ``sox -D -R`` so no dither and a fixed Ogg serial number). JPEG and Vorbis bytes depend
on the Pillow/libjpeg and libvorbis builds, so another machine may give other bytes, not other content.

This is a script, not library code: nothing under ``packages/`` may import it. Run from the repo root::

    apt-get install -y bible-kjv flite sox libsox-fmt-all tuxpaint-stamps-default vim-runtime
    uv run --with gensim python pipelines/build_demo_corpora.py --out pipelines/demo_data
"""

from __future__ import annotations

import argparse
import bz2
import concurrent.futures
import glob
import gzip
import io
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

log = logging.getLogger("build_demo_corpora")

APT_PACKAGES = ("bible-kjv", "flite", "sox", "libsox-fmt-all", "tuxpaint-stamps-default", "vim-runtime")
STAMPS_DIR = Path("/usr/share/tuxpaint/stamps")
TUTOR_GLOB = "/usr/share/vim/vim*/tutor/tutor.{lang}.utf-8"
WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
LEE_CORPUS = "lee_background.cor"
FLITE_VOICES = ("slt", "kal16", "rms", "awb")
IMAGE_SIZE = 128
IMAGE_BACKGROUND = (246, 244, 238)
JPEG_QUALITY = 90
AUDIO_RATE = 16000
# Plain words and light punctuation only, so transcripts match what flite actually says.
SPEAKABLE = re.compile(r"^[A-Z][A-Za-z ,.;:'!?-]*[.!?]$")


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """What to build and how much of it."""

    out: Path
    seed: int = 0
    num_text_shards: int = 4
    num_image_shards: int = 4
    near_dups_per_source: tuple[tuple[str, int], ...] = (("kjv", 20), ("lee-abc-news", 16), ("enwiki", 12))
    exact_dups_per_source: tuple[tuple[str, int], ...] = (("kjv", 8), ("lee-abc-news", 6), ("enwiki", 5))
    num_image_dups: int = 10
    num_kjv_clips: int = 185
    num_caption_clips: int = 45
    min_clip_s: float = 3.0
    max_clip_s: float = 8.0
    num_workers: int = 8


@dataclass(frozen=True)
class Doc:
    id: str
    text: str
    source: str


# --------------------------------------------------------------------------------------------- checks


def check_prerequisites() -> None:
    """Fail with the exact ``apt-get``/``uv`` command when a needed package or command is missing."""
    problems: list[str] = []
    for command, package in (("bible", "bible-kjv"), ("flite", "flite"), ("sox", "sox")):
        if shutil.which(command) is None:
            problems.append(f"command `{command}` not found (Debian package {package})")
    if not STAMPS_DIR.is_dir():
        problems.append(f"{STAMPS_DIR} missing (Debian package tuxpaint-stamps-default)")
    if shutil.which("sox") is not None:
        help_text = subprocess.run(["sox", "-h"], capture_output=True, text=True, check=False).stdout
        if "vorbis" not in help_text:
            problems.append("sox cannot write Ogg Vorbis (Debian package libsox-fmt-all)")
    if shutil.which("flite") is not None:
        voices = subprocess.run(["flite", "-lv"], capture_output=True, text=True, check=False).stdout.split()
        missing = [v for v in FLITE_VOICES if v not in voices]
        if missing:
            problems.append(f"flite lacks voices {missing} (Debian package flite 2.x)")
    try:
        import gensim  # noqa: F401
    except ImportError:
        problems.append("Python package gensim missing: run with `uv run --with gensim python ...`")
    if problems:
        raise SystemExit(
            "build_demo_corpora: missing prerequisites:\n  - "
            + "\n  - ".join(problems)
            + f"\nInstall with: apt-get update && apt-get install -y {' '.join(APT_PACKAGES)}"
        )


# ----------------------------------------------------------------------------------- deterministic IO


def write_jsonl_gz(path: Path, records: Iterable[Doc]) -> None:
    """Write gzip JSONL with no timestamp or file name in the gzip header (byte-identical reruns)."""
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for doc in records:
            line = json.dumps({"id": doc.id, "text": doc.text, "source": doc.source}, ensure_ascii=False)
            gz.write(line.encode("utf-8") + b"\n")


def write_tar(path: Path, members: dict[str, bytes]) -> None:
    """Write a tar whose members are sorted by name with zeroed mtime/uid/gid/owner names."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(members[name]))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def shard(items: Sequence[str], num_shards: int, rng: random.Random) -> list[list[str]]:
    """Spread items over shards in a seeded random order, so planted copies land away from originals."""
    order = list(items)
    rng.shuffle(order)
    return [sorted(order[i::num_shards]) for i in range(num_shards)]


# ---------------------------------------------------------------------------------------------- text


def read_wikipedia() -> tuple[list[Doc], list[Doc]]:
    """Return (articles, redirect pages) from the Wikipedia extract that ships in gensim's wheel."""
    import gensim
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    dump = Path(gensim.__file__).parent / "test" / "test_data" / WIKI_DUMP
    articles: list[Doc] = []
    redirects: list[Doc] = []
    with bz2.open(dump) as fh:
        for _title, markup, pageid in extract_pages(fh):
            text = re.sub(r"\n{3,}", "\n\n", filter_wiki(markup)).strip()
            if text.lower().startswith("#redirect"):
                redirects.append(Doc(f"enwiki-{pageid}", text, "lowq-wiki-redirect"))
            elif text:
                articles.append(Doc(f"enwiki-{pageid}", text, "enwiki"))
    if len(articles) != 106:
        raise ValueError(f"{dump}: expected 106 articles, found {len(articles)}")
    return articles, redirects


def read_lee() -> list[Doc]:
    import gensim

    path = Path(gensim.__file__).parent / "test" / "test_data" / LEE_CORPUS
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Doc(f"lee-{i:03d}", line, "lee-abc-news") for i, line in enumerate(lines)]


def read_kjv_verses() -> list[tuple[str, int, int, str]]:
    """Return (book, chapter, verse, text) for all 31,102 verses printed by ``bible``."""
    out = subprocess.run(
        ["bible", "gen1:1-rev22:21"], capture_output=True, text=True, check=True, encoding="utf-8"
    ).stdout
    verses: list[tuple[str, int, int, str]] = []
    book, chapter, prev_blank = "", 0, True
    for line in out.splitlines():
        header = re.fullmatch(r"(\S.*) (\d+)", line)
        verse = re.match(r"\s+(\d+) (.*)", line)
        if prev_blank and header:
            book, chapter = header.group(1), int(header.group(2))
        elif verse:
            verses.append((book, chapter, int(verse.group(1)), verse.group(2).strip()))
        elif line.strip():
            b, c, v, text = verses[-1]
            verses[-1] = (b, c, v, f"{text} {line.strip()}")
        prev_blank = not line.strip()
    if len(verses) != 31102:
        raise ValueError(f"`bible gen1:1-rev22:21`: expected 31102 verses, parsed {len(verses)}")
    return verses


def kjv_chapters(verses: Sequence[tuple[str, int, int, str]]) -> list[Doc]:
    chapters: dict[tuple[str, int], list[str]] = {}
    for book, chapter, _verse, text in verses:
        chapters.setdefault((book, chapter), []).append(text)
    return [Doc(f"kjv-{slug(b)}-{c:03d}", " ".join(t), "kjv") for (b, c), t in chapters.items()]


def bullet_list_docs(articles: Sequence[Doc], num: int) -> list[Doc]:
    """The longest runs of short bullet lines in the articles (filmographies, taxonomies): real list pages."""
    runs: list[tuple[int, str, list[str]]] = []
    for doc in articles:
        current: list[str] = []
        for line in [*doc.text.split("\n"), ""]:
            if line.startswith("*"):
                current.append(line)
                continue
            substantive = [x for x in current if len(x.strip("* ")) > 3]
            short_lines = bool(current) and sum(map(len, current)) / len(current) < 60
            if len(current) >= 20 and len(substantive) >= 0.9 * len(current) and short_lines:
                runs.append((len(current), doc.id, current))
            current = []
    runs.sort(key=lambda r: (-r[0], r[1]))
    return [
        Doc(f"lowq-bullet-list-of-{doc_id}", "\n".join(lines), "lowq-bullet-list") for _n, doc_id, lines in runs[:num]
    ]


def tutor_docs() -> list[Doc]:
    docs = []
    for lang in ("de", "fr"):
        paths = sorted(glob.glob(TUTOR_GLOB.format(lang=lang)))
        if not paths:
            log.warning("vim tutor for %r not found (Debian package vim-runtime); skipping it", lang)
            continue
        text = Path(paths[-1]).read_text(encoding="utf-8").strip()
        docs.append(Doc(f"lowq-vimtutor-{lang}", text, f"lowq-non-english-{lang}"))
    return docs


def near_duplicate(text: str, rng: random.Random) -> str:
    """Edit 2-5 words (replace, delete or repeat), keeping all other characters as they were."""
    words = list(re.finditer(r"\S+", text))
    vocab = sorted({m.group(0) for m in words})
    num_edits = min(len(words) - 1, rng.randint(2, 5))
    positions = sorted(rng.sample(range(len(words)), num_edits), reverse=True)
    for pos in positions:
        m = words[pos]
        op = rng.choice(("replace", "delete", "repeat"))
        if op == "replace":
            new = rng.choice(vocab)
            new = new if new != m.group(0) else new + "s"
        elif op == "delete":
            new = ""
        else:
            new = f"{m.group(0)} {m.group(0)}"
        text = text[: m.start()] + new + text[m.end() :]
    return text


def plant_text_dups(docs: Sequence[Doc], config: BuildConfig, rng: random.Random) -> list[Doc]:
    by_source: dict[str, list[Doc]] = {}
    for doc in docs:
        by_source.setdefault(doc.source, []).append(doc)
    planted: list[Doc] = []
    near = dict(config.near_dups_per_source)
    exact = dict(config.exact_dups_per_source)
    for source in sorted(set(near) | set(exact)):
        pool = by_source[source]
        picks = rng.sample(pool, near.get(source, 0) + exact.get(source, 0))
        for doc in picks[: near.get(source, 0)]:
            text = near_duplicate(doc.text, rng)
            assert text != doc.text, doc.id
            planted.append(Doc(f"planted-near-dup-{len(planted):03d}-of-{doc.id}", text, "planted-near-dup"))
        for doc in picks[near.get(source, 0) :]:
            planted.append(Doc(f"planted-exact-dup-{len(planted):03d}-of-{doc.id}", doc.text, "planted-exact-dup"))
    return planted


def build_text(config: BuildConfig, verses: Sequence[tuple[str, int, int, str]]) -> dict[str, int]:
    rng = random.Random(f"{config.seed}-text")
    articles, redirects = read_wikipedia()
    lee = read_lee()
    kjv = kjv_chapters(verses)
    base = [*articles, *kjv, *lee]
    verse_text = {(b, c, v): t for b, c, v, t in verses}
    lowq = [
        *bullet_list_docs(articles, 2),
        *sorted(redirects, key=lambda d: d.id)[:3],
        Doc("lowq-short-kjv-john-011-035", verse_text[("John", 11, 35)], "lowq-very-short"),
        Doc("lowq-short-kjv-luke-017-032", verse_text[("Luke", 17, 32)], "lowq-very-short"),
        *tutor_docs(),
    ]
    planted = plant_text_dups(base, config, rng)
    docs = {d.id: d for d in [*base, *lowq, *planted]}
    if len(docs) != len(base) + len(lowq) + len(planted):
        raise ValueError("text corpus: duplicate document ids")
    out = config.out / "text"
    for i, ids in enumerate(shard(sorted(docs), config.num_text_shards, rng)):
        write_jsonl_gz(out / f"docs-{i:03d}.jsonl.gz", (docs[x] for x in ids))
    counts: dict[str, int] = {}
    for doc in docs.values():
        counts[doc.source] = counts.get(doc.source, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------- image-text


def stamp_key(png: Path) -> str:
    rel = png.relative_to(STAMPS_DIR).with_suffix("")
    return "tuxpaint-" + "-".join(re.sub(r"[^A-Za-z0-9_]+", "_", part) for part in rel.parts)


def render_stamp(png: Path, size: int = IMAGE_SIZE) -> Image.Image:
    """The cut-out composited on a plain background, longer side ``size``, centred on a square canvas."""
    with Image.open(png) as im:
        rgba = im.convert("RGBA")
    scale = size / max(rgba.size)
    w, h = (max(1, round(d * scale)) for d in rgba.size)
    rgba = rgba.resize((w, h), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (size, size), IMAGE_BACKGROUND)
    canvas.paste(rgba, ((size - w) // 2, (size - h) // 2), rgba)
    return canvas


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def stamp_captions() -> tuple[dict[str, tuple[Path, str]], int]:
    """Key -> (png path, English caption) for every stamp PNG whose sidecar has one; and how many had none."""
    stamps: dict[str, tuple[Path, str]] = {}
    num_skipped = 0
    for png in sorted(STAMPS_DIR.rglob("*.png")):
        sidecar = png.with_suffix(".txt")
        if not sidecar.is_file():
            num_skipped += 1
            continue
        lines = sidecar.read_text(encoding="utf-8").splitlines()
        caption = lines[0].strip() if lines else ""
        if caption:
            key = stamp_key(png)
            if key in stamps:
                raise ValueError(f"{png}: key {key} collides with {stamps[key][0]}")
            stamps[key] = (png, caption)
        else:
            num_skipped += 1
    return stamps, num_skipped


def build_image_text(config: BuildConfig, stamps: dict[str, tuple[Path, str]]) -> dict[str, int]:
    rng = random.Random(f"{config.seed}-image")
    pairs: dict[str, tuple[bytes, str]] = {}
    for key, (png, caption) in stamps.items():
        pairs[key] = (jpeg_bytes(render_stamp(png), JPEG_QUALITY), caption)
    variants = ("reenc-q60", "reenc-q75", "resized-96", "exact") * config.num_image_dups
    for i, key in enumerate(rng.sample(sorted(stamps), config.num_image_dups)):
        variant = variants[i]
        original = Image.open(io.BytesIO(pairs[key][0]))
        if variant.startswith("reenc-q"):
            data = jpeg_bytes(original, int(variant.removeprefix("reenc-q")))
        elif variant == "resized-96":
            data = jpeg_bytes(original.resize((96, 96), Image.Resampling.LANCZOS), JPEG_QUALITY)
        else:
            data = pairs[key][0]
        pairs[f"planted-dup-{i:02d}-{variant}-of-{key}"] = (data, pairs[key][1])
    out = config.out / "image_text"
    for i, keys in enumerate(shard(sorted(pairs), config.num_image_shards, rng)):
        members = {}
        for key in keys:
            members[f"{key}.jpg"] = pairs[key][0]
            members[f"{key}.txt"] = pairs[key][1].encode("utf-8")
        write_tar(out / f"pairs-{i:03d}.tar", members)
    return {"pairs": len(pairs), "planted-dup": config.num_image_dups}


# ---------------------------------------------------------------------------------------- audio-text


@dataclass(frozen=True)
class Utterance:
    key: str
    text: str
    speaker: str


def synthesize(utt: Utterance, out_dir: Path, tmp_dir: Path) -> float:
    """Speak ``utt`` with flite, write ``<key>.ogg`` at 16 kHz mono; return the duration in seconds."""
    wav = tmp_dir / f"{utt.key}.wav"
    subprocess.run(["flite", "-voice", utt.speaker, "-t", utt.text, "-o", str(wav)], check=True, capture_output=True)
    with wave.open(str(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
    # -D: no dither (otherwise random); -R: fixed Ogg serial number and seeds, so reruns are identical.
    subprocess.run(
        ["sox", "-D", "-R", str(wav), "-r", str(AUDIO_RATE), "-c", "1", "-C", "3", str(out_dir / f"{utt.key}.ogg")],
        check=True,
        capture_output=True,
    )
    wav.unlink()
    return seconds


def speakable(text: str) -> str:
    """Typographic quotes and dashes to plain ASCII, so the transcript is what flite says."""
    for fancy, plain in (("’", "'"), ("‘", "'"), ("“", ""), ("”", ""), ("—", ", "), ("…", ".")):
        text = text.replace(fancy, plain)
    return re.sub(r" +", " ", text).strip()


def speech_candidates(
    verses: Sequence[tuple[str, int, int, str]], stamps: dict[str, tuple[Path, str]], rng: random.Random
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(key stem, sentence) pools, seeded order: KJV verses of 8-20 words and Tux Paint captions of 5+."""
    kjv = [
        (f"kjv-{slug(b)}-{c:03d}-{v:03d}", t)
        for b, c, v, t in verses
        if SPEAKABLE.match(t) and 8 <= len(t.split()) <= 20
    ]
    spoken = ((key, speakable(cap)) for key, (_p, cap) in stamps.items())
    captions = sorted({(key, cap) for key, cap in spoken if SPEAKABLE.match(cap) and len(cap.split()) >= 5})
    unique_captions = list({cap: (key, cap) for key, cap in captions}.values())
    rng.shuffle(kjv)
    rng.shuffle(unique_captions)
    return kjv, unique_captions


def build_audio_text(
    config: BuildConfig, verses: Sequence[tuple[str, int, int, str]], stamps: dict[str, tuple[Path, str]]
) -> dict[str, int]:
    rng = random.Random(f"{config.seed}-audio")
    out = config.out / "audio_text"
    clips = out / "clips"
    clips.mkdir(parents=True)
    kjv, captions = speech_candidates(verses, stamps, rng)
    kept: list[Utterance] = []
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(config.num_workers) as ex:
        for pool, target in ((kjv, config.num_kjv_clips), (captions, config.num_caption_clips)):
            got, start = 0, 0
            while got < target and start < len(pool):
                batch = [
                    Utterance(f"{voice}-{stem}", text, voice)
                    for stem, text in pool[start : start + 2 * config.num_workers]
                    for voice in [rng.choice(FLITE_VOICES)]
                ]
                start += len(batch)
                for utt, seconds in zip(batch, ex.map(lambda u: synthesize(u, clips, Path(tmp)), batch), strict=True):
                    if got < target and config.min_clip_s <= seconds <= config.max_clip_s:
                        kept.append(utt)
                        got += 1
                    else:
                        (clips / f"{utt.key}.ogg").unlink()
            if got < target:
                raise ValueError(f"audio: only {got} of {target} clips fit {config.min_clip_s}-{config.max_clip_s} s")
    planted = plant_audio_dups(kept, clips, rng)
    rows = []
    for utt in [*kept, *planted]:
        (clips / f"{utt.key}.txt").write_text(utt.text, encoding="utf-8")
        rows.append(f"clips/{utt.key}.ogg\t{utt.text}\tflite-{utt.speaker}")
    (out / "transcripts.tsv").write_text(
        "path\ttranscript\tspeaker\n" + "\n".join(sorted(rows)) + "\n", encoding="utf-8"
    )
    counts = {
        "clips": len(kept) + len(planted),
        "planted-dup": len(planted),
        "kjv": config.num_kjv_clips,
        "captions": config.num_caption_clips,
    }
    for utt in kept:
        counts[f"flite-{utt.speaker}"] = counts.get(f"flite-{utt.speaker}", 0) + 1
    return counts


def plant_audio_dups(kept: Sequence[Utterance], clips: Path, rng: random.Random) -> list[Utterance]:
    """Same speech at another gain, with 0.3 s of leading silence, or as a byte-identical copy."""
    variants: list[tuple[str, list[str]]] = [
        ("gain-m6db", ["gain", "-6"]),
        ("gain-m6db", ["gain", "-6"]),
        ("gain-m3db", ["gain", "-3"]),
        ("pad-300ms", ["pad", "0.3", "0"]),
        ("pad-300ms", ["pad", "0.3", "0"]),
        ("exact", []),
        ("exact", []),
        ("exact", []),
    ]
    planted = []
    for i, (utt, (variant, effect)) in enumerate(zip(rng.sample(list(kept), len(variants)), variants, strict=True)):
        dup = Utterance(f"planted-dup-{i:02d}-{variant}-of-{utt.key}", utt.text, utt.speaker)
        src, dst = clips / f"{utt.key}.ogg", clips / f"{dup.key}.ogg"
        if effect:
            subprocess.run(["sox", "-D", "-R", str(src), "-C", "3", str(dst), *effect], check=True, capture_output=True)
        else:
            shutil.copyfile(src, dst)
        planted.append(dup)
    return planted


# -------------------------------------------------------------------------------------------- report


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def mib(num_bytes: int) -> str:
    return f"{num_bytes / 2**20:.2f} MiB"


def write_licenses(config: BuildConfig, text: dict[str, int], image: dict[str, int], audio: dict[str, int]) -> None:
    template = LICENSES_TEMPLATE
    sizes = {name: dir_size(config.out / name) for name in ("text", "image_text", "audio_text")}
    values = {
        "text_counts": "\n".join(f"| `{k}` | {v} |" for k, v in sorted(text.items())),
        "text_total": str(sum(text.values())),
        "text_size": mib(sizes["text"]),
        "text_shards": str(config.num_text_shards),
        "image_pairs": str(image["pairs"]),
        "image_dups": str(image["planted-dup"]),
        "image_size": mib(sizes["image_text"]),
        "image_shards": str(config.num_image_shards),
        "audio_clips": str(audio["clips"]),
        "audio_dups": str(audio["planted-dup"]),
        "audio_kjv": str(audio["kjv"]),
        "audio_captions": str(audio["captions"]),
        "audio_speakers": ", ".join(f"{k} {v}" for k, v in sorted(audio.items()) if k.startswith("flite-")),
        "image_skipped": str(image["skipped"]),
        "audio_size": mib(sizes["audio_text"]),
        "total_size": mib(sum(sizes.values())),
        "seed": str(config.seed),
    }
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", value)
    (config.out / "LICENSES.md").write_text(template, encoding="utf-8")


def build(config: BuildConfig) -> None:
    check_prerequisites()
    for name in ("text", "image_text", "audio_text"):
        shutil.rmtree(config.out / name, ignore_errors=True)
        (config.out / name).mkdir(parents=True)
    log.info("reading the King James Bible and the Tux Paint stamps")
    verses = read_kjv_verses()
    stamps, num_skipped = stamp_captions()
    log.info("text corpus")
    text = build_text(config, verses)
    log.info("image-text corpus (%d stamps)", len(stamps))
    image = build_image_text(config, stamps)
    image["skipped"] = num_skipped
    log.info("audio-text corpus (flite)")
    audio = build_audio_text(config, verses, stamps)
    write_licenses(config, text, image, audio)
    log.info(
        "done: %s in %s", mib(sum(dir_size(config.out / n) for n in ("text", "image_text", "audio_text"))), config.out
    )


def parse_args(argv: Sequence[str] | None = None) -> BuildConfig:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "demo_data",
        help="output folder (its text/, image_text/, audio_text/ are replaced)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-workers", type=int, default=min(8, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    return BuildConfig(out=args.out, seed=args.seed, num_workers=args.num_workers)


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    build(parse_args(argv))


LICENSES_TEMPLATE = """\
# Demo corpora: sources, licenses, what was planted

Small real corpora for tests, the tiny end-to-end run and demos. Everything here is generated by
`pipelines/build_demo_corpora.py` (seed {{seed}}); do not edit by hand. Rebuild from the repo root with:

```bash
apt-get update && apt-get install -y bible-kjv flite sox libsox-fmt-all tuxpaint-stamps-default vim-runtime
uv run --with gensim python pipelines/build_demo_corpora.py --out pipelines/demo_data --seed {{seed}}
```

Reruns on the same machine image give byte-identical files (gzip mtime 0, sorted tar members with zeroed
mtime/uid/gid, `sox -D -R`). JPEG and Vorbis bytes depend on the Pillow and libvorbis builds.

Total size: {{total_size}}. `tests/pipelines/test_demo_data.py` checks that everything here is well formed.

## `text/`: {{text_total}} documents in {{text_shards}} shards `docs-NNN.jsonl.gz`, {{text_size}}

One JSON object per line: `{"id": str, "text": str, "source": str}`, gzip without a timestamp. Documents
are spread over the shards in a seeded random order (sorted by id inside each shard), so planted copies
usually sit in another shard than their originals.

| source | documents |
|---|---|
{{text_counts}}

- `enwiki` (id `enwiki-<pageid>`): the 106 articles of the Wikipedia extract in gensim's test data
  (`gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2`), read
  with `gensim.corpora.wikicorpus.extract_pages` and cleaned with `filter_wiki` (markup residue such as
  `'''bold'''` quotes and `*` bullets is left in, as a real crawl has it). Text from Wikipedia, **CC BY-SA
  3.0** (https://creativecommons.org/licenses/by-sa/3.0/); authors are listed in each article's history on
  en.wikipedia.org. Keep this attribution and license when sharing these documents.
- `kjv` (id `kjv-<book>-<chapter>`): the King James Version printed by Debian `bible-kjv`
  (`bible gen1:1-rev22:21`), one document per chapter (1,189), verses joined with spaces, verse numbers
  dropped. **Public domain** (Debian's copyright file: the KJV's copyright "is expired").
- `lee-abc-news` (id `lee-NNN`): `lee_background.cor` from gensim's test data: 300 short Australian
  Broadcasting Corporation news texts collected for the Lee, Pincombe & Welsh (2005) document-similarity
  study and redistributed inside the gensim wheel (gensim is LGPL-2.1). No separate license is stated for
  these texts; they are used as gensim ships them, for testing only.
- Real low-quality records, kept so the filter stage has something to reject:
  - `lowq-bullet-list`: the two longest runs of short `*` bullet lines in the articles above (a
    filmography, a taxonomy), as list-only pages appear in crawls. CC BY-SA 3.0.
  - `lowq-wiki-redirect`: three `#REDIRECT ...` pages from the same dump. CC BY-SA 3.0.
  - `lowq-very-short`: two one-line KJV verses (John 11:35, Luke 17:32). Public domain.
  - `lowq-non-english-de`, `lowq-non-english-fr`: vim's German and French tutors
    (`/usr/share/vim/vim90/tutor/tutor.{de,fr}.utf-8`, Debian `vim-runtime`), under the **Vim license**
    (GPL-compatible charityware, see `:help license`).
- Planted duplicates, so the dedupe stage has known answers; the id names the original:
  - `planted-near-dup` (id `planted-near-dup-NNN-of-<original id>`): 2-5 words of the original replaced,
    deleted or repeated; every other character kept.
  - `planted-exact-dup` (id `planted-exact-dup-NNN-of-<original id>`): byte-identical text.

  Originals are drawn with the seed from each of `kjv`, `lee-abc-news` and `enwiki`; a copy has its
  original's license.

## `image_text/`: {{image_pairs}} pairs in {{image_shards}} WebDataset shards `pairs-NNN.tar`, {{image_size}}

Each pair is `<key>.jpg` + `<key>.txt` (UTF-8 caption, no trailing newline); keys look like
`tuxpaint-animals-mammals-giraffe` (the stamp's path under `/usr/share/tuxpaint/stamps/`). Members are
sorted by name; mtime, uid and gid are zero. Pairs are spread over the shards in a seeded random order.

Source: the PNG stamps (photo cut-outs and some drawings) of Debian `tuxpaint-stamps-default` 2022.06.04
(Tux Paint, Bill Kendrick and contributors), **GPL-2** (or later). Each PNG is composited onto a plain
light background (RGB 246,244,238), resized (Lanczos) so its longer side is 128 px, centred on a 128x128
canvas and saved as JPEG quality 90. The caption is the first line of the stamp's `<name>.txt` (English,
from "A giraffe." to two-sentence descriptions); {{image_skipped}} stamps without one (mirrored variants)
are skipped.

Planted duplicates ({{image_dups}}), key `planted-dup-NN-<variant>-of-<original key>`, with the original's
caption: `reenc-q60` / `reenc-q75` (the JPEG decoded and saved again at quality 60 or 75), `resized-96`
(scaled to 96x96) and `exact` (byte-identical JPEG).

## `audio_text/`: {{audio_clips}} clips in `clips/`, {{audio_size}}

`clips/<key>.ogg` (Ogg Vorbis, 16 kHz mono, 3-8 s) with `clips/<key>.txt` (the transcript: exactly the
text that was spoken, no trailing newline), and `transcripts.tsv` (`path<TAB>transcript<TAB>speaker`, a
header line, paths relative to this folder, sorted). Speech is synthesized with Debian `flite` 2.2 using
the CMU voices `slt`, `kal16`, `rms` and `awb` (one drawn per clip with the seed; speaker
`flite-<voice>`) and resampled with `sox -D -R` (no dither, fixed Ogg serial number). Clips per voice:
{{audio_speakers}}.

- {{audio_kjv}} KJV verses of 8-20 words with plain punctuation, key `<voice>-kjv-<book>-<chapter>-<verse>`
  (public domain).
- {{audio_captions}} Tux Paint captions of five or more words, key `<voice>-tuxpaint-...` (GPL-2).

Licenses: flite and its voices are under CMU's BSD-style license ("Permission is hereby granted, free of
charge, to use and distribute this software ... without restriction", see
`/usr/share/doc/libflite1/copyright`), which puts no terms on the audio it produces. The words keep their
own license: public domain for KJV verses, GPL-2 for Tux Paint captions, so treat the caption clips and
their transcripts as GPL-2.

Planted duplicates ({{audio_dups}}), key `planted-dup-NN-<variant>-of-<original key>`, with the original's
transcript and speaker: `gain-m6db` / `gain-m3db` (decoded, attenuated, re-encoded), `pad-300ms` (0.3 s of
silence prepended, re-encoded) and `exact` (byte-identical file).
"""


if __name__ == "__main__":
    main()
