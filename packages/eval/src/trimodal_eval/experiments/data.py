"""The study mixture: a small tri-modal corpus built once from the committed demo data, with a held-out split.

The studies train dozens of tiny models on a CPU, so by default they do not run the demo's tokenizer training
and Beam pipelines (minutes on 2 cores, and the experiments package never imports Beam). Instead they
tokenize the committed demo files (``pipelines/demo_data``) with fixed, training-free tokenizers [ours]:

* text: the UTF-8 bytes of each Wikipedia document (``text_vocab_size = 256``), cut at ``text_bytes``;
* image-text: the caption's bytes and the image as an 8 x 8 grayscale thumbnail with 16 levels
  (``code = gray // 16``, 64 codes per image, ``image_codebook_size = 16``);
* audio-text: the transcript's bytes and 32 frames of 20 ms from the first loud frame on, two codebooks of
  16 levels: ``clip((log10(mean x^2 + 1e-8) + 8) * 2)`` (energy) and ``clip(32 * zcr)`` (zero-crossing rate).

Every modality keeps learnable structure, the vocabulary stays small (a tiny model's logits are cheap), and
the sequences are formatted by ``trimodal_tokenizers.sequence.SequenceLayout`` and written as normal corpora
(``trimodal_core.ShardWriter``) with a mixture manifest (text 0.5, image-text 0.3, audio-text 0.2 of the
examples), exactly the files the demo writes. The validation split is ``trimodal_core.split.split_mixture``
with a fixed salt (the rule of ``pipelines/demo_model.py:split_validation``: an example is held out when
``sha256(salt + 0 + id) / 2^64 < val_fraction``), so it is deterministic and disjoint from training.

The build is cached under ``cache_dir/<key>`` where ``key`` hashes the input files' names and bytes and the
builder's settings; a rerun with the same inputs reuses it. ``--mixture PATH`` (a mixture manifest of your
own) skips all this: it is split the same way into ``<out_dir>/data/split``.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np

from trimodal_core import (
    CorpusManifest,
    MixtureComponent,
    MixtureManifest,
    ShardWriter,
    ShardWriterConfig,
    TokenSpace,
    TokenSpaceConfig,
)
from trimodal_core.split import split_mixture

BUILDER_VERSION = "study-data v1: utf-8 bytes; 8x8 gray/16; 20 ms energy+zcr/16"
SPLIT_SALT = "trimodal-study-val"
SPACE = TokenSpace(TokenSpaceConfig(text_vocab_size=256, image_codebook_size=16, audio_codebook_size=16,
                                    audio_num_codebooks=2))
COMPONENTS = ("text", "image_text", "audio_text")


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyDataConfig:
    """How many examples of each kind the built mixture holds, and the held-out share."""

    num_text: int = 400
    """Text documents (each at most ``text_bytes`` bytes)."""
    num_image_text: int = 240
    """Image-caption pairs."""
    num_audio_text: int = 160
    """Clip-transcript pairs."""
    text_bytes: int = 240
    """Bytes kept per document."""
    caption_bytes: int = 40
    """Bytes kept per caption or transcript."""
    val_fraction: float = 0.1
    """Share of examples held out (by hash of the example id)."""

    def __post_init__(self) -> None:
        for name in ("num_text", "num_image_text", "num_audio_text", "text_bytes", "caption_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"StudyDataConfig.{name} must be positive, got {getattr(self, name)!r}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"StudyDataConfig.val_fraction must be in (0, 1), got {self.val_fraction!r}")


@dataclasses.dataclass(frozen=True)
class StudyData:
    """The mixture a study trains on and the held-out corpora it evaluates on."""

    train: Path
    """Training mixture manifest."""
    val: dict[str, Path]
    """Component name -> held-out corpus manifest."""
    token_space: TokenSpace


def default_demo_data() -> Path:
    """``pipelines/demo_data`` of this checkout (the recipes pass it explicitly)."""
    return Path(__file__).resolve().parents[5] / "pipelines" / "demo_data"


def utf8_bytes(text: str, limit: int) -> np.ndarray:
    """Training-free text tokens: the first ``limit`` UTF-8 bytes (ids 0-255; a space for an empty text)."""
    data = text.encode("utf-8")[:limit] or b" "
    return np.frombuffer(data, dtype=np.uint8).astype(np.int64)


def demo_texts(root: Path, count: int) -> list[str]:
    """The first ``count`` documents over 40 characters of ``root/text/*.jsonl.gz``, in file order."""
    docs: list[str] = []
    for path in sorted((root / "text").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            docs += [t for line in handle if len(t := json.loads(line)["text"]) > 40]
        if len(docs) >= count:
            break
    return docs[:count]


def demo_image_pairs(root: Path, count: int) -> list[tuple[str, np.ndarray]]:
    """``(caption, codes)`` of ``root/image_text/*.tar``: 8x8 grayscale thumbnails with 16 levels (ids 0-15)."""
    from PIL import Image

    pairs: list[tuple[str, np.ndarray]] = []
    for path in sorted((root / "image_text").glob("*.tar")):
        with tarfile.open(path) as archive:
            members = {m.name: m for m in archive if m.isfile()}
            for name in sorted(n for n in members if n.endswith(".jpg") and n[:-4] + ".txt" in members):
                caption = archive.extractfile(members[name[:-4] + ".txt"]).read().decode().strip()  # type: ignore[union-attr]
                image = Image.open(io.BytesIO(archive.extractfile(members[name]).read()))  # type: ignore[union-attr]
                gray = np.asarray(image.convert("L").resize((8, 8), Image.Resampling.BILINEAR), dtype=np.int64)
                pairs.append((caption, gray // 16))
                if len(pairs) >= count:
                    return pairs
    return pairs


def demo_audio_pairs(root: Path, count: int) -> list[tuple[str, np.ndarray]]:
    """``(transcript, codes [2, 32])`` of ``root/audio_text``: 32 frames of 20 ms after the leading silence,
    log energy and zero-crossing rate, 16 levels each (clips shorter than that are skipped)."""
    import soundfile as sf

    pairs: list[tuple[str, np.ndarray]] = []
    for line in (root / "audio_text" / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        rel, transcript, *_ = line.split("\t")
        samples, rate = sf.read(root / "audio_text" / rel, dtype="float32", always_2d=True)
        mono = samples.mean(axis=1)
        hop = rate // 50
        frames = mono[: (len(mono) // hop) * hop].reshape(-1, hop)
        energy = np.log10(np.mean(frames**2, axis=1) + 1e-8)
        start = int(np.argmax(energy > energy.max() - 3))  # skip the leading silence
        frames, energy = frames[start : start + 32], energy[start : start + 32]
        if len(frames) < 32:
            continue
        zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)) > 0, axis=1)
        codes = np.stack([np.clip(((energy + 8) * 2).astype(np.int64), 0, 15),
                          np.clip((zcr * 32).astype(np.int64), 0, 15)])
        pairs.append((transcript, codes))
        if len(pairs) >= count:
            break
    return pairs


def _inputs_key(root: Path, config: StudyDataConfig) -> str:
    digest = hashlib.sha256(BUILDER_VERSION.encode())
    digest.update(json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _write_corpus(out: Path, name: str, records: list) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with ShardWriter(out, prefix=name, fingerprint=SPACE.fingerprint,
                     config=ShardWriterConfig(rows_per_batch=64)) as writer:
        writer.write_all(records)
    path = out / "manifest.json"
    tokenizer = hashlib.sha256(BUILDER_VERSION.encode()).hexdigest()
    CorpusManifest(name=name, token_space=SPACE.to_dict(), shards=writer.close(),
                   tokenizer_fingerprint=tokenizer).save(path)
    return path


def build_demo_mixture(demo_data: Path, out: Path, config: StudyDataConfig) -> Path:
    """Tokenize the demo files (module docstring) into ``out``; returns the mixture manifest."""
    from trimodal_tokenizers.sequence import SequenceLayout

    layout = SequenceLayout(SPACE)
    text = [layout.text(utf8_bytes(t, config.text_bytes)).to_record(f"text-{i}", "demo-text")
            for i, t in enumerate(demo_texts(demo_data, config.num_text))]
    images = [layout.image_text(utf8_bytes(c, config.caption_bytes), g).to_record(f"img-{i}", "demo-image")
              for i, (c, g) in enumerate(demo_image_pairs(demo_data, config.num_image_text))]
    audio = [layout.audio_text(utf8_bytes(c, config.caption_bytes), a).to_record(f"aud-{i}", "demo-audio")
             for i, (c, a) in enumerate(demo_audio_pairs(demo_data, config.num_audio_text))]
    for name, records in zip(COMPONENTS, (text, images, audio), strict=True):
        if len(records) < 10:
            raise ValueError(f"demo_data {demo_data}: only {len(records)} {name} examples (need 10)")
    weights = dict(zip(COMPONENTS, (0.5, 0.3, 0.2), strict=True))
    paths = {n: _write_corpus(out / n, n, r) for n, r in zip(COMPONENTS, (text, images, audio), strict=True)}
    mixture = out / "mixture.json"
    MixtureManifest(components=[MixtureComponent(name=n, manifest=str(p.relative_to(out)), weight=weights[n])
                                for n, p in paths.items()],
                    weight_unit="examples", token_space_fingerprint=SPACE.fingerprint).save(mixture)
    return mixture


def study_data(*, cache_dir: Path, mixture: Path | None = None, demo_data: Path | None = None,
               config: StudyDataConfig | None = None, force: bool = False) -> StudyData:
    """The study's train mixture and held-out corpora (built or split once, then reused; module docstring)."""
    config = config or StudyDataConfig()
    if mixture is not None:
        if not Path(mixture).is_file():
            raise ValueError(f"--mixture {mixture}: no such mixture manifest")
        key = hashlib.sha256(Path(mixture).resolve().read_bytes()).hexdigest()[:16]
        folder = Path(cache_dir) / f"split-{key}-{config.val_fraction:g}"
        source = Path(mixture)
    else:
        root = Path(demo_data) if demo_data is not None else default_demo_data()
        if not (root / "text").is_dir():
            raise ValueError(f"demo_data {root}: not the demo data folder (pass --mixture or --demo-data)")
        folder = Path(cache_dir) / f"demo-{_inputs_key(root, config)}"
        source = None
    done = folder / "DONE"
    if done.is_file() and not force:
        return _split_result(folder)
    shutil.rmtree(folder, ignore_errors=True)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if source is None:
        source = build_demo_mixture(root, tmp / "built", config)
    split_mixture(source, tmp / "split", fraction=config.val_fraction, salt=SPLIT_SALT, overwrite=True)
    (tmp / "DONE").write_text(json.dumps({"source": str(source), "config": dataclasses.asdict(config)}))
    tmp.rename(folder)
    return _split_result(folder)


def _split_result(folder: Path) -> StudyData:
    split = folder / "split"
    manifest = MixtureManifest.load(split / "val.json")
    val = {c.name: manifest.component_path(c) for c in manifest.components}
    space = TokenSpace.from_dict(CorpusManifest.load(next(iter(val.values()))).token_space)
    return StudyData(train=split / "train.json", val=val, token_space=space)
