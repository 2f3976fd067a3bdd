"""What each media pipeline needs from the optional extras, checked at launch before any Beam worker starts.

The base ``trimodal-data`` install runs the text pipeline only (Beam, pyarrow, text rules, HF tokenizers; no
torch). ``trimodal-data[image]`` adds torch, open_clip, faiss, imagehash and the image tokenizer;
``trimodal-data[audio]`` adds torch, torchaudio, soundfile and the audio codecs (DAC, Codec 2);
``trimodal-data[all]`` both. Without them a media command stops at once with one message naming the extra and
every missing module, instead of failing later inside a worker.
"""

from __future__ import annotations

from trimodal_core.extras import check_extra

MEDIA_EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "image": ("torch", "open_clip", "faiss", "imagehash", "trimodal_tokenizers.image_fsq"),
    "audio": ("torch", "torchaudio", "soundfile", "trimodal_tokenizers.audio_codec2", "trimodal_tokenizers.audio_dac"),
}


def require_media_extra(kind: str) -> None:
    """Raise ``MissingExtraError`` naming ``trimodal-data[kind]`` unless every module the pipeline needs imports."""
    if kind not in MEDIA_EXTRA_MODULES:
        raise ValueError(f"unknown media kind {kind!r}; expected one of {sorted(MEDIA_EXTRA_MODULES)}")
    check_extra(MEDIA_EXTRA_MODULES[kind], package="trimodal-data", extra=kind, feature=f"the {kind}-text pipeline")
