"""``trimodal-data text``, ``image-text`` and ``audio-text``: the three corpus-building command lines.

Usage::

    trimodal-data text --input corpus/ more/*.jsonl.zst --output out/text --tokenizer bundle/ \\
        [--config text.toml] [--filters.gopher-quality.min-doc-words 20 ...] [--write.num-buckets 64]
    trimodal-data image-text --input shards/ more/*.parquet --output out/image_text --tokenizer bundle/ \\
        [--clip-checkpoint clip_dir/] [--config image_text.toml] [--image-rules.min-side 64 ...]
    trimodal-data audio-text --input transcripts.tsv clips_dir/ --output out/audio_text --tokenizer bundle/ \\
        [--write.num-buckets 64] [--runner=DirectRunner --direct_running_mode=multi_processing ...]

The three take the same flag shapes: the command's own flags (``--input``, ``--output``, ``--tokenizer``,
``--config``, ``--name``, ``--overwrite``, ``--log-level``), then every field of the pipeline's stage config
without a prefix (``--write.num-buckets`` everywhere). ``--config FILE`` (JSON or TOML with the nested
structure of the stage config, loaded by :mod:`trimodal_data.config_files`) sets the defaults; flags override
it. Flags a command does not know are Beam pipeline options.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import tyro

from trimodal_core import setup_logging
from trimodal_core.extras import MissingExtraError
from trimodal_data.config_files import config_path_from_argv, load_config_file
from trimodal_data.metrics import format_summary
from trimodal_data.pipelines.audio_text import AudioTextConfig
from trimodal_data.pipelines.image_text import ImageTextConfig
from trimodal_data.pipelines.text import TextPipelineConfig

_STAGES = tyro.conf.arg(name="")
"""Stage fields become flags without a prefix (``--write.num-buckets``, not ``--stages.write.num-buckets``)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandConfig:
    """The flags every corpus-building command takes."""

    input: tuple[str, ...]
    """Input files, folders or globs."""
    output: Path
    """Corpus folder (gets manifest.json, shards/, rejects/)."""
    tokenizer: Path
    """Tokenizer bundle folder (trimodal-tokenizers)."""
    config: Path | None = None
    """JSON or TOML file with stage settings (command-line flags override it)."""
    name: str | None = None
    """Corpus name (default: the output folder's name)."""
    overwrite: bool = False
    """Replace a corpus already in the output folder."""
    log_level: str = "INFO"
    """Logging level."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextCommandConfig(CommandConfig):
    """Build a tokenized text corpus (Arrow shards + manifest + rejects) from JSONL/Parquet/.txt inputs
    (.jsonl[.gz|.zst], .parquet, .txt files, folders or globs)."""

    stages: Annotated[TextPipelineConfig, _STAGES] = dataclasses.field(default_factory=TextPipelineConfig)
    """Stage settings (``--filters.language.allow en de``, ``--write.num-buckets 8``)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageTextCommandConfig(CommandConfig):
    """Build a tokenized image-text corpus (Arrow shards + manifest + rejects) from WebDataset tars
    (.tar/.tar.gz/.tgz), Parquet files or folders of images with caption sidecars (.txt/.json); the bundle
    needs an image tokenizer."""

    clip_checkpoint: Path | None = None
    """Local open_clip folder (open_clip_config.json + *.safetensors) for the CLIP-score filter and CLIP
    embedding dedupe; without it the filter is skipped and dedupe uses thumbnail embeddings."""
    stages: Annotated[ImageTextConfig, _STAGES] = dataclasses.field(default_factory=ImageTextConfig)
    """Stage settings (``--image-rules.min-side 64``, ``--write.num-buckets 8``)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class AudioTextCommandConfig(CommandConfig):
    """Build a tokenized audio-text corpus (Arrow shards + manifest + rejects) from folders of audio with
    transcript sidecars, TSV/JSONL transcript lists or WebDataset tars; the bundle needs an audio tokenizer."""

    stages: Annotated[AudioTextConfig, _STAGES] = dataclasses.field(default_factory=AudioTextConfig)
    """Stage settings (``--audio-rules.min-seconds 1``, ``--write.num-buckets 8``)."""


COMMANDS: dict[str, tuple[type[CommandConfig], type]] = {
    "text": (TextCommandConfig, TextPipelineConfig),
    "image-text": (ImageTextCommandConfig, ImageTextConfig),
    "audio-text": (AudioTextCommandConfig, AudioTextConfig),
}


def parse(argv: list[str], command: str = "text") -> tuple[Any, list[str]]:
    """(our config, the Beam arguments) for ``command`` (``text``, ``image-text`` or ``audio-text``)."""
    config_cls, stage_cls = COMMANDS[command]
    path = config_path_from_argv(argv)
    stages = load_config_file(stage_cls, path) if path is not None else stage_cls()
    default = config_cls(input=tyro.MISSING, output=tyro.MISSING, tokenizer=tyro.MISSING, stages=stages)  # type: ignore[call-arg]
    config, beam_args = tyro.cli(
        config_cls, args=argv, prog=f"trimodal-data {command}", default=default, return_unknown_args=True
    )
    return config, list(beam_args)


def _build(command: str, config: Any, beam_args: list[str]) -> dict[str, Any]:
    common = {
        "inputs": config.input,
        "output": config.output,
        "tokenizer": config.tokenizer,
        "config": config.stages,
        "beam_args": beam_args,
        "name": config.name,
        "overwrite": config.overwrite,
    }
    if command == "text":
        from trimodal_data.pipelines.text import run_text_pipeline

        return run_text_pipeline(**common)
    from trimodal_data.pipelines.media import run_media_pipeline

    kind = "image" if command == "image-text" else "audio"
    return run_media_pipeline(kind=kind, clip_checkpoint=getattr(config, "clip_checkpoint", None), **common)


def run(argv: list[str], command: str = "text") -> int:
    """Parse, build the corpus, print the summary; exit code 2 for a user error, 1 when inputs went missing."""
    prog = f"trimodal-data {command}"
    try:
        config, beam_args = parse(argv, command)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    try:
        summary = _build(command, config, beam_args)
    except (ValueError, MissingExtraError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    print(f"manifest: {config.output / 'manifest.json'}")
    return 0 if summary["balanced"] else 1


def run_text(argv: list[str]) -> int:
    return run(argv, "text")


def run_image_text(argv: list[str]) -> int:
    return run(argv, "image-text")


def run_audio_text(argv: list[str]) -> int:
    return run(argv, "audio-text")
