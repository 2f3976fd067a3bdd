"""The HTML report escapes what it shows, embeds media as data URIs, and refuses mislabelled media."""

from __future__ import annotations

from pathlib import Path

import pytest

from trimodal_eval.report import Audio, Figure, ReportPage


def test_page_is_escaped_and_self_contained(page: ReportPage, tmp_path: Path) -> None:
    text = page.write(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "run &lt;report&gt;" in text
    assert "data:image/png;base64," in text and "data:audio/wav;base64," in text
    assert "src=\"http" not in text and "href=" not in text
    assert "n/a" in text  # NaN shown as n/a, never as a number


def test_mislabelled_media_is_refused() -> None:
    with pytest.raises(ValueError, match="not PNG"):
        Figure(b"GIF89a....").render()
    with pytest.raises(ValueError, match="not WAV"):
        Audio(b"OggS....").render()
