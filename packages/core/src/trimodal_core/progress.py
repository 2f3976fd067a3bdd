"""Progress bars for long work.

``trimodal-core`` depends on numpy and pyarrow only, so tqdm is imported lazily: every other trimodal
package depends on tqdm and gets real bars; a bare core install falls back to periodic log lines.
Bars are disabled when ``TRIMODAL_NO_PROGRESS=1`` or when stderr is not a terminal and
``TRIMODAL_PROGRESS=1`` is not set (CI logs stay readable).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_log = logging.getLogger("trimodal.progress")


def progress_enabled() -> bool:
    if os.environ.get("TRIMODAL_NO_PROGRESS") == "1":
        return False
    if os.environ.get("TRIMODAL_PROGRESS") == "1":
        return True
    return sys.stderr.isatty()


def progress(
    iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it"
) -> Iterator[T]:
    """Iterate with a progress bar (tqdm) or, without tqdm, a log line every ~10 seconds."""
    enabled = progress_enabled()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        yield from tqdm(iterable, desc=desc, total=total, unit=unit, disable=not enabled, dynamic_ncols=True)
        return
    last = time.monotonic()
    for count, item in enumerate(iterable, start=1):
        yield item
        now = time.monotonic()
        if enabled and now - last >= 10.0:
            last = now
            suffix = f"/{total}" if total is not None else ""
            _log.info("%s: %d%s %s", desc, count, suffix, unit)
