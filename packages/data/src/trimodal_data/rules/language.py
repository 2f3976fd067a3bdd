"""Language identification with ``langid`` (its model ships inside the PyPI wheel) and an allow-list.

:class:`LanguageIdentifier` loads langid's model once (about half a second) and is cheap to call afterwards;
Beam stages build it in ``DoFn.setup``. Only the first ``max_chars`` characters are classified: langid's
cost grows with the text and a few thousand characters settle the language of a document.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True, kw_only=True)
class LanguageConfig:
    """Language-ID filter."""

    enabled: bool = True
    """Apply this rule."""
    allow: tuple[str, ...] = ("en",)
    """ISO 639-1 codes to keep (``language_not_allowed`` otherwise); empty keeps every language."""
    min_confidence: float = 0.65
    """Minimum normalized probability of the top language (``language_low_confidence``); FineWeb uses 0.65."""
    max_chars: int = 2000
    """Classify only this many leading characters."""
    candidates: tuple[str, ...] = ()
    """Restrict langid to these languages (empty: all 97 of its languages)."""


class LanguageIdentifier:
    """langid's classifier with normalized probabilities."""

    def __init__(self, config: LanguageConfig) -> None:
        from langid.langid import LanguageIdentifier as _LangId
        from langid.langid import model

        self.config = config
        self._identifier: Any = _LangId.from_modelstring(model, norm_probs=True)
        if config.candidates:
            self._identifier.set_languages(list(config.candidates))

    def classify(self, text: str) -> tuple[str, float]:
        """(language, probability); langid's ``classify`` with a sparse dot product.

        langid multiplies the dense 7,480-feature count vector by its (7,480 x 97) weight matrix; a
        document of a few thousand bytes hits only a few hundred features, so using the non-zero rows
        gives the same numbers about 5x faster.
        """
        ident = self._identifier
        counts = ident.instance2fv(text[: self.config.max_chars])
        nonzero = np.flatnonzero(counts)
        log_probs = counts[nonzero].astype(np.float64) @ ident.nb_ptc[nonzero] + ident.nb_pc
        probs = ident.norm_probs(log_probs)
        best = int(np.argmax(probs))
        return str(ident.nb_classes[best]), float(probs[best])

    def reason(self, text: str) -> tuple[str | None, str]:
        """``(reason_or_None, detail)`` where detail is ``"lang:prob"``."""
        lang, prob = self.classify(text)
        detail = f"{lang}:{prob:.3f}"
        if self.config.allow and lang not in self.config.allow:
            return "language_not_allowed", detail
        if prob < self.config.min_confidence:
            return "language_low_confidence", detail
        return None, detail
