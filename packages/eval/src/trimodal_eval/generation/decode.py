"""Generated target tokens back to text, PNG and WAV through the tokenizer bundle.

Text targets are cut at their first ``eot`` (the sampler already turned what followed into padding); an
infilled middle is returned alone and inside its prefix and suffix. Images go through the image tokenizer's
``decode_batch``, audio through the layout's ``unflatten_audio`` (``[K, T]`` codes) and the codec.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np

from trimodal_core import Modality
from trimodal_eval.generation.audio_files import wav_bytes
from trimodal_eval.generation.requests import GenerationRequest
from trimodal_tokenizers import TokenizerBundle


@dataclasses.dataclass(frozen=True, kw_only=True)
class DecodedSample:
    """One generated output."""

    text: str | None = None
    """Generated text (text targets)."""
    full_text: str | None = None
    """Prefix + middle + suffix (``infill``)."""
    png: bytes | None = None
    """Generated image (``t2i``)."""
    wav: bytes | None = None
    """Generated speech (``t2s``)."""
    num_tokens: int = 0
    """Generated target tokens kept (for text: before ``eot``)."""
    ended: bool = False
    """The text target produced ``eot``."""


def decode_sample(bundle: TokenizerBundle, request: GenerationRequest, tokens_L: np.ndarray,
                  target_L: np.ndarray) -> DecodedSample:
    """Decode one finished row (its final tokens and kept target positions)."""
    space = bundle.token_space
    ids = np.asarray(tokens_L, dtype=np.int64)[np.asarray(target_L, dtype=bool)]
    modality = request.target_modality
    if modality == "text":
        eot = np.flatnonzero(ids == space.special_id("eot"))
        ended = bool(eot.size)
        content = ids[: int(eot[0])] if ended else ids
        text = bundle.text.decode(space.to_local(Modality.TEXT, content))
        full = None
        if request.task == "infill":
            full = bundle.text.decode(np.concatenate([
                bundle.text.encode(request.text or ""), space.to_local(Modality.TEXT, content),
                bundle.text.encode(request.suffix or "")]))
        return DecodedSample(text=text, full_text=full, num_tokens=len(content), ended=ended)
    if modality == "image":
        assert bundle.image is not None
        image = bundle.image.decode_batch(space.to_local(Modality.IMAGE, ids)[None])[0]
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return DecodedSample(png=buffer.getvalue(), num_tokens=len(ids))
    assert bundle.audio is not None
    wave = bundle.audio.decode(bundle.layout.unflatten_audio(ids))
    return DecodedSample(wav=wav_bytes(wave, bundle.audio.sample_rate), num_tokens=len(ids))
