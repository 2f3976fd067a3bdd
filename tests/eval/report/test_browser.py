"""A report renders in a real headless Chromium: no console errors, no missing or external resources, a
screenshot that is not blank. Skipped only where Chromium or Playwright is absent (.ci/run installs both)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trimodal_eval.report import ReportPage, Section
from trimodal_eval.report.browser_check import check_report, find_chromium

pytest.importorskip("playwright", reason="Playwright is in the dev group")
pytestmark = pytest.mark.skipif(find_chromium() is None, reason="no chromium on PATH (.ci/run installs it)")


def test_report_renders_cleanly(page: ReportPage, tmp_path: Path) -> None:
    check = check_report(page.write(tmp_path / "r.html"))
    assert check.ok, check
    assert check.num_images == 1 and check.num_audio == 1
    assert check.screenshot_distinct_colors > 10


def test_a_broken_page_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text('<html><body><img src="missing.png"><script>undefined_fn()</script></body></html>')
    check = check_report(broken)
    assert not check.ok
    assert check.page_errors and check.failed_requests and check.num_broken_images == 1


def test_a_blank_page_is_caught(tmp_path: Path) -> None:
    blank = ReportPage(title="", sections=[Section("", [])]).write(tmp_path / "blank.html")
    blank.write_text("<html><body></body></html>")
    assert check_report(blank).screenshot_distinct_colors == 1
