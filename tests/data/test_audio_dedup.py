"""Audio-text duplicates are decided by the audio: distinct recordings of one sentence survive, copies of one
recording (re-encoded, resampled, re-gained, padded) are removed; transcript dedupe is off by default and,
switched on, stays within one speaker.

The recordings are the committed flite takes in ``fixtures/speech_takes`` (three sentences, each read by slt,
kal16 and rms and by slt at a higher pitch), plus demo clips (other sentences and voices); with Debian
``flite`` installed, one more voice (awb) and sentence are synthesized here.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import shutil
import subprocess
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
import soundfile as sf
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from trimodal_data.dedup.acoustic import AcousticDedupConfig, band_keys, fingerprint, hamming
from trimodal_data.dedup.minhash import MinHashConfig
from trimodal_data.pipelines.audio_text import TRANSCRIPT_REASON, _item_speaker
from trimodal_data.records import AudioItem
from trimodal_data.transforms.minhash_dedup import MinHashDedup
from trimodal_tokenizers.audio_inputs import resample

TAKES = Path(__file__).resolve().parent / "fixtures" / "speech_takes"
DEMO_CLIPS = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data" / "audio_text" / "clips"
CONFIG = AcousticDedupConfig()


def _reencode(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> tuple[np.ndarray, int]:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    decoded, decoded_rate = sf.read(io.BytesIO(buf.getvalue()), dtype="float32", always_2d=True)
    return decoded.mean(axis=1), decoded_rate


def copies_of(samples: np.ndarray, rate: int) -> dict[str, tuple[np.ndarray, int]]:
    """Files one recording becomes: other containers and sample formats, lossy re-encoding, resampling,
    gain, added silence."""
    silence = np.zeros(rate // 3, np.float32)
    out = {
        "flac": _reencode(samples, rate, "FLAC"),
        "wav-float": _reencode(samples, rate, "WAV", "FLOAT"),
        "ogg": _reencode(samples, rate, "OGG", "VORBIS"),
        "22k-ogg": _reencode(resample(samples, rate, 22050), 22050, "OGG", "VORBIS"),
        "44k-wav": _reencode(resample(samples, rate, 44100), 44100, "WAV", "PCM_16"),
        "8k-wav": _reencode(resample(samples, rate, 8000), 8000, "WAV", "PCM_16"),
        "minus-6db": _reencode(samples * 0.5, rate, "OGG", "VORBIS"),
        "pad-330ms": _reencode(np.concatenate([silence, samples, silence]), rate, "OGG", "VORBIS"),
    }
    with contextlib.suppress(sf.LibsndfileError, TypeError, ValueError):  # libsndfile without MPEG writing
        out["mp3"] = _reencode(samples, rate, "MP3")
    return out


def _flite_takes(tmp: Path) -> dict[str, tuple[np.ndarray, int]]:
    """More distinct recordings when flite is installed: a fourth voice, and a fourth sentence in two voices."""
    if shutil.which("flite") is None:
        return {}
    takes = {}
    for key, voice, text in [("gen-001-003-awb", "awb", "And God said, Let there be light: and there was light."),
                             ("mat-005-009-slt", "slt", "Blessed are the peacemakers: for they shall be called the "
                                                        "children of God."),
                             ("mat-005-009-kal16", "kal16", "Blessed are the peacemakers: for they shall be called the "
                                                            "children of God.")]:
        wav = tmp / f"{key}.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wav)], check=True)
        takes[key] = sf.read(wav, dtype="float32")
    return takes


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, int]]:
    """Distinct recordings by name: every committed take, flite takes if available, and 40 demo clips."""
    out = {p.stem: sf.read(p, dtype="float32") for p in sorted(TAKES.glob("*.ogg"))}
    out |= _flite_takes(tmp_path_factory.mktemp("flite"))
    demo = [p for p in sorted(DEMO_CLIPS.glob("*.ogg")) if not p.name.startswith("planted")]
    out |= {f"demo-{p.stem}": sf.read(p, dtype="float32") for p in demo[::5][:40]}
    return out


def _found_pairs(fingerprints: dict[str, bytes]) -> set[frozenset[str]]:
    """Pairs the pipeline's acoustic stage finds: LSH band candidates, verified by Hamming distance."""
    buckets: dict[bytes, list[str]] = {}
    for name, fp in fingerprints.items():
        for key in band_keys(fp, CONFIG):
            buckets.setdefault(key, []).append(name)
    found = set()
    for members in buckets.values():
        for a, b in itertools.combinations(members, 2):
            if hamming(fingerprints[a], fingerprints[b]) <= CONFIG.max_bits:
                found.add(frozenset((a, b)))
    return found


