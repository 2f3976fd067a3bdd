"""Verifiable tasks for the learned unmasking policy, built deterministically from the committed demo text.

Every example is ``prompt`` (visible) then an ``answer`` of exactly ``length`` characters (the generated
target, ``L`` of the reward), written over a small character alphabet (:data:`ALPHABET`; the demo text is
lower-cased and reduced to ``a-z`` and single spaces). Tasks [ours, after the issue's examples]:

=========== ========================================== ============================================
task        prompt                                      correct answers
=========== ========================================== ============================================
copy        ``span>``                                   the span
reverse     ``w1 w2 w3>`` (words, ``length`` chars)     the words in reverse order
choose      ``s1|s2|s3>`` (``num_choices`` spans)       any one of the spans
word        ``c>`` (a letter)                           any of the ``lexicon_size`` most frequent demo
                                                        words of ``length`` letters starting with ``c``
add         ``a+b=`` (``length - 1`` digits each)       ``a + b`` zero-padded to ``length`` digits
=========== ========================================== ============================================

``choose`` and ``word`` have several valid answers: decoding their positions in parallel mixes them (each
position's greedy token may come from a different answer), so the unmasking order matters; ``word`` needs
only a memorized lexicon, which a tiny model learns in a few hundred steps (the policy study's default).

Example ``i`` of (task, length, seed) is drawn from ``numpy_rng(seed, "policy-task", task, length, i)``, so
an example never depends on how many others are built. Train/test split: the salted hash rule of
``trimodal_core.split`` on the example id (``test_fraction`` of ids go to test). :func:`correct` is the judge.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import re
from pathlib import Path
from typing import Literal

import numpy as np

from trimodal_core import TokenSpace, TokenSpaceConfig, is_validation, numpy_rng

ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789|>+="
"""Characters of the task vocabulary (text id = index)."""
TASKS: tuple[str, ...] = ("copy", "reverse", "choose", "add", "word")
SPLIT_SALT = "trimodal-policy-tasks"
DEMO_TEXT = Path(__file__).resolve().parents[5] / "pipelines" / "demo_data" / "text"
"""The repository's committed demo documents (``TaskConfig.text_dir`` overrides it, e.g. for a pip install)."""

TaskName = Literal["copy", "reverse", "choose", "add", "word"]


def task_token_space() -> TokenSpace:
    """The token space of the task models: the alphabet as text, one-code image and audio ranges (unused)."""
    return TokenSpace(TokenSpaceConfig(text_vocab_size=len(ALPHABET), image_codebook_size=1,
                                       audio_codebook_size=1, audio_num_codebooks=1))


def encode(text: str) -> np.ndarray:
    """Local text ids of ``text`` (ValueError on a character outside :data:`ALPHABET`)."""
    try:
        return np.array([ALPHABET.index(c) for c in text], dtype=np.int64)
    except ValueError:
        raise ValueError(f"text {text!r} has characters outside the task alphabet") from None


def decode(ids: np.ndarray) -> str:
    return "".join(ALPHABET[int(i)] if 0 <= int(i) < len(ALPHABET) else "?" for i in ids)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskConfig:
    """Which examples to build."""

    task: TaskName = "word"
    """Task name (see the module table)."""
    length: int = 8
    """Answer length ``L`` in characters."""
    num_choices: int = 3
    """Spans offered by ``choose``."""
    lexicon_size: int = 48
    """Words of ``word``'s lexicon."""
    seed: int = 0
    """Example seed."""
    test_fraction: float = 0.2
    """Share of example ids in the test split."""
    text_dir: Path | None = None
    """Folder of ``*.jsonl.gz`` documents (a ``text`` field per line); None: :data:`DEMO_TEXT`."""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"TaskConfig.task: unknown {self.task!r}; known: {', '.join(TASKS)}")
        if self.length < 2:
            raise ValueError(f"TaskConfig.length must be >= 2, got {self.length!r}")
        if self.num_choices < 2:
            raise ValueError(f"TaskConfig.num_choices must be >= 2, got {self.num_choices!r}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"TaskConfig.test_fraction must be in (0, 1), got {self.test_fraction!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Example:
    id: str
    prompt: str
    answer: str
    """One correct answer (the training target)."""
    accepted: tuple[str, ...]
    """Every correct answer."""


@functools.lru_cache(maxsize=4)
def demo_text(text_dir: Path | None = None, max_chars: int = 400_000) -> str:
    """The first file's documents, lower-cased, ``a-z`` and single spaces, first ``max_chars``."""
    folder = Path(text_dir) if text_dir is not None else DEMO_TEXT
    paths = sorted(folder.glob("*.jsonl.gz"))
    if not paths:
        raise ValueError(f"TaskConfig.text_dir: no *.jsonl.gz documents under {folder}")
    parts, size = [], 0
    with gzip.open(paths[0], "rt", encoding="utf-8") as handle:
        for line in handle:
            clean = re.sub(r" +", " ", re.sub(r"[^a-z]+", " ", json.loads(line)["text"].lower())).strip()
            parts.append(clean)
            size += len(clean) + 1
            if size >= max_chars:
                break
    return " ".join(parts)


@functools.lru_cache(maxsize=16)
def lexicon(length: int, size: int, text_dir: Path | None = None) -> tuple[str, ...]:
    """The ``size`` most frequent demo-text words of exactly ``length`` letters (ties alphabetical)."""
    counts: dict[str, int] = {}
    for w in demo_text(text_dir).split(" "):
        if len(w) == length:
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))[:size]
    if len(ranked) < 2:
        raise ValueError(f"TaskConfig.length {length}: fewer than 2 demo words of that length")
    return tuple(sorted(ranked))


