"""The unified token space: the single owner of every id offset in the tri-modal vocabulary.

Layout (global ids, in order):

1. special tokens: ``pad``, ``mask``, ``bos``, ``eos``, then begin/end markers per modality
   (``bot``/``eot`` text, ``boi``/``eoi`` image, ``boa``/``eoa`` audio);
2. task tokens (``text``, ``t2i``, ``i2t``, ``t2s``, ``s2t`` by default) followed by reserved,
   unnamed task slots so new tasks never shift the other ranges;
3. the text range (``text_vocab_size`` ids);
4. the image range (``image_codebook_size`` ids);
5. the audio range: one range of ``audio_codebook_size`` ids per codebook, or one shared range
   (``audio_shared_codebooks=True``).

Tokenizers emit *local* ids (``0 .. size-1`` inside their own modality); only :class:`TokenSpace`
adds or removes offsets. The fingerprint is a hash of the layout, stored in every shard and manifest
so that data built for one vocabulary can never be fed to a model built for another.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from trimodal_core.atomic import atomic_write_text

TOKEN_SPACE_FORMAT_VERSION = 1

SPECIAL_TOKENS: tuple[str, ...] = ("pad", "mask", "bos", "eos", "bot", "eot", "boi", "eoi", "boa", "eoa")
DEFAULT_TASKS: tuple[str, ...] = ("text", "t2i", "i2t", "t2s", "s2t")


class Modality(enum.IntEnum):
    """Per-token modality annotation stored in shards (``uint8``)."""

    SPECIAL = 0
    TEXT = 1
    IMAGE = 2
    AUDIO = 3

    @classmethod
    def parse(cls, value: str | int | Modality) -> Modality:
        if isinstance(value, Modality):
            return value
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                names = ", ".join(m.name.lower() for m in cls)
                raise ValueError(f"unknown modality {value!r}; expected one of {names}") from None
        return cls(int(value))


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenSpaceConfig:
    """Sizes that define the layout. Every field changes the fingerprint."""

    text_vocab_size: int
    """Size of the text tokenizer's vocabulary (local text ids ``0 .. text_vocab_size-1``)."""
    image_codebook_size: int
    """Number of discrete image codes."""
    audio_codebook_size: int
    """Codes per audio codebook (DAC: 1024)."""
    audio_num_codebooks: int
    """Residual codebooks kept per audio frame."""
    audio_shared_codebooks: bool = False
    """One shared audio range for all codebooks instead of one range per codebook."""
    tasks: tuple[str, ...] = DEFAULT_TASKS
    """Named task tokens, in id order."""
    num_task_slots: int = 16
    """Task ids reserved in total (named + spare), so new tasks keep the other ranges in place."""

    def __post_init__(self) -> None:
        for name in ("text_vocab_size", "image_codebook_size", "audio_codebook_size", "audio_num_codebooks"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TokenSpaceConfig.{name} must be a positive integer, got {value!r}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"TokenSpaceConfig.tasks has duplicates: {self.tasks}")
        if len(self.tasks) > self.num_task_slots:
            raise ValueError(
                f"TokenSpaceConfig.num_task_slots={self.num_task_slots} is smaller than the "
                f"{len(self.tasks)} named tasks"
            )
        clash = set(self.tasks) & set(SPECIAL_TOKENS)
        if clash:
            raise ValueError(f"task names clash with special tokens: {sorted(clash)}")


