"""``DiffusionConfig``: every choice of the masked-diffusion objective (schedules, times, masks, dropout).

Modalities are indexed ``m = 0, 1, 2`` for text, image, audio (``Modality.TEXT - 1`` ...): the ``_M`` axis of
every per-modality tensor in this package.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from trimodal_core import Modality
from trimodal_train.diffusion.schedules import Schedule, ScheduleConfig, build_schedule
from trimodal_train.diffusion.spans import SPECIAL_SPAN_MODALITY

TimeSampling = Literal["stratified", "lattice", "antithetic", "iid"]
MODALITY_NAMES: tuple[str, ...] = ("text", "image", "audio")
"""Names of the loss modalities, in ``_M`` order."""
CONTENT_MODALITIES: tuple[Modality, ...] = (Modality.TEXT, Modality.IMAGE, Modality.AUDIO)
NUM_MODALITIES = len(MODALITY_NAMES)
PAIR_TASKS: tuple[str, ...] = ("t2i", "i2t", "t2s", "s2t")


def _default_schedules() -> dict[str, ScheduleConfig]:
    return {name: ScheduleConfig() for name in MODALITY_NAMES}


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiffusionConfig:
    """The training objective's choices; see ``schedules.py``, ``time_sampling.py``, ``masking.py``."""

    schedules: dict[str, ScheduleConfig] = dataclasses.field(default_factory=_default_schedules)
    """Noise schedule per modality span, keyed ``text``/``image``/``audio``; a missing key is ``linear``.
    Values may be ``ScheduleConfig`` or plain dicts of its fields (from JSON/TOML)."""
    time_sampling: TimeSampling = "stratified"
    """How the optimizer step's times are drawn: ``stratified`` (one per stratum of the global batch, per
    modality, jittered), ``lattice`` (one per stratum, one shared shift), ``antithetic`` (rows in
    ``(u, 1 - u)`` pairs, pairs stratified) or ``iid``; see ``time_sampling.py``."""
    anti_masking: bool = False
    """Complementary-mask pairs: rows ``2k`` and ``2k+1`` must be the same example (see
    ``masking.duplicate_rows``); row ``2k+1`` is masked exactly where row ``2k`` is not [ours]."""
    condition_dropout: float = 0.1
    """Probability that a pair row's condition span (the first content span) is replaced by ``mask`` and left
    out of the loss, so classifier-free guidance has an unconditional model [ours: 0.1]."""
    condition_tasks: tuple[str, ...] = PAIR_TASKS
    """Task tokens whose rows are pairs with a condition span (names missing from the token space are
    ignored)."""
    maskable_specials: tuple[str, ...] = ("eot",)
    """Boundary tokens masked and predicted with their span (``eot`` as text, so generation learns where to
    stop) [ours]; one of ``bot eot boi eoi boa eoa``."""

    def __post_init__(self) -> None:
        if not isinstance(self.schedules, dict):
            raise ValueError(f"DiffusionConfig.schedules must be a dict keyed by modality, got {self.schedules!r}")
        unknown = set(self.schedules) - set(MODALITY_NAMES)
        if unknown:
            raise ValueError(
                f"DiffusionConfig.schedules: unknown modalities {sorted(unknown)}; use {', '.join(MODALITY_NAMES)}"
            )
        resolved = {}
        for name in MODALITY_NAMES:
            value = self.schedules.get(name, ScheduleConfig())
            if isinstance(value, dict):
                try:
                    value = ScheduleConfig(**value)
                except TypeError as exc:
                    raise ValueError(f"DiffusionConfig.schedules[{name!r}]: {exc}") from None
            if not isinstance(value, ScheduleConfig):
                raise ValueError(f"DiffusionConfig.schedules[{name!r}] must be a ScheduleConfig, got {value!r}")
            resolved[name] = value
        object.__setattr__(self, "schedules", resolved)
        if self.time_sampling not in ("stratified", "lattice", "antithetic", "iid"):
            raise ValueError(
                f"DiffusionConfig.time_sampling: unknown value {self.time_sampling!r}; "
                "use stratified, lattice, antithetic or iid"
            )
        p = self.condition_dropout
        if not (isinstance(p, int | float) and math.isfinite(p) and 0.0 <= p <= 1.0):
            raise ValueError(f"DiffusionConfig.condition_dropout must be in [0, 1], got {p!r}")
        object.__setattr__(self, "condition_tasks", tuple(self.condition_tasks))
        object.__setattr__(self, "maskable_specials", tuple(self.maskable_specials))
        bad = [name for name in self.maskable_specials if name not in SPECIAL_SPAN_MODALITY]
        if bad:
            raise ValueError(
                f"DiffusionConfig.maskable_specials: {bad} are not boundary tokens "
                f"({', '.join(SPECIAL_SPAN_MODALITY)})"
            )

    def build_schedules(self) -> tuple[Schedule, ...]:
        """One schedule per modality, in ``_M`` order (text, image, audio)."""
        return tuple(build_schedule(self.schedules[name]) for name in MODALITY_NAMES)
