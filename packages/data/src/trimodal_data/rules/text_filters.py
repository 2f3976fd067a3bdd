"""The text rule chain: normalization, then every enabled rule in a fixed order, first failure wins.

Order, as in FineWeb: length, language (the Gopher stop-word rule is English-specific, so a German document
should be counted as "not allowed" rather than "no stop words"), Gopher repetition, Gopher quality, C4
(which may also drop lines), FineWeb. The order only decides which reason a document that fails several
rules is counted under. Beam-free; ``transforms/filter.py`` wraps it in a DoFn.
"""

from __future__ import annotations

import dataclasses

from trimodal_data.rules.language import LanguageConfig, LanguageIdentifier
from trimodal_data.rules.text import (
    C4Config,
    FineWebConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    LengthConfig,
    c4_filter,
    fineweb_quality,
    gopher_quality,
    gopher_repetition,
    length_rule,
)
from trimodal_data.text_normalize import NormalizeConfig, normalize_text


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextFiltersConfig:
    """Normalization and every text rule (each can be switched off with ``enabled = false``)."""

    normalize: NormalizeConfig = dataclasses.field(default_factory=NormalizeConfig)
    """Unicode/whitespace normalization applied before the rules."""
    length: LengthConfig = dataclasses.field(default_factory=LengthConfig)
    """Character-length bounds."""
    gopher_repetition: GopherRepetitionConfig = dataclasses.field(default_factory=GopherRepetitionConfig)
    """Gopher repetition rules."""
    gopher_quality: GopherQualityConfig = dataclasses.field(default_factory=GopherQualityConfig)
    """Gopher quality rules."""
    c4: C4Config = dataclasses.field(default_factory=C4Config)
    """C4 rules."""
    fineweb: FineWebConfig = dataclasses.field(default_factory=FineWebConfig)
    """FineWeb rules."""
    language: LanguageConfig = dataclasses.field(default_factory=LanguageConfig)
    """Language identification and allow-list."""


@dataclasses.dataclass(frozen=True, slots=True)
class RuleResult:
    text: str
    """The normalized (and C4-cleaned) text to keep."""
    reason: str | None
    """Why the document is rejected, or None when it passes."""
    detail: str = ""


class TextRuleChain:
    """Apply :class:`TextFiltersConfig` to one text; holds the language identifier (load it once)."""

    def __init__(self, config: TextFiltersConfig) -> None:
        self.config = config
        self._language = LanguageIdentifier(config.language) if config.language.enabled else None

    def __call__(self, text: str) -> RuleResult:
        cfg = self.config
        text = normalize_text(text, cfg.normalize)
        if not text:
            return RuleResult(text, "empty_text")
        if cfg.length.enabled and (reason := length_rule(text, cfg.length)):
            return RuleResult(text, reason, f"{len(text)} chars")
        if self._language is not None:
            reason, detail = self._language.reason(text)
            if reason:
                return RuleResult(text, reason, detail)
        words = text.split()
        if cfg.gopher_repetition.enabled and (reason := gopher_repetition(text, cfg.gopher_repetition, words)):
            return RuleResult(text, reason)
        if cfg.gopher_quality.enabled and (reason := gopher_quality(text, cfg.gopher_quality, words)):
            return RuleResult(text, reason)
        if cfg.c4.enabled:
            text, reason = c4_filter(text, cfg.c4)
            if reason:
                return RuleResult(text, reason)
            if not text:
                return RuleResult(text, "c4_empty_after_line_filter")
            words = text.split()
        if cfg.fineweb.enabled and (reason := fineweb_quality(text, cfg.fineweb, words)):
            return RuleResult(text, reason)
        return RuleResult(text, None)
