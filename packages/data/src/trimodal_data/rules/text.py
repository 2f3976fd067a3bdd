"""Text quality rules: length, Gopher quality, Gopher repetition, C4 and FineWeb.

Each rule is a pure function ``rule(text, config) -> reason | None`` (C4 also returns the text with its
filtered lines removed, as the C4 paper does). Thresholds live in frozen config dataclasses whose defaults are
the published values: Gopher (Rae et al. 2021, Table A1 and section A.1.1), C4 (Raffel et al. 2020, as in
``tensorflow_datasets`` c4_utils) and FineWeb (Penedo et al. 2024; datatrove's ``FineWebQualityFilter``).
Words are whitespace-separated tokens, as in the Gopher paper; no Beam here, the Beam stage that applies
the rules is ``transforms/filter.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import re
import string

import numpy as np

from trimodal_data.hashing import GOLDEN, mix64

# ASCII punctuation plus common Unicode punctuation and symbols (what a "symbol-only word" is made of).
PUNCTUATION = string.punctuation + "«»‹›“”„‘’‚—–…·•§¶†‡°′″¡¿、。，．！？：；（）［］｛｝「」『』【】〈〉《》"
TERMINAL_PUNCTUATION = (".", "!", "?", '"', "'", "。", "！", "？", "”", "’", "…", ":", ";")
GOPHER_STOP_WORDS: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")
C4_POLICY_SUBSTRINGS: tuple[str, ...] = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")
_BULLETS = ("•", "-", "*", "‣", "◦")
# A whitespace-delimited word without any letter (``[^\W\d_]`` is a Unicode letter).
_NO_LETTER_WORD = re.compile(r"(?<!\S)(?:[^\w\s]|[\d_])+(?!\S)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class LengthConfig:
    """Character-length bounds (after normalization)."""

    enabled: bool = True
    """Apply this rule."""
    min_chars: int = 1
    """Shorter documents are rejected as ``too_short``."""
    max_chars: int = 1_000_000
    """Longer documents are rejected as ``too_long``."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class GopherQualityConfig:
    """Gopher quality filter; defaults from Rae et al. 2021, section A.1.1."""

    enabled: bool = True
    """Apply this rule."""
    min_doc_words: int = 50
    """Fewer non-symbol words than this: ``gopher_short_doc``."""
    max_doc_words: int = 100_000
    """More non-symbol words than this: ``gopher_long_doc``."""
    min_avg_word_length: float = 3.0
    """Mean word length below this: ``gopher_below_avg_word_length``."""
    max_avg_word_length: float = 10.0
    """Mean word length above this: ``gopher_above_avg_word_length``."""
    max_symbol_word_ratio: float = 0.1
    """More ``#`` (or ``...``/``…``) per word than this: ``gopher_too_many_hashes`` / ``_ellipsis``."""
    max_bullet_lines_ratio: float = 0.9
    """More lines starting with a bullet than this: ``gopher_too_many_bullets``."""
    max_ellipsis_lines_ratio: float = 0.3
    """More lines ending with an ellipsis than this: ``gopher_too_many_end_ellipsis``."""
    min_alpha_words_ratio: float = 0.8
    """Fewer words containing a letter than this fraction: ``gopher_below_alpha_threshold``."""
    min_stop_words: int = 2
    """Fewer distinct stop words than this: ``gopher_enough_stop_words`` (English-specific)."""
    stop_words: tuple[str, ...] = GOPHER_STOP_WORDS
    """The stop-word list."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class GopherRepetitionConfig:
    """Gopher repetition filter; defaults from Rae et al. 2021, Table A1."""

    enabled: bool = True
    """Apply this rule."""
    dup_para_frac: float = 0.3
    """Fraction of duplicate paragraphs."""
    dup_para_char_frac: float = 0.2
    """Fraction of characters in duplicate paragraphs."""
    dup_line_frac: float = 0.3
    """Fraction of duplicate lines."""
    dup_line_char_frac: float = 0.2
    """Fraction of characters in duplicate lines."""
    top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16))
    """(n, max fraction of characters covered by the most frequent n-gram)."""
    dup_n_grams: tuple[tuple[int, float], ...] = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
    """(n, max fraction of characters in duplicated n-grams)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class C4Config:
    """C4 rules (Raffel et al. 2020): line filters that edit the text, then document-level rejects."""

    enabled: bool = True
    """Apply this rule."""
    remove_citations: bool = True
    """Remove Wikipedia-style citation marks (``[1]``, ``[edit]``, ``[citation needed]``)."""
    filter_no_terminal_punct: bool = False
    """Drop lines that do not end in terminal punctuation (C4 paper: True; FineWeb: False, our default)."""
    min_words_per_line: int = 3
    """Drop lines with fewer words (-1 disables; applies only with ``filter_no_terminal_punct``, as FineWeb)."""
    max_word_length: int = 1000
    """Drop lines holding a longer word (-1 disables)."""
    min_num_sentences: int = 5
    """Reject documents with fewer sentences after line filtering as ``c4_too_few_sentences`` (-1 disables)."""
    filter_lorem_ipsum: bool = True
    """Reject documents containing "lorem ipsum" (``c4_lorem_ipsum``)."""
    filter_javascript: bool = True
    """Drop lines mentioning "javascript"."""
    filter_curly_bracket: bool = True
    """Reject documents containing ``{`` (``c4_curly_bracket``)."""
    filter_policy: bool = True
    """Drop lines with cookie/terms-of-use/privacy-policy phrases."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class FineWebConfig:
    """FineWeb's own quality rules; defaults from datatrove's ``FineWebQualityFilter``."""

    enabled: bool = True
    """Apply this rule."""
    line_punct_thr: float = 0.12
    """Reject (``fineweb_line_punct_ratio``) when fewer lines than this end in terminal punctuation."""
    line_punct_exclude_zero: bool = False
    """Do not apply the previous rule to documents where no line ends in punctuation."""
    short_line_length: int = 30
    """A line of at most this many characters is short."""
    short_line_thr: float = 0.67
    """Reject (``fineweb_short_line_ratio``) when more lines than this are short."""
    char_duplicates_ratio: float = 0.01
    """Reject (``fineweb_char_dup_ratio``) when more characters than this are in duplicated lines."""
    new_line_ratio: float = 0.3
    """Reject (``fineweb_list_ratio``) when there are more newlines per word than this."""


def length_rule(text: str, config: LengthConfig) -> str | None:
    if len(text) < config.min_chars:
        return "too_short"
    if len(text) > config.max_chars:
        return "too_long"
    return None


def gopher_quality(text: str, config: GopherQualityConfig, words: list[str] | None = None) -> str | None:
    words = text.split() if words is None else words
    n_words = len(words)
    if n_words == 0:
        return "gopher_short_doc"
    # Words made only of punctuation/symbols; C-level maps (no per-word Python code): this rule runs on
    # every document.
    stripped = list(map(str.strip, words, itertools.repeat(PUNCTUATION)))
    symbol_words = list(itertools.compress(words, map(operator.not_, stripped)))
    n_non_symbol = n_words - len(symbol_words)
    if n_non_symbol < config.min_doc_words:
        return "gopher_short_doc"
    if n_non_symbol > config.max_doc_words:
        return "gopher_long_doc"
    avg_len = (sum(map(len, words)) - sum(map(len, symbol_words))) / n_non_symbol
    if avg_len < config.min_avg_word_length:
        return "gopher_below_avg_word_length"
    if avg_len > config.max_avg_word_length:
        return "gopher_above_avg_word_length"
    if text.count("#") / n_words > config.max_symbol_word_ratio:
        return "gopher_too_many_hashes"
    if (text.count("...") + text.count("…")) / n_words > config.max_symbol_word_ratio:
        return "gopher_too_many_ellipsis"
    lines = text.split("\n")
    bullets = sum(map(str.startswith, map(str.lstrip, lines), itertools.repeat(_BULLETS)))
    if bullets / len(lines) > config.max_bullet_lines_ratio:
        return "gopher_too_many_bullets"
    ellipsis = sum(map(str.endswith, map(str.rstrip, lines), itertools.repeat(("...", "…"))))
    if ellipsis / len(lines) > config.max_ellipsis_lines_ratio:
        return "gopher_too_many_end_ellipsis"
    if text.isascii():  # an ASCII word has a letter iff lower() and upper() differ
        alpha = n_words - sum(map(operator.eq, map(str.lower, words), map(str.upper, words)))
    else:
        alpha = n_words - len(_NO_LETTER_WORD.findall(text))
    if alpha / n_words < config.min_alpha_words_ratio:
        return "gopher_below_alpha_threshold"
    if config.min_stop_words > 0 and len(set(config.stop_words).intersection(words)) < config.min_stop_words:
        return "gopher_enough_stop_words"
    return None


def _duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated elements, characters in repeated elements)."""
    seen: set[str] = set()
    dup_elements = dup_chars = 0
    for item in items:
        if item in seen:
            dup_elements += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_elements, dup_chars


