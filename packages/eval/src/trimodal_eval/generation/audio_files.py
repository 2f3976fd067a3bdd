"""WAV files with the standard library's ``wave``: integer PCM in (8/16/24/32-bit, any channels), 16-bit out.

Reading averages the channels to mono and scales to float32 in [-1, 1]; writing clips to [-1, 1] and stores
16-bit mono PCM. Float WAVs (format 3) are not read by ``wave``: convert them to integer PCM first.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """``(mono float32 waveform, sample rate)`` of an integer-PCM WAV file."""
    try:
        with wave.open(str(path), "rb") as f:
            width, channels, rate = f.getsampwidth(), f.getnchannels(), f.getframerate()
            raw = f.readframes(f.getnframes())
    except FileNotFoundError:
        raise ValueError(f"audio file not found: {path}") from None
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path}: not an integer-PCM WAV file ({exc})") from None
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        data = (np.where(value >= 2**23, value - 2**24, value) / 2.0**23).astype(np.float32)
    elif width in (2, 4):
        data = np.frombuffer(raw, dtype=f"<i{width}").astype(np.float32) / float(2 ** (8 * width - 1))
    else:
        raise ValueError(f"{path}: unsupported sample width {width} bytes")
    if data.size == 0:
        raise ValueError(f"{path}: no audio frames")
    return data.reshape(-1, channels).mean(axis=1).astype(np.float32), rate


def wav_bytes(wave_N: np.ndarray, sample_rate: int) -> bytes:
    """16-bit mono PCM WAV file contents of a float waveform."""
    pcm = (np.clip(np.asarray(wave_N, dtype=np.float64), -1.0, 1.0) * 32767.0).round().astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(pcm.tobytes())
    return buffer.getvalue()
