from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from trimodal_tokenizers.audio_dac import AudioTokenizer, AudioTokenizerConfig, _dac_kwargs
from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.text_bpe import TextTokenizer

CLIPS = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data" / "audio_text" / "clips"


@pytest.fixture(scope="module")
def codec() -> AudioTokenizer:
    return AudioTokenizer.from_random_init(AudioTokenizerConfig(variant="tiny", num_codebooks=3, device="cpu"))


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    """A real flite clip from the demo data, or flite-like synthetic speech formants when it is absent."""
    clips = sorted(CLIPS.glob("*.ogg"))
    if clips:
        wave, rate = sf.read(clips[0], dtype="float32")
        return wave[:rate], rate
    t = np.arange(32000) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32), 16000


def test_encode_shape_range_and_decode_length(codec: AudioTokenizer, speech: tuple[np.ndarray, int]) -> None:
    wave, rate = speech
    codes = codec.encode(wave, rate)
    n = round(len(wave) * codec.sample_rate / rate)
    assert codes.dtype == np.int64
    assert codes.shape == (3, -(-n // codec.hop_length))
    assert codes.min() >= 0 and codes.max() < codec.codebook_size
    out = codec.decode(codes)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert abs(len(out) - n) < codec.hop_length  # within one codec frame


def test_encoding_is_deterministic_and_batch_independent(codec: AudioTokenizer, speech: tuple[np.ndarray, int]) -> None:
    wave, rate = speech
    single = codec.encode(wave, rate)
    batch = codec.encode_batch([wave[:5000], wave, wave[:5000] * 0.5], rate)
    np.testing.assert_array_equal(batch[1], single)
    np.testing.assert_array_equal(codec.encode(wave[:5000], rate), batch[0])
    assert batch[0].shape[1] == -(-5000 // codec.hop_length)


def test_resamples_other_rates(codec: AudioTokenizer, speech: tuple[np.ndarray, int]) -> None:
    wave, rate = speech
    codes = codec.encode(wave, rate * 2)  # the same samples declared at twice the rate: half the duration
    assert codes.shape[1] == -(-round(len(wave) / 2) // codec.hop_length)


def test_save_load_gives_identical_codes(tmp_path: Path, codec: AudioTokenizer, speech: tuple[np.ndarray, int]) -> None:
    codec.save(tmp_path / "a")
    loaded = AudioTokenizer.load(tmp_path / "a", device="cpu")
    assert (loaded.num_codebooks, loaded.codebook_size, loaded.sample_rate) == (3, 1024, 16000)
    np.testing.assert_array_equal(loaded.encode(*speech), codec.encode(*speech))


def test_official_pth_layout_loads_with_weights_only(tmp_path: Path, codec: AudioTokenizer) -> None:
    kwargs = _dac_kwargs(codec.arch)
    torch.save({"state_dict": codec.model.state_dict(), "metadata": {"kwargs": kwargs}}, tmp_path / "weights.pth")
    imported = AudioTokenizer.from_dac_weights(tmp_path / "weights.pth", num_codebooks=2, device="cpu")
    assert imported.arch == codec.arch and imported.num_codebooks == 2
    wave = np.sin(np.arange(4000) / 7).astype(np.float32)
    np.testing.assert_array_equal(imported.encode(wave, 16000), codec.encode(wave, 16000)[:2])
    with pytest.raises(ValueError, match="not found"):
        AudioTokenizer.from_dac_weights(tmp_path / "missing.pth", num_codebooks=2)
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pth"):
        AudioTokenizer.from_dac_weights(tmp_path / "bad.pth", num_codebooks=2)


def test_one_sample_clip_gives_one_frame(codec: AudioTokenizer) -> None:
    codes = codec.encode(np.array([0.1], dtype=np.float32), 16000)
    assert codes.shape == (3, 1)
    assert codec.encode(np.array([0.1], dtype=np.float32), 44100).shape == (3, 1)
    assert len(codec.decode(codes)) == codec.hop_length


@pytest.mark.parametrize(
    ("wave", "rate", "message"),
    [
        (np.array([0.0, np.nan, 0.1], dtype=np.float32), 16000, "NaN"),
        (np.array([0.0, np.inf], dtype=np.float32), 16000, "NaN or infinite"),
        (np.zeros(0, dtype=np.float32), 16000, "empty"),
        (np.zeros(100, dtype=np.int16), 16000, "not floating point"),
        (np.zeros((2, 100), dtype=np.float32), 16000, "mono"),
        (np.zeros(100, dtype=np.float32), 0, "sample_rate"),
        (np.zeros(100, dtype=np.float32), -16000, "sample_rate"),
        (np.zeros(100, dtype=np.float32), 16000.5, "sample_rate"),
        (np.zeros(100, dtype=np.float32), 10**7, "sample_rate"),
    ],
)
def test_bad_clips_are_value_errors(codec: AudioTokenizer, wave: np.ndarray, rate: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        codec.encode_batch([np.zeros(10, np.float32), wave], rate)


def test_bad_codes_are_value_errors(codec: AudioTokenizer) -> None:
    with pytest.raises(ValueError, match="shape"):
        codec.decode(np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="integers"):
        codec.decode(np.full((3, 4), 1024))


def test_audio_text_bundle_round_trip(
    tmp_path: Path, codec: AudioTokenizer, text_tokenizer: TextTokenizer, speech: tuple[np.ndarray, int]
) -> None:
    bundle = TokenizerBundle.build(text=text_tokenizer, audio=codec)
    bundle.save(tmp_path / "b")
    loaded = TokenizerBundle.load(tmp_path / "b")
    assert loaded.audio is not None and loaded.parts() == ["text", "audio"]
    codes = loaded.audio.encode(*speech)
    seq = loaded.layout.audio_text(loaded.text.encode("In the beginning."), codes)
    parsed = bundle.layout.parse(seq.tokens)
    np.testing.assert_array_equal(parsed.audio_codes, codes)
    assert bundle.text.decode(parsed.text_ids) == "In the beginning."
