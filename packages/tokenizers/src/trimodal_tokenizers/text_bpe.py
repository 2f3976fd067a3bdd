"""Byte-level BPE text tokenizer on Hugging Face ``tokenizers``: train, load, save, encode and decode.

The tokenizer emits *local* text ids (``0 .. vocab_size-1``); :class:`trimodal_core.TokenSpace` adds the
offset. Training uses a byte-level pre-tokenizer with the full 256-symbol byte alphabet and no normalizer,
so every Unicode string round-trips exactly. Boundary and task tokens live in the token space, never in the
text vocabulary; a loaded ``tokenizer.json`` that carries its own special tokens has them encoded as plain
text (``encode_special_tokens``), so a special token is never produced from user text. A plain byte-level
BPE (what :meth:`TextTokenizer.train` builds) encodes through :class:`~trimodal_tokenizers.bpe_pieces.PieceEncoder`
(the same ids as HF's ``encode_batch_fast``, about 3.5x less CPU); other tokenizers and texts it does not cover go
to HF directly.

Run: ``trimodal-tokenizers train-text --input corpus.txt --vocab-size 8192 --out runs/tok/text``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from trimodal_core.atomic import atomic_write_text
from trimodal_tokenizers.bpe_pieces import PieceEncoder, supports

_log = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
META_FILE = "text_tokenizer.json"
TEXT_FORMAT_VERSION = 1
_PROBE = "Grüße, 世界! \t\n  12345 🙂 <|endoftext|> [MASK]"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextBPEConfig:
    """How to train a byte-level BPE vocabulary."""

    vocab_size: int = 8192
    """Target vocabulary size (the 256 byte symbols included); a small corpus may give fewer merges."""
    min_frequency: int = 2
    """A pair must occur at least this often to be merged."""
    max_token_length: int | None = 16
    """Longest merged token in characters (None: unbounded); keeps odd long strings out of the vocab."""
    show_progress: bool = False
    """Show the HF trainer's own progress bar."""

    def __post_init__(self) -> None:
        if self.vocab_size < 257:
            raise ValueError(
                f"TextBPEConfig.vocab_size must be at least 257 (256 bytes + 1 merge), got {self.vocab_size}"
            )
        if self.min_frequency < 1:
            raise ValueError(f"TextBPEConfig.min_frequency must be >= 1, got {self.min_frequency}")
        if self.max_token_length is not None and self.max_token_length < 2:
            raise ValueError(f"TextBPEConfig.max_token_length must be >= 2 or None, got {self.max_token_length}")


def _is_file_list(inputs: object) -> bool:
    if isinstance(inputs, os.PathLike):
        return True
    return (
        isinstance(inputs, Sequence)
        and not isinstance(inputs, str)
        and all(isinstance(item, os.PathLike) for item in inputs)
        and len(inputs) > 0
    )


