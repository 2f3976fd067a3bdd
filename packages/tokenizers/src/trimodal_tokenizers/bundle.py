"""A tokenizer bundle: the token space, the layout and the per-modality tokenizers in one directory.

Layout on disk::

    bundle/
      token_space.json   the TokenSpace (its fingerprint goes into every shard and manifest)
      bundle.json        format version, fingerprint, layout config, which parts are present
      text/              TextTokenizer
      image/             optional image tokenizer (any registered kind)
      audio/             optional AudioTokenizer

Data pipelines take the directory and call :meth:`TokenizerBundle.load` once per worker (``DoFn.setup``).
A bundle without image or audio still needs a valid token space: an absent modality reserves one
placeholder id (image codebook size 1; audio 1 codebook of 1 id), so text-only bundles work.
Image and audio modules (and torch) are imported only when the bundle holds them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimodal_core.atomic import atomic_write_text
from trimodal_core.token_space import DEFAULT_TASKS, TokenSpace, TokenSpaceConfig
from trimodal_tokenizers.image_protocol import DiscreteImageTokenizer, load_image_tokenizer
from trimodal_tokenizers.sequence import SequenceLayout, SequenceLayoutConfig
from trimodal_tokenizers.text_bpe import TextTokenizer

if TYPE_CHECKING:
    from trimodal_tokenizers.audio_dac import AudioTokenizer

_log = logging.getLogger(__name__)

BUNDLE_FILE = "bundle.json"
TOKEN_SPACE_FILE = "token_space.json"
BUNDLE_FORMAT_VERSION = 1


class TokenizerBundle:
    """Token space + layout + text tokenizer (+ optional image and audio tokenizers)."""

    def __init__(
        self,
        *,
        token_space: TokenSpace,
        text: TextTokenizer,
        image: DiscreteImageTokenizer | None = None,
        audio: AudioTokenizer | None = None,
        layout_config: SequenceLayoutConfig | None = None,
    ) -> None:
        cfg = token_space.config
        if text.vocab_size != cfg.text_vocab_size:
            raise ValueError(f"text vocab_size {text.vocab_size} != token space text_vocab_size {cfg.text_vocab_size}")
        if image is not None and image.codebook_size != cfg.image_codebook_size:
            raise ValueError(
                f"image codebook_size {image.codebook_size} != token space "
                f"image_codebook_size {cfg.image_codebook_size}"
            )
        if audio is not None and (audio.codebook_size, audio.num_codebooks) != (
            cfg.audio_codebook_size,
            cfg.audio_num_codebooks,
        ):
            raise ValueError(
                f"audio codec ({audio.num_codebooks} codebooks x {audio.codebook_size}) does not match the token "
                f"space ({cfg.audio_num_codebooks} x {cfg.audio_codebook_size})"
            )
        self.token_space = token_space
        self.text = text
        self.image = image
        self.audio = audio
        self.layout = SequenceLayout(token_space, layout_config)

    @classmethod
    def build(
        cls,
        *,
        text: TextTokenizer,
        image: DiscreteImageTokenizer | None = None,
        audio: AudioTokenizer | None = None,
        tasks: tuple[str, ...] = DEFAULT_TASKS,
        num_task_slots: int = 16,
        audio_shared_codebooks: bool = False,
        layout_config: SequenceLayoutConfig | None = None,
    ) -> TokenizerBundle:
        """Make the :class:`TokenSpace` from the tokenizers' sizes and bundle everything."""
        space = TokenSpace(
            TokenSpaceConfig(
                text_vocab_size=text.vocab_size,
                image_codebook_size=image.codebook_size if image is not None else 1,
                audio_codebook_size=audio.codebook_size if audio is not None else 1,
                audio_num_codebooks=audio.num_codebooks if audio is not None else 1,
                audio_shared_codebooks=audio_shared_codebooks,
                tasks=tasks,
                num_task_slots=num_task_slots,
            )
        )
        return cls(token_space=space, text=text, image=image, audio=audio, layout_config=layout_config)

    @property
    def fingerprint(self) -> str:
        return self.token_space.fingerprint

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        self.text.save(p / "text")
        if self.image is not None:
            self.image.save(p / "image")
        if self.audio is not None:
            self.audio.save(p / "audio")
        self.token_space.save(p / TOKEN_SPACE_FILE)
        meta: dict[str, Any] = {
            "format_version": BUNDLE_FORMAT_VERSION,
            "fingerprint": self.fingerprint,
            "layout": dataclasses.asdict(self.layout.config),
            "text": "text",
            "image": "image" if self.image is not None else None,
            "audio": "audio" if self.audio is not None else None,
        }
        # bundle.json last: its presence marks a complete bundle.
        atomic_write_text(p / BUNDLE_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        _log.info("saved tokenizer bundle %s (fingerprint %s) to %s", self.parts(), self.fingerprint, p)

    @classmethod
    def load(cls, path: str | Path) -> TokenizerBundle:
        p = Path(path)
        meta_path = p / BUNDLE_FILE
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise ValueError(f"{p}: no {BUNDLE_FILE}; not a tokenizer bundle (or an unfinished one)") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{meta_path}: not valid JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format_version") != BUNDLE_FORMAT_VERSION:
            raise ValueError(f"{meta_path}: unknown bundle format_version")
        space = TokenSpace.load(p / TOKEN_SPACE_FILE)
        if meta.get("fingerprint") != space.fingerprint:
            raise ValueError(f"{p}: {TOKEN_SPACE_FILE} fingerprint does not match {BUNDLE_FILE}")
        try:
            layout_config = SequenceLayoutConfig(**(meta.get("layout") or {}))
        except TypeError as exc:
            raise ValueError(f"{meta_path}: bad layout config ({exc})") from None
        text = TextTokenizer.load(p / _subdir(meta, "text", meta_path))
        image = load_image_tokenizer(p / _subdir(meta, "image", meta_path)) if meta.get("image") else None
        audio = None
        if meta.get("audio"):
            from trimodal_tokenizers.audio_dac import AudioTokenizer

            audio = AudioTokenizer.load(p / _subdir(meta, "audio", meta_path))
        return cls(token_space=space, text=text, image=image, audio=audio, layout_config=layout_config)

    def parts(self) -> list[str]:
        return ["text", *(["image"] if self.image is not None else []), *(["audio"] if self.audio is not None else [])]

    def __repr__(self) -> str:
        return f"TokenizerBundle(parts={self.parts()}, {self.token_space!r})"


def _subdir(meta: dict[str, Any], key: str, source: Path) -> str:
    name = meta.get(key)
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ValueError(f"{source}: bad sub-directory name for {key!r}: {name!r}")
    return name