def _span(text: str, rng: np.random.Generator, n: int) -> str:
    while True:
        start = int(rng.integers(0, len(text) - n))
        span = text[start: start + n]
        if span[0] != " " and span[-1] != " ":
            return span


def _words(text: str, rng: np.random.Generator, n: int) -> list[str]:
    """Consecutive words whose space-joined length is exactly ``n`` (at least two words)."""
    while True:
        start = text.find(" ", int(rng.integers(0, len(text) - 4 * n))) + 1
        words: list[str] = []
        while len(" ".join(words)) < n:
            end = text.find(" ", start)
            words.append(text[start:end])
            start = end + 1
        if len(" ".join(words)) == n and len(words) >= 2 and len(set(words)) == len(words):
            return words


def make_example(config: TaskConfig, index: int) -> Example:
    """Example ``index`` of ``config`` (deterministic)."""
    rng = numpy_rng(config.seed, "policy-task", config.task, config.length, index)
    n, text, ident = config.length, demo_text(config.text_dir), f"{config.task}-L{config.length}-{index}"
    if config.task == "copy":
        span = _span(text, rng, n)
        return Example(id=ident, prompt=span + ">", answer=span, accepted=(span,))
    if config.task == "reverse":
        words = _words(text, rng, n)
        answer = " ".join(reversed(words))
        return Example(id=ident, prompt=" ".join(words) + ">", answer=answer, accepted=(answer,))
    if config.task == "choose":
        spans = [_span(text, rng, n) for _ in range(config.num_choices)]
        pick = spans[int(rng.integers(0, len(spans)))]
        return Example(id=ident, prompt="|".join(spans) + ">", answer=pick, accepted=tuple(spans))
    if config.task == "word":
        words = lexicon(n, config.lexicon_size, config.text_dir)
        pick = words[int(rng.integers(0, len(words)))]
        return Example(id=ident, prompt=pick[0] + ">", answer=pick,
                       accepted=tuple(w for w in words if w[0] == pick[0]))
    a, b = (int(rng.integers(0, 10 ** (n - 1))) for _ in range(2))
    answer = str(a + b).zfill(n)
    return Example(id=ident, prompt=f"{a:0{n - 1}d}+{b:0{n - 1}d}=", answer=answer, accepted=(answer,))


def build_examples(config: TaskConfig, count: int, *, split: Literal["train", "test", "all"] = "all",
                   start: int = 0) -> list[Example]:
    """The first ``count`` examples of ``split`` among indices ``start, start + 1, ...``."""
    out: list[Example] = []
    index = start
    while len(out) < count:
        batch = [make_example(config, i) for i in range(index, index + max(8, count))]
        index += len(batch)
        if split != "all":
            test = is_validation([e.id for e in batch], fraction=config.test_fraction, salt=SPLIT_SALT)
            batch = [e for e, t in zip(batch, test, strict=True) if t == (split == "test")]
        out += batch
    return out[:count]


def correct(prediction: str, example: Example) -> bool:
    """The judge: the generated answer equals one of the accepted answers."""
    return prediction in example.accepted