class TextTokenizer:
    """Byte-level BPE over HF ``tokenizers``; local ids are ``int64`` numpy arrays."""

    kind = "hf_bpe"

    def __init__(self, tokenizer: Tokenizer, *, config: TextBPEConfig | None = None) -> None:
        self._tok = tokenizer
        # Special tokens of a loaded tokenizer.json are encoded as ordinary text.
        self._tok.encode_special_tokens = True
        self._tok.no_padding()
        self._tok.no_truncation()
        self.config = config
        self._vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        self._pieces: PieceEncoder | None = None
        self._pieces_checked = False

    # ------------------------------------------------------------------ construction
    @classmethod
    def train(
        cls, texts: Iterable[str] | Sequence[os.PathLike[str]] | os.PathLike[str], config: TextBPEConfig
    ) -> TextTokenizer:
        """Train on an iterable of strings, or on text files (``pathlib.Path`` objects; one or a list)."""
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=config.vocab_size,
            min_frequency=config.min_frequency,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=[],
            max_token_length=config.max_token_length,
            show_progress=config.show_progress,
        )
        if _is_file_list(texts):
            paths = [Path(texts)] if isinstance(texts, os.PathLike) else [Path(p) for p in texts]  # type: ignore[union-attr]
            for path in paths:
                if not path.is_file():
                    raise ValueError(f"text training file not found: {path}")
            tok.train([str(p) for p in paths], trainer)
        else:
            if isinstance(texts, str):
                raise TypeError("TextTokenizer.train expects an iterable of strings or file paths, not one str")
            tok.train_from_iterator(_checked_texts(texts), trainer)
        if tok.get_vocab_size() <= 256:
            raise ValueError("text training corpus is empty: no BPE merges could be learned")
        _log.info("trained byte-level BPE with %d tokens", tok.get_vocab_size())
        return cls(tok, config=config)

    @classmethod
    def from_tokenizer_json(cls, path: str | Path) -> TextTokenizer:
        """Wrap any existing HF ``tokenizer.json`` (local path); warns if it cannot round-trip text."""
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"tokenizer file not found: {p}")
        try:
            tok = Tokenizer.from_file(str(p))
        except Exception as exc:  # HF raises a plain Exception on malformed JSON
            raise ValueError(f"{p}: not a valid HF tokenizer.json ({exc})") from None
        out = cls(tok)
        if out.decode_batch(out.encode_batch([_PROBE]))[0] != _PROBE:
            _log.warning("%s: this tokenizer does not round-trip text losslessly", p)
        return out

    @classmethod
    def load(cls, path: str | Path) -> TextTokenizer:
        """Load from a directory written by :meth:`save` (or holding any ``tokenizer.json``), or from the file."""
        p = Path(path)
        if p.is_file():
            return cls.from_tokenizer_json(p)
        if not (p / TOKENIZER_FILE).is_file():
            raise ValueError(f"{p}: no {TOKENIZER_FILE} found")
        config = None
        if (p / META_FILE).is_file():
            meta = json.loads((p / META_FILE).read_text())
            if meta.get("format_version") != TEXT_FORMAT_VERSION:
                raise ValueError(f"{p / META_FILE}: unknown format_version {meta.get('format_version')!r}")
            if meta.get("config") is not None:
                config = TextBPEConfig(**meta["config"])
        out = cls.from_tokenizer_json(p / TOKENIZER_FILE)
        out.config = config
        if (p / META_FILE).is_file() and meta.get("vocab_size") != out.vocab_size:
            raise ValueError(f"{p}: vocab_size in {META_FILE} does not match {TOKENIZER_FILE}")
        return out

    def save(self, path: str | Path) -> None:
        """Write ``tokenizer.json`` and ``text_tokenizer.json`` (kind, size, training config) into ``path``."""
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        atomic_write_text(p / TOKENIZER_FILE, self._tok.to_str(pretty=True))
        meta: dict[str, Any] = {
            "format_version": TEXT_FORMAT_VERSION,
            "kind": self.kind,
            "vocab_size": self.vocab_size,
            "config": dataclasses.asdict(self.config) if self.config is not None else None,
        }
        atomic_write_text(p / META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ encode / decode
    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def hf_tokenizer(self) -> Tokenizer:
        """The wrapped HF tokenizer (for inspection; do not change its settings)."""
        return self._tok

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        """Local ids per text (``int64``). An empty string gives an empty array (no tokens, lossless)."""
        if isinstance(texts, str):
            raise TypeError("encode_batch expects a list of strings, not one str")
        pieces = self._piece_encoder()
        if pieces is not None and all(isinstance(text, str) for text in texts):
            # The exact fast path (bpe_pieces); texts it does not cover go to HF below, in their order.
            out = [pieces.encode(text) for text in texts]
            rest = [i for i, ids in enumerate(out) if ids is None]
            if rest:
                for i, ids in zip(rest, self._encode_hf([texts[i] for i in rest], positions=rest), strict=True):
                    out[i] = ids
            return out  # type: ignore[return-value]
        return self._encode_hf(texts)

    def _piece_encoder(self) -> PieceEncoder | None:
        if not self._pieces_checked:  # built on first use: the per-process character check takes ~0.4 s
            self._pieces = PieceEncoder(self._tok) if supports(self._tok) else None
            self._pieces_checked = True
        return self._pieces

    def _encode_hf(self, texts: list[str], positions: list[int] | None = None) -> list[np.ndarray]:
        """HF's ids of ``texts`` (``positions``: their indices in the caller's list, for error messages)."""
        try:
            encodings = self._tok.encode_batch_fast(texts, add_special_tokens=False)
        except TypeError:
            for i, text in enumerate(texts):
                at = i if positions is None else positions[i]
                if not isinstance(text, str):
                    raise TypeError(f"texts[{at}] is {type(text).__name__}, expected str") from None
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise ValueError(f"texts[{at}] is not valid Unicode (lone surrogate at {exc.start})") from None
            raise
        return [np.asarray(enc.ids, dtype=np.int64) for enc in encodings]

    def encode(self, text: str) -> np.ndarray:
        return self.encode_batch([text])[0]

    def decode_batch(self, ids: list[np.ndarray]) -> list[str]:
        """Texts from local ids; an id outside ``[0, vocab_size)`` is a ValueError."""
        arrays = [np.asarray(row, dtype=np.int64).ravel() for row in ids]
        flat = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= self._vocab_size):
            bad = next(i for i, a in enumerate(arrays) if a.size and (a.min() < 0 or a.max() >= self._vocab_size))
            raise ValueError(f"ids[{bad}] holds a text id outside [0, {self._vocab_size})")
        lists = [a.tolist() for a in arrays]
        return self._tok.decode_batch(lists, skip_special_tokens=False)

    def decode(self, ids: np.ndarray) -> str:
        return self.decode_batch([ids])[0]

    def __repr__(self) -> str:
        return f"TextTokenizer(vocab_size={self.vocab_size})"


def _checked_texts(texts: Iterable[str]) -> Iterable[str]:
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"training text #{i} is {type(text).__name__}, expected str")
        yield text
