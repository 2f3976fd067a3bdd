"""Logging setup shared by every trimodal command: one format, rank-0-only in distributed runs."""

from __future__ import annotations

import logging
import os

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def process_rank() -> int:
    """Global rank from the usual launcher variables (torchrun, SLURM); 0 when not distributed."""
    for var in ("RANK", "SLURM_PROCID"):
        value = os.environ.get(var)
        if value is not None and value.strip().isdigit():
            return int(value)
    return 0


def setup_logging(level: int | str = "INFO", *, all_ranks: bool = False) -> None:
    """Configure the root logger once; ranks other than 0 only log warnings unless ``all_ranks``."""
    if isinstance(level, str):
        resolved = logging.getLevelName(level.upper())
        if not isinstance(resolved, int):
            raise ValueError(f"unknown log level {level!r}")
        level = resolved
    if not all_ranks and process_rank() != 0:
        level = max(level, logging.WARNING)
    logging.basicConfig(level=level, format=_FORMAT, datefmt="%H:%M:%S", force=True)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
