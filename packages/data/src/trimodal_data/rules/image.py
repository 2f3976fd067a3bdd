"""Image rules for image-text pairs: pure functions that return a reject reason or ``None``.

Thresholds live in :class:`ImageRulesConfig`; defaults follow common web-scale image-text filtering
(LAION/DataComp drop images under ~32-64 px on the short side and extreme panoramas/strips). The CLIP
alignment rule takes an already computed score, so this module stays free of models.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageRulesConfig:
    """Thresholds of the image rules."""

    min_side: int = 32
    """Images whose shorter side is smaller are rejected (``image_too_small``)."""
    max_side: int = 16384
    """Images whose longer side is larger are rejected (``image_too_large``)."""
    max_aspect_ratio: float = 3.0
    """Longer side / shorter side above this is rejected (``image_aspect_ratio``)."""
    min_clip_score: float = 0.2
    """Cosine similarity of CLIP image and caption embeddings below this is rejected (``clip_score_low``);
    only applied when a CLIP checkpoint is given."""

    def __post_init__(self) -> None:
        if self.min_side < 1 or self.max_side < self.min_side:
            raise ValueError(f"ImageRulesConfig: need 1 <= min_side <= max_side, got {self.min_side}, {self.max_side}")
        if self.max_aspect_ratio < 1.0:
            raise ValueError(f"ImageRulesConfig.max_aspect_ratio must be >= 1, got {self.max_aspect_ratio}")
        if not -1.0 <= self.min_clip_score <= 1.0:
            raise ValueError(f"ImageRulesConfig.min_clip_score must be in [-1, 1], got {self.min_clip_score}")


def image_size_reason(width: int, height: int, config: ImageRulesConfig) -> str | None:
    if min(width, height) < config.min_side:
        return "image_too_small"
    if max(width, height) > config.max_side:
        return "image_too_large"
    return None


def aspect_ratio_reason(width: int, height: int, config: ImageRulesConfig) -> str | None:
    if max(width, height) / max(1, min(width, height)) > config.max_aspect_ratio:
        return "image_aspect_ratio"
    return None


def clip_score_reason(score: float, config: ImageRulesConfig) -> str | None:
    return "clip_score_low" if score < config.min_clip_score else None


def image_reason(width: int, height: int, config: ImageRulesConfig) -> str | None:
    """The first failing image rule (size, then aspect ratio), or ``None``."""
    return image_size_reason(width, height, config) or aspect_ratio_reason(width, height, config)
