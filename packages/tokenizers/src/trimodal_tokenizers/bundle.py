"""A tokenizer bundle: the token space, the layout and the per-modality tokenizers in one directory.

Layout on disk::

    bundle/
      token_space.json   the TokenSpace (its fingerprint goes into every shard and manifest)
      bundle.json        format version, token-space fingerprint, tokenizer fingerprint, layout config,
                         which parts are present
      text/              TextTokenizer
      image/             optional image tokenizer (any registered kind)
      audio/             optional audio tokenizer (any registered kind: dac, codec2, ...)

Data pipelines take the directory and call :meth:`TokenizerBundle.load` once per worker (``DoFn.setup``).
A bundle without image or audio still needs a valid token space: an absent modality reserves one
placeholder id (image codebook size 1; audio 1 codebook of 1 id), so text-only bundles work.
Image and audio modules (and torch) are imported only when the bundle holds them.

Two fingerprints: ``fingerprint`` is the token space's (the id layout; stored in every shard);
``tokenizer_fingerprint`` hashes the tokenizers' content (``tokenizer.json``, weights, configs; see
:mod:`trimodal_tokenizers.fingerprint`) and goes into every corpus and mixture manifest, so corpora made by
other tokenizers of the same sizes are told apart. :meth:`TokenizerBundle.save` records it in
``bundle.json``; :meth:`TokenizerBundle.load` recomputes it from the files and refuses a bundle whose parts
changed after it was saved. A bundle saved before the field existed loads with a warning and the recomputed
value.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from trimodal_core.atomic import atomic_write_text
from trimodal_core.token_space import DEFAULT_TASKS, TokenSpace, TokenSpaceConfig
from trimodal_tokenizers.audio_protocol import DiscreteAudioTokenizer, load_audio_tokenizer
from trimodal_tokenizers.fingerprint import bundle_fingerprint, combine_fingerprint, directory_digest
from trimodal_tokenizers.image_protocol import DiscreteImageTokenizer, load_image_tokenizer
from trimodal_tokenizers.sequence import SequenceLayout, SequenceLayoutConfig
from trimodal_tokenizers.text_bpe import TextTokenizer

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
        audio: DiscreteAudioTokenizer | None = None,
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
        self._tokenizer_fingerprint: str | None = None

    @classmethod
    def build(
        cls,
        *,
        text: TextTokenizer,
        image: DiscreteImageTokenizer | None = None,
        audio: DiscreteAudioTokenizer | None = None,
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
        """The token space's fingerprint (the id layout; stored in every shard)."""
        return self.token_space.fingerprint

    @property
    def tokenizer_fingerprint(self) -> str:
        """sha256 over the tokenizers' saved content (known once the bundle is saved or loaded)."""
        if self._tokenizer_fingerprint is None:
            raise ValueError("the tokenizer fingerprint hashes the saved files: save the bundle first")
        return self._tokenizer_fingerprint

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
        # The same computation as bundle_fingerprint(p), from the files just written.
        parts = {name: directory_digest(p / sub) for name, sub in bundle_parts(meta, p / BUNDLE_FILE).items()}
        meta["tokenizer_fingerprint"] = self._tokenizer_fingerprint = combine_fingerprint(
            token_space=self.fingerprint, layout=meta["layout"], parts=parts
        )
        # bundle.json last: its presence marks a complete bundle.
        atomic_write_text(p / BUNDLE_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        _log.info("saved tokenizer bundle %s (token space %s, tokenizer %s) to %s", self.parts(), self.fingerprint,
                  self._tokenizer_fingerprint, p)

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
        actual = bundle_fingerprint(p)
        recorded = meta.get("tokenizer_fingerprint")
        if recorded is None:
            _log.warning("%s: saved before tokenizer fingerprints; using %s computed from its files "
                         "(save the bundle again to record it)", meta_path, actual)
        elif recorded != actual:
            raise ValueError(
                f"{p}: tokenizer files changed after the bundle was saved ({BUNDLE_FILE} records tokenizer "
                f"fingerprint {recorded}, the files hash to {actual}); rebuild the bundle"
            )
        text = TextTokenizer.load(p / _subdir(meta, "text", meta_path))
        image = load_image_tokenizer(p / _subdir(meta, "image", meta_path)) if meta.get("image") else None
        audio = load_audio_tokenizer(p / _subdir(meta, "audio", meta_path)) if meta.get("audio") else None
        bundle = cls(token_space=space, text=text, image=image, audio=audio, layout_config=layout_config)
        bundle._tokenizer_fingerprint = actual
        return bundle

    def parts(self) -> list[str]:
        return ["text", *(["image"] if self.image is not None else []), *(["audio"] if self.audio is not None else [])]

    def __repr__(self) -> str:
        return f"TokenizerBundle(parts={self.parts()}, {self.token_space!r})"


def bundle_parts(meta: dict[str, Any], source: Path) -> dict[str, str]:
    """Sub-directory of each part present in a ``bundle.json`` (``text`` always; ``image``/``audio`` if set)."""
    return {key: _subdir(meta, key, source) for key in ("text", "image", "audio") if key == "text" or meta.get(key)}


def _subdir(meta: dict[str, Any], key: str, source: Path) -> str:
    name = meta.get(key)
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ValueError(f"{source}: bad sub-directory name for {key!r}: {name!r}")
    return name
