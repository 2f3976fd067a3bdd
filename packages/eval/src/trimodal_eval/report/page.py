"""A self-contained HTML report: sections of tables, figures, image galleries, audio players and text.

Everything the page shows is inside the file (PNG and WAV as ``data:`` URIs, CSS inline, no script), so a
report can be mailed, archived or opened from any folder and never has a missing resource. All text is
escaped; nothing from a run's files is interpreted as HTML.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import math
from collections.abc import Sequence
from pathlib import Path

from trimodal_core.atomic import atomic_write_text

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222;
background:#fff;line-height:1.45;padding:0 1em}
h1{border-bottom:2px solid #444;padding-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #bbb}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.25em .6em;
text-align:right}th{background:#f0f0f0}td.l,th.l{text-align:left}
figure{display:inline-block;margin:.5em;vertical-align:top;text-align:center}
figure img{border:1px solid #ddd;image-rendering:pixelated}figcaption{font-size:.85em;max-width:320px}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}
.sample{border:1px solid #ddd;margin:.5em 0;padding:.5em}.meta{color:#666;font-size:.82em}
.note{color:#555;font-style:italic}
"""


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


@dataclasses.dataclass(frozen=True)
class Paragraph:
    text: str
    note: bool = False
    """Render as a muted note (skips, caveats)."""

    def render(self) -> str:
        cls = ' class="note"' if self.note else ""
        return f"<p{cls}>{html.escape(self.text)}</p>"


@dataclasses.dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[object]]
    caption: str = ""

    def render(self) -> str:
        def cell(tag: str, value: object) -> str:
            cls = "" if isinstance(value, int | float) else ' class="l"'
            return f"<{tag}{cls}>{html.escape(_fmt(value))}</{tag}>"

        head = "".join(f'<th class="l">{html.escape(c)}</th>' for c in self.columns)
        body = "".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in self.rows)
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclasses.dataclass(frozen=True)
class Figure:
    png: bytes
    caption: str = ""
    width: int | None = None
    """Display width in CSS pixels (None: the image's own)."""

    def render(self) -> str:
        if not self.png.startswith(b"\x89PNG"):
            raise ValueError(f"Figure {self.caption!r}: not PNG data")
        src = "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")
        width = f' width="{int(self.width)}"' if self.width else ""
        alt = html.escape(self.caption or "figure", quote=True)
        return (f'<figure><img src="{src}"{width} alt="{alt}">'
                f"<figcaption>{html.escape(self.caption)}</figcaption></figure>")


@dataclasses.dataclass(frozen=True)
class Audio:
    wav: bytes
    caption: str = ""

    def render(self) -> str:
        if not (self.wav[:4] == b"RIFF" and self.wav[8:12] == b"WAVE"):
            raise ValueError(f"Audio {self.caption!r}: not WAV data")
        src = "data:audio/wav;base64," + base64.b64encode(self.wav).decode("ascii")
        return (f'<figure><audio controls preload="none" src="{src}"></audio>'
                f"<figcaption>{html.escape(self.caption)}</figcaption></figure>")


@dataclasses.dataclass(frozen=True)
class TextSample:
    prompt: str
    output: str
    meta: str = ""

    def render(self) -> str:
        return (f'<div class="sample"><div><b>prompt</b> {html.escape(self.prompt)}</div>'
                f"<div><b>output</b> {html.escape(self.output)}</div>"
                f'<div class="meta">{html.escape(self.meta)}</div></div>')


@dataclasses.dataclass(frozen=True)
class Preformatted:
    text: str

    def render(self) -> str:
        return f"<pre>{html.escape(self.text)}</pre>"


Block = Paragraph | Table | Figure | Audio | TextSample | Preformatted


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    blocks: Sequence[Block]

    def render(self) -> str:
        return f"<section><h2>{html.escape(self.title)}</h2>" + "".join(b.render() for b in self.blocks) + "</section>"


@dataclasses.dataclass(frozen=True)
class ReportPage:
    """A titled page of sections; :meth:`write` saves it atomically."""

    title: str
    sections: Sequence[Section]
    subtitle: str = ""

    def render(self) -> str:
        sub = f"<p class=\"meta\">{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        body = "".join(s.render() for s in self.sections)
        return (
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>"
            f"<body><h1>{html.escape(self.title)}</h1>{sub}{body}</body></html>\n"
        )

    def write(self, path: str | Path) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, self.render())
        return out