class _NGramIndex:
    """Word n-grams of one text as 64-bit hashes (numpy), with word character counts.

    The Gopher repetition rules count characters in repeated n-grams for n = 2..10; done with Python
    tuples and sets they dominate the cost of filtering. Here each distinct word gets an integer id, and the
    n-gram hashes are built incrementally (``h_n[p] = mix(h_{n-1}[p] ^ id[p + n - 1])``, collisions ~1e-19 per
    pair). Level ``n`` keeps only the positions whose n-gram hash occurs more than once: an n-gram that repeats
    has a repeating (n-1)-gram at each of its positions, so level ``n`` is computed from level ``n - 1``'s
    positions alone (one sort of the whole text, at n = 2; the longer n-grams sort a shrinking remainder), and
    only those positions are visited in Python. Results equal the tuple-based definitions (the test suite checks
    that against a direct implementation).
    """

    def __init__(self, words: list[str]) -> None:
        vocab: dict[str, int] = {}
        num_words = self.num_words = len(words)
        # setdefault with a running index: equal words get equal (not consecutive) ids, all in C.
        self.ids = np.fromiter(map(vocab.setdefault, words, range(num_words)), dtype=np.uint64, count=num_words)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=num_words)
        self.prefix = np.concatenate([[0], np.cumsum(lengths)])
        self._words = mix64(self.ids * GOLDEN + GOLDEN)
        # n -> (positions, hashes) of the repeated n-grams in increasing position, and (best count, its start)
        self._levels: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}

    def _level(self, n: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        level = self._levels.get(n)
        if level is not None:
            return level
        if n == 1:
            values = self._words
            positions = np.arange(values.size)
        elif n == 2:
            values = mix64(self._words[:-1] ^ self.ids[1:])
            positions = np.arange(values.size)
        else:
            previous, previous_values, _, _ = self._level(n - 1)
            if previous.size and previous[-1] > self.num_words - n:  # the n-gram must fit in the text
                keep = previous <= self.num_words - n
                previous, previous_values = previous[keep], previous_values[keep]
            positions = previous
            values = mix64(previous_values ^ self.ids[positions + (n - 1)])
        if positions.size < 2:
            level = self._levels[n] = (positions[:0], values[:0], 1, 0)
            return level
        # stable: each run of equal hashes lists its positions in increasing order
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        group_start = np.empty(ordered.size, dtype=bool)
        group_start[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=group_start[1:])
        starts = np.flatnonzero(group_start)
        counts = np.diff(np.append(starts, ordered.size))
        best = int(counts.max())
        if best == 1:
            level = self._levels[n] = (positions[:0], values[:0], 1, 0)
            return level
        best_start = int(positions[order[starts[counts == best]]].min())
        repeated = np.ones(ordered.size, dtype=bool)
        repeated[starts[counts == 1]] = False
        kept = np.sort(order[repeated])
        level = self._levels[n] = (positions[kept], values[kept], best, best_start)
        return level

    def chars(self, start: np.ndarray | int, n: int) -> np.ndarray | int:
        """Characters of the n-gram(s) starting at ``start``, words concatenated without spaces."""
        return self.prefix[np.asarray(start) + n] - self.prefix[start]

    def top_ngram_chars(self, n: int) -> int:
        """Characters of the most frequent n-gram joined by spaces, times its count (first seen wins ties)."""
        _, _, best, start = self._level(n)
        return (int(self.chars(start, n)) + n - 1) * best

    def duplicate_ngram_chars(self, n: int) -> int:
        """Characters in n-grams repeating an earlier *visited* n-gram; after a repeat the scan skips ``n``
        words (Gopher's definition, as in datatrove's ``find_all_duplicate``)."""
        positions, values, _, _ = self._level(n)
        if not positions.size:
            return 0
        chars = self.chars(positions, n).tolist()
        seen: set[int] = set()
        skip_until = repeated = 0
        for pos, value, size in zip(positions.tolist(), values.tolist(), chars, strict=True):
            if pos < skip_until:
                continue
            if value in seen:
                repeated += size
                skip_until = pos + n
            else:
                seen.add(value)
        return repeated


def split_paragraphs(text: str) -> list[str]:
    """``text`` split at runs of 2+ newlines; ``str.split`` (several times faster than the regex, and equal
    to it) when no run of 3+ newlines exists, which normalized text guarantees."""
    return _PARAGRAPHS.split(text) if "\n\n\n" in text else text.split("\n\n")


def split_lines(text: str) -> list[str]:
    """``text`` split at runs of newlines (``str.split`` when there are no blank lines)."""
    return _LINES.split(text) if "\n\n" in text else text.split("\n")


def gopher_repetition(text: str, config: GopherRepetitionConfig, words: list[str] | None = None) -> str | None:
    if not text:
        return "gopher_empty"
    paragraphs = split_paragraphs(text.strip())
    dup, dup_chars = _duplicates(paragraphs)
    if dup / len(paragraphs) > config.dup_para_frac:
        return "gopher_dup_para_frac"
    if dup_chars / len(text) > config.dup_para_char_frac:
        return "gopher_dup_para_char_frac"
    lines = split_lines(text)
    dup, dup_chars = _duplicates(lines)
    if dup / len(lines) > config.dup_line_frac:
        return "gopher_dup_line_frac"
    if dup_chars / len(text) > config.dup_line_char_frac:
        return "gopher_dup_line_char_frac"
    words = text.split() if words is None else words
    index = _NGramIndex(words)
    for n, max_frac in config.top_n_grams:
        if len(words) >= n and index.top_ngram_chars(n) / len(text) > max_frac:
            return f"gopher_top_{n}_gram"
    for n, max_frac in config.dup_n_grams:
        if len(words) >= n and index.duplicate_ngram_chars(n) / len(text) > max_frac:
            return f"gopher_duplicated_{n}_n_grams"
    return None


def c4_filter(text: str, config: C4Config) -> tuple[str, str | None]:
    """Apply C4's line filters; return ``(kept_text, reason_or_None)``."""
    kept: list[str] = []
    num_sentences = 0
    for raw_line in text.splitlines():
        line = raw_line.strip()
        words = line.split()
        if config.max_word_length != -1 and any(len(w) > config.max_word_length for w in words):
            continue
        if config.remove_citations:
            line = _CITATION.sub("", line)
        if config.filter_no_terminal_punct:
            if not line.endswith((".", "?", "!", '"', "'")) or line.endswith("..."):
                continue
            if config.min_words_per_line != -1 and len(words) < config.min_words_per_line:
                continue
        lower = line.lower()
        if config.filter_lorem_ipsum and "lorem ipsum" in lower:
            return text, "c4_lorem_ipsum"
        if config.filter_javascript and "javascript" in lower:
            continue
        if config.filter_curly_bracket and "{" in line:
            return text, "c4_curly_bracket"
        if config.filter_policy and any(p in lower for p in C4_POLICY_SUBSTRINGS):
            continue
        if config.min_num_sentences != -1 and line:
            num_sentences += max(1, len(_SENTENCE_END.findall(line)))
        kept.append(line)
    if config.min_num_sentences != -1 and num_sentences < config.min_num_sentences:
        return text, "c4_too_few_sentences"
    return "\n".join(kept).strip(), None


def fineweb_quality(text: str, config: FineWebConfig, words: list[str] | None = None) -> str | None:
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return "fineweb_empty"
    ratio = sum(1 for line in lines if line.endswith(TERMINAL_PUNCTUATION)) / len(lines)
    if ratio < config.line_punct_thr and not (ratio == 0 and config.line_punct_exclude_zero):
        return "fineweb_line_punct_ratio"
    if sum(1 for line in lines if len(line) <= config.short_line_length) / len(lines) > config.short_line_thr:
        return "fineweb_short_line_ratio"
    chars = len(text) - text.count("\n")
    if chars and _duplicates(lines)[1] / chars > config.char_duplicates_ratio:
        return "fineweb_char_dup_ratio"
    words = text.split() if words is None else words
    if not words or text.count("\n") / len(words) > config.new_line_ratio:
        return "fineweb_list_ratio"
    return None
