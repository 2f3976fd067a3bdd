"""Shared by the trainer, launch and SLURM tests: a tiny tri-modal mixture built once per session from the
committed demo data, tiny train configs on it, and one uninterrupted reference run.

The demo pipeline takes minutes on a busy 2-core machine, so the trainer tests tokenize a slice of the same
committed files with throwaway tokenizers that need no training:

* text: UTF-8 bytes (``text_vocab_size=256``) of the demo Wikipedia documents;
* image-text: the demo image shards' captions (bytes) and each image as an 8x8 grayscale thumbnail with 16
  gray levels (``image_codebook_size=16``, 64 codes per image);
* audio-text: the demo transcripts (bytes) and each clip as 32 frames of 2 codebooks x 16 levels
  (log-energy and zero-crossing rate of 20 ms frames).

Every modality then has real, learnable structure (the loss-falls test relies on it), and the sequences are
formatted by the tokenizers' ``SequenceLayout``.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trimodal_core import (
    CorpusManifest,
    MixtureComponent,
    MixtureManifest,
    ShardWriter,
    ShardWriterConfig,
    TokenSpace,
    TokenSpaceConfig,
)
from trimodal_tokenizers.sequence import SequenceLayout
from trimodal_train.config import TrainConfig
from trimodal_train.configs import tiny
from trimodal_train.trainer import TrainResult, train

DEMO = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data"
# The throwaway tokenizers below have no files to hash; this digest of their description stands in for one.
TOKENIZER_FINGERPRINT = hashlib.sha256(b"tests/train: utf-8 bytes; 8x8 gray/16; 20 ms energy+zcr/16; v1").hexdigest()
SPACE = TokenSpace(TokenSpaceConfig(text_vocab_size=256, image_codebook_size=16, audio_codebook_size=16,
                                    audio_num_codebooks=2))


def _bytes(text: str, limit: int) -> np.ndarray:
    data = text.encode("utf-8")[:limit] or b" "
    return np.frombuffer(data, dtype=np.uint8).astype(np.int64)


def _texts(limit: int) -> list[str]:
    docs = []
    for path in sorted((DEMO / "text").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            docs += [json.loads(line)["text"] for line in handle]
        if len(docs) >= limit:
            break
    return [d for d in docs if len(d) > 40][:limit]


def _image_pairs(limit: int) -> list[tuple[str, np.ndarray]]:
    from PIL import Image

    pairs = []
    for path in sorted((DEMO / "image_text").glob("*.tar")):
        with tarfile.open(path) as archive:
            members = {m.name: m for m in archive if m.isfile()}
            for name in sorted(members):
                if not name.endswith(".jpg") or (txt := name[:-4] + ".txt") not in members:
                    continue
                caption = archive.extractfile(members[txt]).read().decode("utf-8").strip()  # type: ignore[union-attr]
                image = Image.open(io.BytesIO(archive.extractfile(members[name]).read()))  # type: ignore[union-attr]
                gray = np.asarray(image.convert("L").resize((8, 8), Image.Resampling.BILINEAR), dtype=np.int64)
                pairs.append((caption, gray // 16))
                if len(pairs) >= limit:
                    return pairs
    return pairs


def _audio_pairs(limit: int) -> list[tuple[str, np.ndarray]]:
    import soundfile as sf

    pairs = []
    lines = (DEMO / "audio_text" / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]
    for line in lines:
        rel, transcript, _ = line.split("\t")
        samples, rate = sf.read(DEMO / "audio_text" / rel, dtype="float32", always_2d=True)
        mono = samples.mean(axis=1)
        hop = rate // 50
        frames = mono[: (len(mono) // hop) * hop].reshape(-1, hop)
        energy = np.log10(np.mean(frames**2, axis=1) + 1e-8)  # about -8 .. 0
        start = int(np.argmax(energy > energy.max() - 3))  # skip the leading silence
        frames, energy = frames[start : start + 32], energy[start : start + 32]
        if len(frames) < 32:
            continue
        zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)) > 0, axis=1)
        codes = np.stack([np.clip(((energy + 8) * 2).astype(np.int64), 0, 15),
                          np.clip((zcr * 32).astype(np.int64), 0, 15)])
        pairs.append((transcript, codes))
        if len(pairs) >= limit:
            break
    return pairs


def _write_corpus(out: Path, name: str, records: list) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with ShardWriter(out, prefix=name, fingerprint=SPACE.fingerprint,
                     config=ShardWriterConfig(rows_per_batch=16)) as writer:
        writer.write_all(records)
    shards = writer.close()
    path = out / "manifest.json"
    CorpusManifest(name=name, token_space=SPACE.to_dict(), shards=shards,
                   tokenizer_fingerprint=TOKENIZER_FINGERPRINT).save(path)
    return path


@dataclasses.dataclass(frozen=True)
class TinyMixture:
    path: Path
    """The mixture manifest (text 0.5, image-text 0.3, audio-text 0.2 of the examples)."""
    token_space: TokenSpace
    root: Path


@pytest.fixture(scope="session")
def tiny_mixture(tmp_path_factory: pytest.TempPathFactory) -> TinyMixture:
    root = tmp_path_factory.mktemp("tiny_mixture")
    layout = SequenceLayout(SPACE)
    text = [layout.text(_bytes(t, 200)).to_record(f"text-{i}", "demo-text") for i, t in enumerate(_texts(160))]
    images = [layout.image_text(_bytes(c, 40), g).to_record(f"img-{i}", "demo-image")
              for i, (c, g) in enumerate(_image_pairs(96))]
    audio = [layout.audio_text(_bytes(c, 40), a).to_record(f"aud-{i}", "demo-audio")
             for i, (c, a) in enumerate(_audio_pairs(64))]
    assert len(text) >= 100 and len(images) >= 64 and len(audio) >= 48, (len(text), len(images), len(audio))
    components = {"text": (_write_corpus(root / "text", "text", text), 0.5),
                  "image_text": (_write_corpus(root / "image_text", "image_text", images), 0.3),
                  "audio_text": (_write_corpus(root / "audio_text", "audio_text", audio), 0.2)}
    path = root / "mixture.json"
    MixtureManifest(components=[MixtureComponent(name=n, manifest=str(p.relative_to(root)), weight=w)
                                for n, (p, w) in components.items()],
                    weight_unit="examples", token_space_fingerprint=SPACE.fingerprint).save(path)
    return TinyMixture(path=path, token_space=SPACE, root=root)


def tiny_config(mixture: Path, run_dir: Path, *, data: dict | None = None, run: dict | None = None,
                checkpoint: dict | None = None, **groups: object) -> TrainConfig:
    """The ``tiny`` preset on ``mixture``: 8 steps of 8 rows x 128 tokens, one torch thread, a metrics line per
    step and a checkpoint every 2 steps; keyword dicts replace fields of ``data``, ``run``, ``checkpoint``."""
    base = tiny()
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, **{"mixture": mixture, "seq_len": 128, "global_batch_size": 8,
                                               "prefetch": 0, **(data or {})}),
        run=dataclasses.replace(base.run, **{"run_dir": run_dir, "steps": 8, "tokens": None, "log_interval": 1,
                                             "progress": False, "log_level": "WARNING", "cpu_threads": 1,
                                             **(run or {})}),
        checkpoint=dataclasses.replace(base.checkpoint, **{"interval": 2, "keep_last": 2, **(checkpoint or {})}),
        **groups,  # type: ignore[arg-type]
    )


@pytest.fixture
def make_config(tiny_mixture: TinyMixture, tmp_path: Path) -> Callable[..., TrainConfig]:
    """:func:`tiny_config` on the session's tiny mixture, in ``tmp_path/run`` unless ``run_dir`` is given."""

    def make(*, run_dir: Path | None = None, **changes: object) -> TrainConfig:
        return tiny_config(tiny_mixture.path, run_dir or tmp_path / "run", **changes)  # type: ignore[arg-type]

    return make


@dataclasses.dataclass(frozen=True)
class ReferenceRun:
    config: TrainConfig
    result: TrainResult


@pytest.fixture(scope="session")
def reference_run(tiny_mixture: TinyMixture, tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    """8 uninterrupted steps of :func:`tiny_config` (one process), shared by the resume and DDP tests."""
    config = tiny_config(tiny_mixture.path, tmp_path_factory.mktemp("reference") / "run")
    return ReferenceRun(config=config, result=train(config))
