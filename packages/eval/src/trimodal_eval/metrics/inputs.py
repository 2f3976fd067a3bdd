"""What the metrics command reads from disk: a generation folder's samples and the real reference sets.

* **Generation folder** (``trimodal-eval generate --out``): every ``<id>.json`` sidecar that has a ``task``
  (other JSON files, such as ``metrics.json``, are ignored), with its ``<id>.png`` (t2i) or ``<id>.wav`` (t2s)
  named by ``files.output`` (a file directly inside the folder). A folder that is missing, holds no sidecar,
  or names a missing output file is a ``ValueError`` naming it.
* **Transcribed clips** (``--real-audio``): a tab-separated table with a header holding ``path`` and
  ``transcript`` columns (paths relative to the table), or a folder holding such a ``transcripts.tsv`` (the
  layout of ``pipelines/demo_data/audio_text``). Clips are read with ``soundfile`` (WAV, FLAC, Ogg) when it
  is installed, else WAV only (:func:`~trimodal_eval.generation.audio_files.read_wav`); the first
  ``max_clips`` rows in table order are used.
* **Image folders** (``--reference-images``, ``--real-images``): the image files directly inside the folder,
  sorted by name, decoded to 8-bit RGB by :func:`trimodal_tokenizers.image_decode.open_image`.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from trimodal_eval.generation.audio_files import read_wav

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclasses.dataclass(frozen=True)
class Sample:
    """One generated sample: its sidecar and, for t2i/t2s, the path of its output file."""

    sidecar: dict[str, Any]
    path: Path
    """The sidecar file."""
    output: Path | None

    @property
    def id(self) -> str:
        return str(self.sidecar["id"])

    @property
    def task(self) -> str:
        return str(self.sidecar["task"])

    @property
    def output_path(self) -> Path:
        """The output file (t2i, t2s); ValueError naming the sidecar for a task without one."""
        if self.output is None:
            raise ValueError(f"{self.path}: a {self.task} sample has no output file")
        return self.output


def read_samples(folder: Path, *, flag: str = "--samples") -> list[Sample]:
    """Every sample of a generation folder, sorted by id (``flag`` names the option in errors)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{flag} {folder}: not a folder (give the output folder of `trimodal-eval generate`)")
    samples = []
    for path in sorted(folder.glob("*.json")):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: invalid JSON ({exc})") from None
        if not isinstance(info, dict) or "task" not in info:
            continue
        if not isinstance(info.get("id"), str):
            raise ValueError(f"{path}: sample sidecar without a string 'id'")
        output = None
        name = (info.get("files") or {}).get("output")
        if info["task"] in ("t2i", "t2s"):
            if not name:
                raise ValueError(f"{path}: {info['task']} sidecar names no output file (files.output)")
            output = folder / str(name)
            if not output.is_file() or output.resolve().parent != folder.resolve():
                raise ValueError(f"{path}: output file {name!r} not found in {folder}")
        samples.append(Sample(sidecar=info, path=path, output=output))
    if not samples:
        raise ValueError(f"{flag} {folder}: no sample sidecars (<id>.json with a 'task', written by "
                         "`trimodal-eval generate`)")
    return sorted(samples, key=lambda s: s.id)


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """``(mono float32 waveform, sample rate)`` of an audio file."""
    try:
        import soundfile as sf
    except ImportError:
        return read_wav(path)
    try:
        wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise ValueError(f"{path}: not a readable audio file ({exc})") from None
    if wave.shape[0] == 0:
        raise ValueError(f"{path}: no audio frames")
    return wave.mean(axis=1).astype(np.float32), int(rate)


def read_transcribed_clips(source: Path, *, max_clips: int | None,
                           flag: str = "--real-audio") -> list[tuple[np.ndarray, int, str]]:
    """``(waveform, rate, transcript)`` of the first ``max_clips`` rows of a transcript table (module docstring)."""
    table = Path(source) / "transcripts.tsv" if Path(source).is_dir() else Path(source)
    if not table.is_file():
        raise ValueError(f"{flag} {source}: neither a transcript table nor a folder holding transcripts.tsv")
    with table.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if not {"path", "transcript"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{flag} {table}: needs a header with 'path' and 'transcript' columns, "
                             f"got {reader.fieldnames}")
        rows = list(reader)
    rows = rows[:max_clips] if max_clips is not None else rows
    if not rows:
        raise ValueError(f"{flag} {table}: no clips")
    clips = []
    for row in rows:
        path = Path(row["path"])
        path = path if path.is_absolute() else table.parent / path
        if not path.is_file():
            raise ValueError(f"{flag} {table}: clip not found: {path}")
        wave, rate = read_audio(path)
        clips.append((wave, rate, row["transcript"]))
    return clips


def read_image_folder(folder: Path, *, max_images: int | None, flag: str) -> list[Any]:
    """The first ``max_images`` images (PIL, RGB) of ``folder`` by file name."""
    from trimodal_tokenizers.image_decode import ANY_FORMAT, ImageDecodeConfig, open_image

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{flag} {folder}: not a folder of images")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    paths = paths[:max_images] if max_images is not None else paths
    if not paths:
        raise ValueError(f"{flag} {folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    config = ImageDecodeConfig(formats=ANY_FORMAT)
    return [open_image(p, config) for p in paths]
