"""CUDA paths (skipped without a GPU): same shapes as on CPU and nearly the same codes."""

from __future__ import annotations

import numpy as np
import pytest

from trimodal_tokenizers.audio_dac import AudioTokenizer, AudioTokenizerConfig
from trimodal_tokenizers.image_fsq import ImageTokenizer, ImageTokenizerConfig


@pytest.mark.gpu
def test_image_and_audio_tokenizers_on_cuda(real_images: list[object]) -> None:
    gpu = ImageTokenizer.from_random_init(ImageTokenizerConfig.tiny(), device="cuda")
    cpu = ImageTokenizer.from_random_init(ImageTokenizerConfig.tiny(), device="cpu")
    codes = gpu.encode_batch(real_images[:8])
    assert codes.shape == (8, 64) and codes.dtype == np.int64
    assert (codes == cpu.encode_batch(real_images[:8])).mean() > 0.95  # float rounding may flip a few codes
    assert all(im.size == (32, 32) for im in gpu.decode_batch(codes))
    audio = AudioTokenizer.from_random_init(AudioTokenizerConfig(variant="tiny", num_codebooks=2, device="cuda"))
    wave = np.sin(np.arange(8000) / 9).astype(np.float32)
    audio_codes = audio.encode(wave, 22050)
    assert audio_codes.shape == (2, -(-round(8000 * 16000 / 22050) // 320))
    assert len(audio.decode(audio_codes)) == audio_codes.shape[1] * 320
