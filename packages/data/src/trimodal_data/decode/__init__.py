"""Guarded decoding of untrusted image and audio bytes."""

from trimodal_data.decode.audio import AudioDecodeConfig, DecodedAudio, decode_audio, pcm_digest
from trimodal_data.decode.errors import DecodeError
from trimodal_data.decode.image import ImageDecodeConfig, decode_image, pixel_digest

__all__ = [
    "AudioDecodeConfig",
    "DecodeError",
    "DecodedAudio",
    "ImageDecodeConfig",
    "decode_audio",
    "decode_image",
    "pcm_digest",
    "pixel_digest",
]
