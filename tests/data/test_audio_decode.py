"""Audio decoding guards, resampling and the audio rules, on flite speech from the demo corpus."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trimodal_data.decode.audio import AudioDecodeConfig, decode_audio
from trimodal_data.hashing import pcm_digest
from trimodal_data.rules.audio import (
    AudioRulesConfig,
    audio_reason,
    clipped_fraction,
    silent_fraction,
)
from trimodal_tokenizers.decode_error import DecodeError

CLIPS = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data" / "audio_text" / "clips"


def _speech_clip() -> bytes:
    return sorted(p for p in CLIPS.glob("*.ogg") if not p.name.startswith("planted"))[0].read_bytes()


def _wav(samples: np.ndarray, rate: int, subtype: str = "FLOAT") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def test_real_speech_decodes_and_resamples() -> None:
    audio = decode_audio(_speech_clip())
    assert audio.sample_rate == audio.source_rate == 16000
    assert 3.0 <= audio.seconds <= 8.5
    up = decode_audio(_speech_clip(), AudioDecodeConfig(target_rate=44100))
    assert up.sample_rate == 44100 and abs(up.seconds - audio.seconds) < 1e-3
    assert audio_reason(audio.samples, audio.sample_rate, audio.source_rate, AudioRulesConfig()) is None


@pytest.mark.parametrize("fmt", ["FLAC", "WAV", "OGG", "MP3"])
def test_formats_decode_to_mono(fmt: str) -> None:
    t = np.arange(16000) / 16000
    stereo = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1).astype(np.float32) * 0.5
    buf = io.BytesIO()
    sf.write(buf, stereo, 16000, format=fmt)
    audio = decode_audio(buf.getvalue())
    assert audio.samples.ndim == 1 and audio.source_channels == 2
    assert abs(audio.seconds - 1.0) < 0.1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty_file"),
        (b"RIFF\x00\x00\x00\x00WAVEnot really", "audio_decode_error"),
        (_wav(np.array([0.1, np.nan, 0.2], np.float32), 16000), "audio_non_finite"),
        (_wav(np.zeros(0, np.float32), 16000), "audio_empty"),
    ],
    ids=["empty", "not-riff-data", "nan-sample", "no-samples"],  # libsndfile stamps WAV headers with the time
)
def test_broken_audio_is_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_audio(data)
    assert info.value.reason == reason


def test_truncated_flac_is_rejected_or_shorter() -> None:
    buf = io.BytesIO()
    sf.write(buf, np.random.default_rng(0).uniform(-0.5, 0.5, 32000).astype(np.float32), 16000, format="FLAC")
    with pytest.raises(DecodeError, match="audio_decode_error"):
        decode_audio(buf.getvalue()[:30])


def test_long_file_is_refused_before_decoding() -> None:
    data = _wav(np.zeros(16000 * 3, np.float32), 16000)
    with pytest.raises(DecodeError, match="audio_too_long_to_decode"):
        decode_audio(data, AudioDecodeConfig(max_seconds=2.0))


def test_one_sample_clip_fails_duration_rule() -> None:
    audio = decode_audio(_wav(np.array([0.3], np.float32), 16000))
    assert audio_reason(audio.samples, audio.sample_rate, audio.source_rate, AudioRulesConfig()) == "audio_too_short"


def test_rules_clipping_silence_rate() -> None:
    config = AudioRulesConfig()
    speech = decode_audio(_speech_clip())
    loud = np.clip(speech.samples * 50, -1, 1)
    assert clipped_fraction(loud, 0.999) > 0.01
    assert audio_reason(loud, 16000, 16000, config) == "audio_clipping"
    quiet = np.concatenate([speech.samples[:8000], np.zeros(16000 * 5, np.float32)])
    assert silent_fraction(quiet, 16000, -50.0) > 0.8
    assert audio_reason(quiet, 16000, 16000, config) == "audio_mostly_silent"
    assert audio_reason(speech.samples, 16000, 4000, config) == "audio_sample_rate_low"
    assert audio_reason(np.zeros(16000 * 40, np.float32), 16000, 16000, config) == "audio_too_long"


def test_pcm_digest_equal_for_same_pcm_in_other_container() -> None:
    # Integer samples, so both encoders store exactly the same PCM (float input is rounded differently).
    samples = np.random.default_rng(1).integers(-16000, 16000, 8000).astype(np.int16)
    wav_bytes = _wav(samples, 16000, subtype="PCM_16")
    buf = io.BytesIO()
    sf.write(buf, samples, 16000, format="FLAC", subtype="PCM_16")
    assert buf.getvalue() != wav_bytes
    wav = decode_audio(wav_bytes)
    assert pcm_digest(wav) == pcm_digest(decode_audio(buf.getvalue()))
    assert pcm_digest(wav) != pcm_digest(decode_audio(_wav(samples // 2, 16000, subtype="PCM_16")))