class TokenSpace:
    """Global id layout shared by tokenizers, shards, the trainer and the samplers."""

    def __init__(self, config: TokenSpaceConfig) -> None:
        self.config = config
        self._special = {name: i for i, name in enumerate(SPECIAL_TOKENS)}
        self.task_offset = len(SPECIAL_TOKENS)
        self._tasks = {name: self.task_offset + i for i, name in enumerate(config.tasks)}
        self.text_offset = self.task_offset + config.num_task_slots
        self.image_offset = self.text_offset + config.text_vocab_size
        self.audio_offset = self.image_offset + config.image_codebook_size
        num_audio_ranges = 1 if config.audio_shared_codebooks else config.audio_num_codebooks
        self.vocab_size = self.audio_offset + num_audio_ranges * config.audio_codebook_size
        # Modality of every global id, for vectorised lookups.
        self._modality_of_id = np.zeros(self.vocab_size, dtype=np.uint8)
        self._modality_of_id[self.text_offset : self.image_offset] = Modality.TEXT
        self._modality_of_id[self.image_offset : self.audio_offset] = Modality.IMAGE
        self._modality_of_id[self.audio_offset :] = Modality.AUDIO

    # ----------------------------------------------------------------- special and task tokens
    @property
    def pad_id(self) -> int:
        return self._special["pad"]

    @property
    def mask_id(self) -> int:
        return self._special["mask"]

    @property
    def bos_id(self) -> int:
        return self._special["bos"]

    @property
    def eos_id(self) -> int:
        return self._special["eos"]

    def special_id(self, name: str) -> int:
        """Id of a special token (``pad``, ``mask``, ``bos``, ``eos``, ``bot`` ... ``eoa``)."""
        try:
            return self._special[name]
        except KeyError:
            raise ValueError(f"unknown special token {name!r}; known: {', '.join(SPECIAL_TOKENS)}") from None

    def task_id(self, name: str) -> int:
        """Id of a named task token (``text``, ``t2i``, ``t2s`` ...)."""
        try:
            return self._tasks[name]
        except KeyError:
            raise ValueError(f"unknown task {name!r}; known: {', '.join(self.config.tasks)}") from None

    def id_name(self, global_id: int) -> str:
        """Human-readable name of one id (for debugging and sequence printing)."""
        gid = int(global_id)
        if not 0 <= gid < self.vocab_size:
            raise ValueError(f"id {gid} is outside the token space [0, {self.vocab_size})")
        if gid < self.task_offset:
            return f"<{SPECIAL_TOKENS[gid]}>"
        if gid < self.text_offset:
            slot = gid - self.task_offset
            return f"<{self.config.tasks[slot]}>" if slot < len(self.config.tasks) else f"<task_{slot}>"
        modality = Modality(int(self._modality_of_id[gid]))
        if modality == Modality.AUDIO and not self.config.audio_shared_codebooks:
            book, local = divmod(gid - self.audio_offset, self.config.audio_codebook_size)
            return f"audio[{book}]:{local}"
        return f"{modality.name.lower()}:{gid - self._range(modality)[0]}"

    # ----------------------------------------------------------------------------- ranges
    def _range(self, modality: Modality, codebook: int | None = None) -> tuple[int, int]:
        cfg = self.config
        if modality == Modality.TEXT:
            return self.text_offset, self.image_offset
        if modality == Modality.IMAGE:
            return self.image_offset, self.audio_offset
        if modality == Modality.AUDIO:
            if codebook is None or cfg.audio_shared_codebooks:
                if codebook is not None and not 0 <= codebook < cfg.audio_num_codebooks:
                    raise ValueError(f"audio codebook {codebook} outside [0, {cfg.audio_num_codebooks})")
                return self.audio_offset, self.vocab_size
            if not 0 <= codebook < cfg.audio_num_codebooks:
                raise ValueError(f"audio codebook {codebook} outside [0, {cfg.audio_num_codebooks})")
            start = self.audio_offset + codebook * cfg.audio_codebook_size
            return start, start + cfg.audio_codebook_size
        if modality == Modality.SPECIAL:
            return 0, self.text_offset
        raise ValueError(f"unknown modality {modality!r}")

    def id_range(self, modality: str | int | Modality, codebook: int | None = None) -> tuple[int, int]:
        """Half-open global id range ``[start, stop)`` of a modality (or of one audio codebook)."""
        return self._range(Modality.parse(modality), codebook)

    def local_size(self, modality: str | int | Modality) -> int:
        """Number of local ids a tokenizer of this modality may emit."""
        m = Modality.parse(modality)
        if m == Modality.TEXT:
            return self.config.text_vocab_size
        if m == Modality.IMAGE:
            return self.config.image_codebook_size
        if m == Modality.AUDIO:
            return self.config.audio_codebook_size
        raise ValueError("special tokens have no local ids")

    # ------------------------------------------------------------------- id conversion
    def to_global(
        self,
        modality: str | int | Modality,
        local_ids: np.ndarray | list[int],
        codebook: int | np.ndarray | None = None,
    ) -> np.ndarray:
        """Map local ids to global ids (``int64``).

        For audio with per-codebook ranges, ``codebook`` gives the codebook of each id (an int for all,
        or an array broadcastable to ``local_ids``); it is required unless the codebooks are shared.
        """
        m = Modality.parse(modality)
        ids = np.asarray(local_ids, dtype=np.int64)
        size = self.local_size(m)
        if ids.size and (ids.min() < 0 or ids.max() >= size):
            bad = ids[(ids < 0) | (ids >= size)].ravel()[0]
            raise ValueError(f"{m.name.lower()} local id {int(bad)} outside [0, {size})")
        start = self._range(m)[0]
        if m != Modality.AUDIO or self.config.audio_shared_codebooks:
            return ids + start
        if codebook is None:
            raise ValueError("audio ids need a codebook index when audio_shared_codebooks is False")
        books = np.asarray(codebook, dtype=np.int64)
        if books.size and (books.min() < 0 or books.max() >= self.config.audio_num_codebooks):
            raise ValueError(f"audio codebook index outside [0, {self.config.audio_num_codebooks})")
        return ids + start + books * self.config.audio_codebook_size

    def to_local(self, modality: str | int | Modality, global_ids: np.ndarray | list[int]) -> np.ndarray:
        """Map global ids of one modality back to local ids (codebook offset removed for audio)."""
        m = Modality.parse(modality)
        ids = np.asarray(global_ids, dtype=np.int64)
        start, stop = self._range(m)
        if ids.size and (ids.min() < start or ids.max() >= stop):
            bad = ids[(ids < start) | (ids >= stop)].ravel()[0]
            raise ValueError(f"global id {int(bad)} is not a {m.name.lower()} id (range [{start}, {stop}))")
        local = ids - start
        if m == Modality.AUDIO and not self.config.audio_shared_codebooks:
            local = local % self.config.audio_codebook_size
        return local

    def audio_codebook_of(self, global_ids: np.ndarray | list[int]) -> np.ndarray:
        """Codebook index of each audio id (all zeros when codebooks are shared)."""
        ids = np.asarray(global_ids, dtype=np.int64)
        self.to_local(Modality.AUDIO, ids)  # validates the range
        if self.config.audio_shared_codebooks:
            return np.zeros_like(ids)
        return (ids - self.audio_offset) // self.config.audio_codebook_size

    def modality_of(self, global_ids: np.ndarray | list[int]) -> np.ndarray:
        """Per-token :class:`Modality` values (``uint8``) of global ids."""
        ids = np.asarray(global_ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"ids outside the token space [0, {self.vocab_size})")
        return self._modality_of_id[ids]

    def allowed_mask(self, modality: str | int | Modality, codebook: int | None = None) -> np.ndarray:
        """Boolean mask over the vocabulary: True where a sampler may emit an id of this modality."""
        start, stop = self._range(Modality.parse(modality), codebook)
        mask = np.zeros(self.vocab_size, dtype=bool)
        mask[start:stop] = True
        return mask

    # ------------------------------------------------------------------- identity and I/O
    def to_dict(self) -> dict[str, Any]:
        cfg = dataclasses.asdict(self.config)
        cfg["tasks"] = list(self.config.tasks)
        return {
            "format_version": TOKEN_SPACE_FORMAT_VERSION,
            "config": cfg,
            "special_tokens": list(SPECIAL_TOKENS),
            "vocab_size": self.vocab_size,
        }

    @property
    def fingerprint(self) -> str:
        """Stable 16-hex-digit hash of the layout (same layout, same fingerprint, on any machine)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "token space") -> TokenSpace:
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object")
        version = data.get("format_version")
        if version != TOKEN_SPACE_FORMAT_VERSION:
            raise ValueError(
                f"{source}: unknown token-space format_version {version!r} "
                f"(this code reads version {TOKEN_SPACE_FORMAT_VERSION})"
            )
        if list(data.get("special_tokens", [])) != list(SPECIAL_TOKENS):
            raise ValueError(f"{source}: special tokens differ from this code's layout")
        raw = dict(data.get("config") or {})
        known = {f.name for f in dataclasses.fields(TokenSpaceConfig)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"{source}: unknown token-space config fields {sorted(unknown)}")
        if "tasks" in raw:
            raw["tasks"] = tuple(raw["tasks"])
        try:
            space = cls(TokenSpaceConfig(**raw))
        except TypeError as exc:
            raise ValueError(f"{source}: bad token-space config: {exc}") from None
        if "vocab_size" in data and data["vocab_size"] != space.vocab_size:
            raise ValueError(f"{source}: vocab_size {data['vocab_size']} does not match the layout")
        return space

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> TokenSpace:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise ValueError(f"token space file not found: {p}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: not valid JSON ({exc})") from None
        return cls.from_dict(data, source=str(p))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenSpace) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"TokenSpace(vocab_size={self.vocab_size}, fingerprint={self.fingerprint})"
