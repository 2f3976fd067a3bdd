"""End to end: the image-text and audio-text Beam pipelines on real demo data, broken files and planted dups.

Each run checks the contract of the issue: every input is accounted for (kept + rejected + duplicates ==
read), every broken file is a reject with its reason, planted duplicates (re-encoded JPEG, resized copy,
exact copy; audio at another gain, padded, exact) leave one survivor per cluster, and reruns (also with two
worker processes) give byte-identical shards, rejects and manifest.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from trimodal_core import CorpusManifest, ShardReader
from trimodal_data.commands import run_audio_text, run_image_text
from trimodal_data.pipelines.audio_text import AudioTextConfig
from trimodal_data.pipelines.image_text import ImageTextConfig
from trimodal_data.pipelines.media import run_media_pipeline
from trimodal_data.records import Reject
from trimodal_data.stats import load_rejects
from trimodal_data.transforms.write import WriteConfig
from trimodal_tokenizers.audio_dac import AudioTokenizer, AudioTokenizerConfig
from trimodal_tokenizers.audio_inputs import resample
from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.image_fsq import ImageTokenizer, ImageTokenizerConfig
from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer

DEMO = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data"
TAKES = Path(__file__).resolve().parent / "fixtures" / "speech_takes"
WRITE = WriteConfig(num_buckets=2)


def _read_rejects(manifest: CorpusManifest) -> list[Reject]:
    return [Reject(**row) for row in load_rejects(manifest).iter_rows(named=True)]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    captions = []
    for tar in sorted((DEMO / "image_text").glob("*.tar")):
        with tarfile.open(tar) as handle:
            captions += [handle.extractfile(m).read().decode() for m in handle if m.name.endswith(".txt")]
    transcripts = [p.read_text() for p in sorted((DEMO / "audio_text" / "clips").glob("*.txt"))]
    text = TextTokenizer.train(captions + transcripts, TextBPEConfig(vocab_size=600))
    image = ImageTokenizer.from_random_init(ImageTokenizerConfig.tiny(), seed=0, device="cpu")
    audio = AudioTokenizer.from_random_init(AudioTokenizerConfig(variant="tiny", device="cpu"))
    out = tmp_path_factory.mktemp("bundle")
    TokenizerBundle.build(text=text, image=image, audio=audio).save(out)
    return out


def _files(corpus: Path) -> dict[str, bytes]:
    return {p.relative_to(corpus).as_posix(): p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file()}


def _outcome(corpus: Path) -> tuple[CorpusManifest, dict[str, str], set[str]]:
    """(manifest, {rejected id: reason}, kept ids)."""
    manifest = CorpusManifest.load(corpus / "manifest.json")
    manifest.validate(check_sha256=True)
    rejects = {r.id: r.reason for r in _read_rejects(manifest)}
    kept: set[str] = set()
    for shard in manifest.shards:
        with ShardReader(manifest.shard_path(shard)) as reader:
            for batch in reader.iter_batches():
                kept |= set(batch.column("example_id").to_pylist())
    return manifest, rejects, kept


def _jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _bomb_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", 60_000, 60_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


@pytest.fixture(scope="module")
def image_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, str], list[set[str]]]:
    """(inputs, {broken id: expected reason}, planted duplicate clusters of ids)."""
    root = tmp_path_factory.mktemp("image_inputs")
    members: dict[str, bytes] = {}
    for tar in sorted((DEMO / "image_text").glob("*.tar")):
        with tarfile.open(tar) as handle:
            members |= {m.name: handle.extractfile(m).read() for m in handle if m.isfile()}
    planted = sorted(k[:-4] for k in members if k.startswith("planted-dup") and k.endswith(".jpg"))
    originals = sorted({k.split("-of-", 1)[1] for k in planted})
    others = sorted(k[:-4] for k in members if k.endswith(".jpg") and not k.startswith("planted"))[::40]
    keys = sorted(set(planted) | set(originals) | set(others))
    with tarfile.open(root / "pairs.tar", "w") as tar:
        for key in keys:
            _add(tar, f"{key}.jpg", members[f"{key}.jpg"])
            _add(tar, f"{key}.txt", members[f"{key}.txt"])
        # One more planted copy made here: the original at another JPEG quality AND size.
        resized = Image.open(io.BytesIO(members[f"{originals[0]}.jpg"])).resize((112, 112))
        _add(tar, f"zz-resized-reenc-of-{originals[0]}.jpg", _jpeg(resized))
        _add(tar, f"zz-resized-reenc-of-{originals[0]}.txt", members[f"{originals[0]}.txt"])
        _add(tar, "../../escape.jpg", members[f"{originals[0]}.jpg"])
        _add(tar, "link.jpg", kind=tarfile.SYMTYPE)
    clusters = [{f"pairs.tar/{p}" for p in planted if p.endswith(o)} | {f"pairs.tar/{o}"} for o in originals]
    clusters[0].add(f"pairs.tar/zz-resized-reenc-of-{originals[0]}")
    broken = root / "broken"
    broken.mkdir()
    photo = Image.open(io.BytesIO(members[f"{originals[1]}.jpg"]))
    files = {
        "empty.jpg": b"",
        "truncated.jpg": _jpeg(photo.resize((256, 256)))[:3000],
        "not-an-image.jpg": b"<html>this is not a jpeg</html>" * 10,
        "bomb.png": _bomb_png(),
        "tiny.png": _jpeg(photo.resize((16, 16))),
        "strip.jpg": _jpeg(photo.resize((400, 40))),
        "german.jpg": _jpeg(photo),
    }
    for name, data in files.items():
        (broken / name).write_bytes(data)
        (broken / name).with_suffix(".txt").write_text("A photo of something on a plain background.")
    (broken / "german.txt").write_text("Ein Foto von einem Ding auf einem einfachen hellen Hintergrund.")
    (broken / "no-caption.jpg").write_bytes(_jpeg(photo))
    expected = {
        "broken/empty": "empty_file",
        "broken/truncated": "image_corrupt",
        "broken/not-an-image": "image_unsupported_format",
        "broken/bomb": "image_too_many_pixels",
        "broken/tiny": "image_too_small",
        "broken/strip": "image_aspect_ratio",
        "broken/german": "text_language",
        "broken/no-caption": "missing_text",
        "pairs.tar/link.jpg#2": "tar_link_member",
        "pairs.tar/__/__/escape.jpg#1": "tar_unsafe_path",
    }
    return [str(root / "pairs.tar"), str(broken)], expected, clusters


def _count_image_inputs(inputs: list[str]) -> int:
    """Samples in the inputs, counted without the pipeline: distinct member stems of the tar plus distinct
    file stems of the folder (an image and its caption are one sample)."""
    tar_path, folder = Path(inputs[0]), Path(inputs[1])
    with tarfile.open(tar_path) as handle:
        tar_keys = {name.rsplit(".", 1)[0] for name in handle.getnames()}
    return len(tar_keys) + len({p.stem for p in folder.iterdir()})


def _check_accounting(corpus: Path, num_inputs: int) -> tuple[dict[str, str], set[str]]:
    manifest, rejects, kept = _outcome(corpus)
    summary = manifest.provenance["summary"]
    assert summary["balanced"] and summary["read"] == num_inputs
    assert summary["kept"] == len(kept) == manifest.num_rows
    assert len(kept) + len(rejects) == num_inputs and not kept & set(rejects)
    return rejects, kept


@pytest.mark.slow  # about 100 s measured on the shared 2-core machine
def test_image_text_pipeline_end_to_end(bundle_dir: Path, image_inputs: tuple, tmp_path: Path) -> None:
    inputs, expected, clusters = image_inputs
    config = ImageTextConfig(write=WRITE)
    out = tmp_path / "in_process"
    summary = run_media_pipeline(kind="image", inputs=inputs, output=out, tokenizer=bundle_dir, config=config,
                                 name="corpus")
    num_inputs = _count_image_inputs(inputs)
    assert summary["read"] == num_inputs
    rejects, kept = _check_accounting(out, num_inputs)
    for example_id, reason in expected.items():
        assert rejects.get(example_id) == reason, example_id
    for cluster in clusters:
        assert len(cluster & kept) == 1, sorted(cluster)
        assert all(rejects[i].startswith("duplicate_") for i in cluster - kept)
    reasons = set(rejects.values())
    assert {"duplicate_exact", "duplicate_phash"} <= reasons
    # Every kept row is a t2i sequence with the tokenizer's image tokens.
    manifest = CorpusManifest.load(out / "manifest.json")
    bundle = TokenizerBundle.load(bundle_dir)
    with ShardReader(manifest.shard_path(manifest.shards[0])) as reader:
        row = next(reader.iter_batches()).slice(0, 1).to_pylist()[0]
    parsed = bundle.layout.parse(np.asarray(row["tokens"]))
    assert parsed.task == "t2i" and row["num_image_tokens"] == bundle.image.tokens_per_image

    # Same input with two worker processes: byte-identical corpus.
    again = tmp_path / "two_workers"
    run_media_pipeline(kind="image", inputs=inputs, output=again, tokenizer=bundle_dir, config=config, name="corpus",
                       beam_args=["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    assert _files(again) == _files(out)
    assert not [r for r in _read_rejects(manifest) if " at 0x" in r.detail]


@pytest.mark.slow  # a random-init CLIP in the pipeline: about 25 s
def test_image_text_clip_filter_and_cli(bundle_dir: Path, image_inputs: tuple, tmp_path: Path,
                                        save_random_clip) -> None:
    inputs, _, _ = image_inputs
    clip = save_random_clip(tmp_path / "clip")
    config_file = tmp_path / "stages.json"
    config_file.write_text(json.dumps({"image_rules": {"min_clip_score": 1.0}, "write": {"num_buckets": 1}}))
    out = tmp_path / "clip_corpus"
    code = run_image_text([
        "--input", inputs[0], "--output", str(out), "--tokenizer", str(bundle_dir),
        "--clip-checkpoint", str(clip), "--config", str(config_file),
    ])
    assert code == 0
    manifest, rejects, kept = _outcome(out)
    # A cosine can never reach 1.0 between different modalities: every pair that reaches the CLIP stage is cut.
    assert not kept and "clip_score_low" in set(rejects.values())
    assert manifest.provenance["config"]["image_rules"]["min_clip_score"] == 1.0
    assert manifest.provenance["clip_checkpoint"] == "clip"
    assert run_image_text(["--input", inputs[0], "--output", str(out), "--tokenizer", str(bundle_dir)]) == 2


def _wav(samples: np.ndarray, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


@pytest.mark.slow  # decodes and encodes every demo clip: about 60 s on the shared 2-core machine
def test_audio_text_pipeline_end_to_end(bundle_dir: Path, tmp_path: Path) -> None:
    clips = DEMO / "audio_text" / "clips"
    planted = sorted(p.stem for p in clips.glob("planted-dup-*.ogg"))
    originals = sorted({p.split("-of-", 1)[1] for p in planted})
    speech = tmp_path / "speech"
    speech.mkdir()
    for stem in planted + originals[:3]:
        for ext in (".ogg", ".txt"):
            shutil.copyfile(clips / f"{stem}{ext}", speech / f"{stem}{ext}")
    listing = tmp_path / "list.tsv"  # the other originals through a transcript list
    rows = ["path\ttranscript\tspeaker"]
    for stem in originals[3:]:
        shutil.copyfile(clips / f"{stem}.ogg", tmp_path / f"{stem}.ogg")
        rows.append(f"{stem}.ogg\t{(clips / f'{stem}.txt').read_text()}\tflite")
    rows.append("../outside.flac\tEscape attempt.\tx")
    listing.write_text("\n".join(rows) + "\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    speech_wave, rate = sf.read(clips / f"{originals[0]}.ogg", dtype="float32")
    files = {
        "empty.flac": b"",
        "nan.wav": _wav(np.array([0.1, np.nan] * 8000, np.float32)),
        "one-sample.wav": _wav(np.array([0.2], np.float32)),
        "not-audio.ogg": b"OggS but not really" * 20,
        "clipped.wav": _wav(np.clip(speech_wave * 40, -1, 1)),
        "silent.wav": _wav(np.zeros(rate * 3, np.float32)),
        "low-rate.wav": _wav(speech_wave[::4], 4000),
    }
    for i, (name, data) in enumerate(files.items()):
        (broken / name).write_bytes(data)
        (broken / name).with_suffix(".txt").write_text(f"Broken clip number {i} says hello.")
    (broken / "no-transcript.wav").write_bytes(_wav(speech_wave))
    takes = tmp_path / "takes"  # one sentence read by several voices and pitches: distinct recordings, all kept
    shutil.copytree(TAKES, takes)
    for stem, fmt, subtype, new_rate in (("gen-001-003-slt", "FLAC", None, None),
                                         ("psa-023-001-kal16", "OGG", "VORBIS", 22050),
                                         ("pro-015-001-rms", "WAV", "FLOAT", None)):
        wave, take_rate = sf.read(TAKES / f"{stem}.ogg", dtype="float32")
        if new_rate:
            wave, take_rate = resample(wave, take_rate, new_rate), new_rate
        sf.write(takes / f"zz-copy-of-{stem}.{fmt.lower()}", wave, take_rate, format=fmt, subtype=subtype)
        shutil.copyfile(TAKES / f"{stem}.txt", takes / f"zz-copy-of-{stem}.txt")
    expected = {
        "broken/empty": "empty_file",
        "broken/nan": "audio_non_finite",
        "broken/one-sample": "audio_too_short",
        "broken/not-audio": "audio_decode_error",
        "broken/clipped": "audio_clipping",
        "broken/silent": "audio_mostly_silent",
        "broken/low-rate": "audio_sample_rate_low",
        "broken/no-transcript": "missing_text",
        "list.tsv/__/outside.flac": "path_outside_root",
    }
    out = tmp_path / "corpus"
    code = run_audio_text([
        "--input", str(speech), str(listing), str(broken), str(takes), "--output", str(out), "--tokenizer",
        str(bundle_dir),
        "--write.num-buckets", "2",
    ])
    assert code == 0
    num_takes = len(list(TAKES.glob("*.ogg")))
    num_inputs = len(planted) + len(originals) + 1 + len(files) + 1 + num_takes + 3
    rejects, kept = _check_accounting(out, num_inputs)
    for example_id, reason in expected.items():
        assert rejects.get(example_id) == reason, example_id
    ids = {Path(i).name.removesuffix(".ogg"): i for i in kept | set(rejects)}
    for original in originals:
        cluster = {ids[original]} | {ids[p] for p in planted if p.endswith(original)}
        assert len(cluster & kept) == 1, sorted(cluster)
    assert {"duplicate_exact", "duplicate_acoustic"} <= set(rejects.values())
    assert "duplicate_transcript" not in set(rejects.values())  # off by default
    assert {i for i in kept if i.startswith("takes/")} == {f"takes/{p.stem}" for p in TAKES.glob("*.ogg")}
    assert all(rejects[f"takes/zz-copy-of-{stem}"].startswith("duplicate_")
               for stem in ("gen-001-003-slt", "psa-023-001-kal16", "pro-015-001-rms"))
    bundle = TokenizerBundle.load(bundle_dir)
    manifest = CorpusManifest.load(out / "manifest.json")
    with ShardReader(manifest.shard_path(manifest.shards[0])) as reader:
        row = next(reader.iter_batches()).slice(0, 1).to_pylist()[0]
    parsed = bundle.layout.parse(np.asarray(row["tokens"]))
    assert parsed.task == "t2s" and row["num_audio_tokens"] > 0
    assert dataclasses.asdict(AudioTextConfig())["transcript_minhash"]["ngram"] == 3
