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
formatted by the tokenizers' ``SequenceLayout``. The featurizers are the experiment studies' own
(``trimodal_eval.experiments.data``), so both build the same kind of data from one implementation.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path

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
from trimodal_eval.experiments.data import demo_audio_pairs, demo_image_pairs, demo_texts, utf8_bytes
from trimodal_tokenizers.sequence import SequenceLayout
from trimodal_train.config import TrainConfig
from trimodal_train.configs import tiny
from trimodal_train.trainer import TrainResult, train

DEMO = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data"
# The throwaway tokenizers below have no files to hash; this digest of their description stands in for one.
TOKENIZER_FINGERPRINT = hashlib.sha256(b"tests/train: utf-8 bytes; 8x8 gray/16; 20 ms energy+zcr/16; v1").hexdigest()
SPACE = TokenSpace(TokenSpaceConfig(text_vocab_size=256, image_codebook_size=16, audio_codebook_size=16,
                                    audio_num_codebooks=2))


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
    text = [layout.text(utf8_bytes(t, 200)).to_record(f"text-{i}", "demo-text")
            for i, t in enumerate(demo_texts(DEMO, 160))]
    images = [layout.image_text(utf8_bytes(c, 40), g).to_record(f"img-{i}", "demo-image")
              for i, (c, g) in enumerate(demo_image_pairs(DEMO, 96))]
    audio = [layout.audio_text(utf8_bytes(c, 40), a).to_record(f"aud-{i}", "demo-audio")
             for i, (c, a) in enumerate(demo_audio_pairs(DEMO, 64))]
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