def _plant(recordings: dict[str, tuple[np.ndarray, int]], originals: list[str], variants: set[str] | None = None
           ) -> tuple[dict[str, bytes], set[frozenset[str]], list[int]]:
    """Fingerprints of the recordings and of copies of ``originals``; the true duplicate pairs; copy distances."""
    fingerprints = {name: fingerprint(x, rate, CONFIG) for name, (x, rate) in recordings.items()}
    truth: set[frozenset[str]] = set()
    distances = []
    for original in originals:
        names = [original]
        for variant, (y, rate) in copies_of(*recordings[original]).items():
            if variants is None or variant in variants:
                name = f"{original}~{variant}"
                fingerprints[name] = fingerprint(y, rate, CONFIG)
                distances.append(hamming(fingerprints[original], fingerprints[name]))
                names.append(name)
        truth |= {frozenset(pair) for pair in itertools.combinations(names, 2)}
    return fingerprints, truth, distances


def test_takes_of_one_sentence_survive_and_copies_are_found() -> None:
    """The committed takes only (12 recordings of 3 sentences), copies of three of them: quick."""
    takes = {p.stem: sf.read(p, dtype="float32") for p in sorted(TAKES.glob("*.ogg"))}
    originals = ["gen-001-003-slt", "psa-023-001-kal16", "pro-015-001-rms"]
    fingerprints, truth, _ = _plant(takes, originals, {"flac", "22k-ogg", "8k-wav", "minus-6db", "pad-330ms"})
    assert _found_pairs(fingerprints) == truth


@pytest.mark.slow  # ~260 fingerprints and 200 encodings: about 30 s on a quiet 2-core machine
def test_planted_copies_precision_and_recall(recordings: dict[str, tuple[np.ndarray, int]], capsys) -> None:
    takes = [name for name in recordings if not name.startswith("demo-")]
    demo = [name for name in recordings if name.startswith("demo-")]
    fingerprints, truth, distances = _plant(recordings, takes + demo[:8])
    closest = min(hamming(fingerprints[a], fingerprints[b]) for a, b in itertools.combinations(recordings, 2))
    found = _found_pairs(fingerprints)
    true_found = len(found & truth)
    precision, recall = true_found / max(1, len(found)), true_found / len(truth)
    with capsys.disabled():
        print(f"\nacoustic dedupe on {len(recordings)} recordings + {len(distances)} planted copies: "
              f"precision {precision:.3f}, recall {recall:.3f} over {len(truth)} duplicate pairs; copies differ in "
              f"<= {max(distances) / CONFIG.num_bits:.3f} of the bits, distinct recordings in >= "
              f"{closest / CONFIG.num_bits:.3f}")
    assert closest > CONFIG.max_bits  # every distinct recording, takes of one sentence included, survives
    assert max(distances) <= CONFIG.max_bits
    assert precision == 1.0 and recall >= 0.97


def _item(example_id: str, transcript: str, speaker: str | None) -> AudioItem:
    return AudioItem(example_id=example_id, source="s", transcript=transcript, samples=np.zeros(4, np.float32),
                     sample_rate=16000, digest=example_id, speaker=speaker)


def test_transcript_dedupe_stays_within_one_speaker() -> None:
    sentence = "the lord is my shepherd and i shall not want for anything at all"
    items = [_item("a1", sentence, "alice"), _item("a2", sentence, "bob"), _item("b1", sentence + " today", "carol"),
             _item("b2", sentence, "carol"), _item("c1", sentence, None), _item("d1", "another sentence here", "bob")]
    with BeamTestPipeline() as p:
        clips = p | beam.Create(items)
        for scope, removed in (("speaker", ["b2"]), ("all", ["a2", "b1", "b2", "c1"])):
            out = clips | f"Dedup{scope}" >> MinHashDedup(
                MinHashConfig(ngram=3), text_fn=lambda x: x.transcript, id_fn=lambda x: x.example_id,
                source_fn=lambda x: x.source, reason=TRANSCRIPT_REASON,
                group_fn=_item_speaker if scope == "speaker" else None,
            )
            assert_that(out.rejects | f"Ids{scope}" >> beam.Map(lambda r: r.id), equal_to(removed), label=scope)
