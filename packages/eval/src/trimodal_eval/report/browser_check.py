"""Open a report in a real headless Chromium and check it: console errors, failed or external requests, and a
screenshot that is not blank.

Driven by Playwright for Python pointed at the system Chromium (Debian's ``chromium``; Playwright never
downloads a browser here). Playwright is an optional dependency (``pip install playwright``; the workspace's
dev group has it). The flags are those a sandboxed root CI needs: no sandbox, no GPU, no background
networking (a closed network refuses those connections, which would show up as noise).
"""

from __future__ import annotations

import dataclasses
import io
import shutil
from pathlib import Path

CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
)


@dataclasses.dataclass(frozen=True)
class BrowserCheck:
    """What Chromium saw while loading the page."""

    console_errors: tuple[str, ...]
    page_errors: tuple[str, ...]
    """Uncaught exceptions in the page."""
    failed_requests: tuple[str, ...]
    """Requests that failed (missing files, refused connections)."""
    external_requests: tuple[str, ...]
    """Requests that left the page (anything but ``data:`` and the page itself): a self-contained report has none."""
    num_images: int
    num_broken_images: int
    num_audio: int
    screenshot_png: bytes
    screenshot_distinct_colors: int
    """Distinct colours in the screenshot; 1 means a blank page."""

    @property
    def ok(self) -> bool:
        return not (self.console_errors or self.page_errors or self.failed_requests or self.external_requests
                    or self.num_broken_images) and self.screenshot_distinct_colors > 1


def find_chromium() -> str | None:
    """Path of a system Chromium, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def check_report(path: str | Path, *, chromium: str | None = None, width: int = 1280, height: int = 2000,
                 timeout_ms: int = 60_000) -> BrowserCheck:
    """Load ``path`` (an HTML file) in headless Chromium and report what went wrong, if anything."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ImportError("checking a report in Chromium needs Playwright: pip install playwright") from None
    page_path = Path(path).resolve()
    if not page_path.is_file():
        raise ValueError(f"report not found: {page_path}")
    executable = chromium or find_chromium()
    if executable is None:
        raise ValueError("no Chromium found on PATH (Debian: apt-get install chromium)")
    url = page_path.as_uri()
    console: list[str] = []
    errors: list[str] = []
    failed: list[str] = []
    external: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: failed.append(f"{r.url[:120]}: {r.failure}"))
            page.on("request", lambda r: None if r.url.startswith("data:") or r.url == url
                    else external.append(r.url[:200]))
            page.goto(url, wait_until="load", timeout=timeout_ms)
            counts = page.evaluate(
                "() => ({images: document.images.length,"
                " broken: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length,"
                " audio: document.querySelectorAll('audio').length})"
            )
            shot = page.screenshot(full_page=False)
        finally:
            browser.close()
    return BrowserCheck(
        console_errors=tuple(console), page_errors=tuple(errors), failed_requests=tuple(failed),
        external_requests=tuple(external), num_images=int(counts["images"]),
        num_broken_images=int(counts["broken"]), num_audio=int(counts["audio"]), screenshot_png=shot,
        screenshot_distinct_colors=_distinct_colors(shot),
    )


def _distinct_colors(png: bytes) -> int:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
    return len(colors) if colors is not None else 1 << 16
