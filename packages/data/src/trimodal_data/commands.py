"""``trimodal-data text``: the text pipeline's command line (tyro over the config; the rest goes to Beam).

Usage::

    trimodal-data text --input corpus/ more/*.jsonl.zst --output out/text --tokenizer bundle/ \\
        [--config text.toml] [--filters.gopher-quality.min-doc-words 20 ...] \\
        [--runner=DirectRunner --direct_running_mode=multi_processing --direct_num_workers=2]

Flags this command does not know are Beam pipeline options. ``--config FILE`` (JSON or TOML with the
nested structure of :class:`~trimodal_data.text_pipeline.TextPipelineConfig`) sets the stage defaults;
flags on the command line override it.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import tyro

from trimodal_core import setup_logging
from trimodal_data.config_files import config_path_from_argv, load_config_file
from trimodal_data.metrics import format_summary
from trimodal_data.text_pipeline import TextPipelineConfig, run_text_pipeline


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextCommandConfig:
    """Build a tokenized text corpus (Arrow shards + manifest + rejects) from JSONL/Parquet/.txt inputs."""

    input: tuple[str, ...]
    """Input files, folders or globs (.jsonl[.gz|.zst], .parquet, .txt)."""
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
    stages: Annotated[TextPipelineConfig, tyro.conf.arg(name="")] = dataclasses.field(
        default_factory=TextPipelineConfig
    )
    """Stage settings (flags without a prefix: ``--filters.language.allow en de``, ``--write.num-buckets 8``)."""


def parse(argv: list[str]) -> tuple[TextCommandConfig, list[str]]:
    """(our config, the Beam arguments)."""
    path = config_path_from_argv(argv)
    stages = load_config_file(TextPipelineConfig, path) if path is not None else TextPipelineConfig()
    default = TextCommandConfig(input=tyro.MISSING, output=tyro.MISSING, tokenizer=tyro.MISSING, stages=stages)
    config, beam_args = tyro.cli(
        TextCommandConfig, args=argv, prog="trimodal-data text", default=default, return_unknown_args=True
    )
    return config, list(beam_args)


def run(argv: list[str]) -> int:
    try:
        config, beam_args = parse(argv)
    except ValueError as exc:
        print(f"trimodal-data text: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    try:
        summary = run_text_pipeline(
            inputs=config.input,
            output=config.output,
            tokenizer=config.tokenizer,
            config=config.stages,
            beam_args=beam_args,
            name=config.name,
            overwrite=config.overwrite,
        )
    except ValueError as exc:
        print(f"trimodal-data text: {exc}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    print(f"manifest: {config.output / 'manifest.json'}")
    return 0 if summary["balanced"] else 1
