"""Which embedded demo files each demo size reads.

``default`` reads every committed corpus file. ``tiny`` (for CI) reads one text shard, one image tar
(copied into the output folder, since the image tokenizer trains on a folder of tars) and a small audio
folder: the first clips in name order plus every planted duplicate and its original, copied into the
output folder (the committed data is never written to).
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
TINY_AUDIO_CLIPS = 12


@dataclasses.dataclass(frozen=True)
class DemoInputs:
    text: list[Path]
    image_text: list[Path]
    audio_text: list[Path]

    def paths(self, corpus: str) -> list[Path]:
        return list(getattr(self, corpus))

    def key(self, corpus: str) -> list[str]:
        """Content identity of a corpus's inputs (names, sizes and a hash of the bytes)."""
        files: list[Path] = []
        for path in self.paths(corpus):
            files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        digest = hashlib.sha256()
        for file in files:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
        return [str(len(files)), digest.hexdigest()]


def _require(path: Path) -> Path:
    if not path.exists():
        raise ValueError(f"demo data missing: {path} (is this a complete checkout?)")
    return path


def demo_inputs(size: str, scratch: Path) -> DemoInputs:
    text_files = sorted(_require(DEMO_DATA / "text").glob("docs-*.jsonl.gz"))
    tars = sorted(_require(DEMO_DATA / "image_text").glob("pairs-*.tar"))
    audio = _require(DEMO_DATA / "audio_text")
    if not text_files or not tars:
        raise ValueError(f"demo data missing under {DEMO_DATA}")
    if size == "default":
        return DemoInputs(text=text_files, image_text=tars, audio_text=[audio / "transcripts.tsv"])
    if size != "tiny":
        raise ValueError(f"unknown demo size {size!r}; expected default or tiny")
    clips = sorted((audio / "clips").glob("*.ogg"))
    planted = [c for c in clips if c.name.startswith("planted-dup-")]
    originals = {c.name.split("-of-", 1)[1] for c in planted}
    chosen = sorted({*clips[:TINY_AUDIO_CLIPS], *planted, *(c for c in clips if c.name in originals)})
    image_folder = scratch / "image_text_tiny"
    image_folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tars[0], image_folder / tars[0].name)
    folder = scratch / "audio_text_tiny"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for clip in chosen:
        shutil.copyfile(clip, folder / clip.name)
        shutil.copyfile(clip.with_suffix(".txt"), folder / clip.with_suffix(".txt").name)
    return DemoInputs(text=text_files[:1], image_text=[image_folder / tars[0].name], audio_text=[folder])
