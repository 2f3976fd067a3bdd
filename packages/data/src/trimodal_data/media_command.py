"""``trimodal-data image-text`` and ``trimodal-data audio-text``: command lines of the media pipelines.

Usage::

    trimodal-data image-text --input shards/ more/*.parquet --output out/image_text --tokenizer bundle/ \\
        [--clip-checkpoint clip_dir/] [--config image_text.toml] [--stages.image-rules.min-side 64 ...] \\
        [--runner=DirectRunner --direct_running_mode=multi_processing --direct_num_workers=2]
    trimodal-data audio-text --input transcripts.tsv clips_dir/ --output out/audio_text --tokenizer bundle/

Flags these commands do not know are Beam pipeline options (as for ``trimodal-data text``). ``--config
FILE`` (JSON or TOML with the nested structure of the stage config) sets the defaults; flags override it.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import tyro

from trimodal_core import setup_logging
from trimodal_data.audio_text import AudioTextConfig
from trimodal_data.config_files import config_path_from_argv, load_config_file
from trimodal_data.image_text import ImageTextConfig
from trimodal_data.metrics import format_summary


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageTextCommandConfig:
    """Build a tokenized image-text corpus (Arrow shards + manifest + rejects) from WebDataset tars,
    Parquet files or folders of images with caption sidecars."""

    input: tuple[str, ...]
    """Input files, folders or globs (.tar/.tar.gz/.tgz, .parquet, or a folder of images + .txt/.json)."""
    output: Path
    """Corpus folder (gets manifest.json, shards/, rejects/)."""
    tokenizer: Path
    """Tokenizer bundle folder with an image tokenizer (trimodal-tokenizers)."""
    clip_checkpoint: Path | None = None
    """Local open_clip folder (open_clip_config.json + *.safetensors) for the CLIP-score filter and CLIP
    embedding dedupe; without it the filter is skipped and dedupe uses thumbnail embeddings."""
    config: Path | None = None
    """JSON or TOML file with stage settings (command-line flags override it)."""
    name: str | None = None
    """Corpus name (default: the output folder's name)."""
    overwrite: bool = False
    """Replace a corpus already in the output folder."""
    log_level: str = "INFO"
    """Logging level."""
    stages: ImageTextConfig = dataclasses.field(default_factory=ImageTextConfig)
    """Stage settings."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class AudioTextCommandConfig:
    """Build a tokenized audio-text corpus (Arrow shards + manifest + rejects) from folders of audio with
    transcript sidecars, TSV/JSONL transcript lists or WebDataset tars."""

    input: tuple[str, ...]
    """Input files, folders or globs (.tsv/.jsonl lists, .tar/.tar.gz/.tgz, or a folder of audio + .txt/.json)."""
    output: Path
    """Corpus folder (gets manifest.json, shards/, rejects/)."""
    tokenizer: Path
    """Tokenizer bundle folder with an audio tokenizer (trimodal-tokenizers)."""
    config: Path | None = None
    """JSON or TOML file with stage settings (command-line flags override it)."""
    name: str | None = None
    """Corpus name (default: the output folder's name)."""
    overwrite: bool = False
    """Replace a corpus already in the output folder."""
    log_level: str = "INFO"
    """Logging level."""
    stages: AudioTextConfig = dataclasses.field(default_factory=AudioTextConfig)
    """Stage settings."""


def parse(argv: list[str], kind: str) -> tuple[Any, list[str]]:
    """(our config, the Beam arguments) for ``kind`` ``image`` or ``audio``."""
    command = ImageTextCommandConfig if kind == "image" else AudioTextCommandConfig
    stage_cls: Any = ImageTextConfig if kind == "image" else AudioTextConfig
    path = config_path_from_argv(argv)
    stages = load_config_file(stage_cls, path) if path is not None else stage_cls()
    default = command(input=tyro.MISSING, output=tyro.MISSING, tokenizer=tyro.MISSING, stages=stages)
    config, beam_args = tyro.cli(
        command, args=argv, prog=f"trimodal-data {kind}-text", default=default, return_unknown_args=True
    )
    return config, list(beam_args)


def run(argv: list[str], kind: str) -> int:
    from trimodal_data.media_pipeline import run_media_pipeline

    prog = f"trimodal-data {kind}-text"
    try:
        config, beam_args = parse(argv, kind)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    try:
        summary = run_media_pipeline(
            kind="image" if kind == "image" else "audio",
            inputs=config.input,
            output=config.output,
            tokenizer=config.tokenizer,
            config=config.stages,
            beam_args=beam_args,
            clip_checkpoint=getattr(config, "clip_checkpoint", None),
            name=config.name,
            overwrite=config.overwrite,
        )
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    print(f"manifest: {config.output / 'manifest.json'}")
    return 0 if summary["balanced"] else 1


def run_image_text(argv: list[str]) -> int:
    return run(argv, "image")


def run_audio_text(argv: list[str]) -> int:
    return run(argv, "audio")
