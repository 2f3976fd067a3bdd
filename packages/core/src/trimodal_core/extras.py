"""Optional dependencies ("extras"): one clear error when a feature needs an extra that is not installed.

The base ``trimodal-data`` and ``trimodal-tokenizers`` installs hold the text path only (no torch); image and
audio features live behind the ``[image]`` and ``[audio]`` extras. A module or function that needs an extra
imports it through :func:`import_extra` (or turns an ``ImportError`` into :func:`missing_extra`), so a user
who lacks it reads which ``pip install`` fixes it instead of a bare ``No module named 'torch'``::

    torch = import_extra("torch", package="trimodal-data", extra="image", feature="the image-text pipeline")

:func:`check_extra` tries a list of modules at launch (before any Beam worker starts) and names all missing
ones at once.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType


class MissingExtraError(ImportError):
    """A feature needs an optional extra of a trimodal package that is not installed."""


def install_hint(package: str, extra: str) -> str:
    """The command that installs ``package[extra]`` (quoted for shells that glob brackets)."""
    return f"pip install '{package}[{extra}]'"


def missing_extra(
    *, package: str, extra: str, feature: str, missing: Sequence[str] = (), cause: BaseException | None = None
) -> MissingExtraError:
    """The error to raise when ``feature`` cannot run without ``package[extra]``.

    Args:
        package: distribution name, e.g. ``trimodal-data``.
        extra: the extra's name, e.g. ``image``.
        feature: what needs it, e.g. ``the image-text pipeline``.
        missing: module names found missing (shown in the message).
        cause: the original ``ImportError``, if any (its message is appended).
    """
    what = f" (missing: {', '.join(missing)})" if missing else ""
    if cause is not None and not missing:
        what = f" ({cause})"
    return MissingExtraError(f"{feature} needs `{install_hint(package, extra)}`{what}")


def import_extra(module: str, *, package: str, extra: str, feature: str) -> ModuleType:
    """``importlib.import_module(module)``, or a :class:`MissingExtraError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # The original message stays in the text: an installed but broken module (an ABI mismatch) reads
        # differently from an absent one.
        raise missing_extra(package=package, extra=extra, feature=feature, cause=exc) from exc


def check_extra(modules: Sequence[str], *, package: str, extra: str, feature: str) -> None:
    """Import every module of ``modules``; one :class:`MissingExtraError` listing all that fail."""
    missing: list[str] = []
    first: ImportError | None = None
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append(name)
            first = first or exc
    if missing:
        raise missing_extra(package=package, extra=extra, feature=feature, missing=missing) from first
