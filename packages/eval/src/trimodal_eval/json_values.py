"""Plain JSON values of configs and results: dataclasses as dicts, paths as strings, tuples as lists, keys as
strings, non-finite floats as ``null`` (JSON has no ``inf``/``nan``)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any


def json_value(value: Any) -> Any:
    """``value`` with every nested dataclass, path, tuple and non-finite float made JSON-plain."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_value(dataclasses.asdict(value))
    return value
