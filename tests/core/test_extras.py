"""MissingExtraError: a missing optional dependency names the extra that installs it."""

from __future__ import annotations

import sys

import pytest

from trimodal_core.extras import MissingExtraError, check_extra, import_extra, install_hint


def test_import_extra_returns_the_module_or_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert import_extra("json", package="trimodal-data", extra="image", feature="x").__name__ == "json"
    monkeypatch.setitem(sys.modules, "not_installed_here", None)  # None in sys.modules makes import raise
    expected = r"the image-text pipeline needs `pip install 'trimodal-data\[image\]'`"
    with pytest.raises(MissingExtraError, match=expected):
        import_extra("not_installed_here", package="trimodal-data", extra="image", feature="the image-text pipeline")
    assert issubclass(MissingExtraError, ImportError)  # `except ImportError` and importorskip still work


def test_check_extra_lists_every_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    check_extra(["json", "math"], package="trimodal-tokenizers", extra="audio", feature="x")
    monkeypatch.setitem(sys.modules, "gone_a", None)
    monkeypatch.setitem(sys.modules, "gone_b", None)
    with pytest.raises(MissingExtraError) as info:
        check_extra(["json", "gone_a", "gone_b"], package="trimodal-tokenizers", extra="audio", feature="Codec 2")
    assert str(info.value) == "Codec 2 needs `pip install 'trimodal-tokenizers[audio]'` (missing: gone_a, gone_b)"
    assert install_hint("trimodal-data", "all") == "pip install 'trimodal-data[all]'"
