"""``trimodal-data``: build, inspect and mix corpora."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trimodal_core.subcommands import Subcommand, dispatch


def _inspect(argv: list[str]) -> int:
    from trimodal_data.inspection import run

    return run(argv)


def _mix(argv: list[str]) -> int:
    from trimodal_data.mixing import run

    return run(argv)


def _text(argv: list[str]) -> int:
    from trimodal_data.commands import run_text

    return run_text(argv)


def _split(argv: list[str]) -> int:
    from trimodal_data.split_command import run

    return run(argv)


def _stats(argv: list[str]) -> int:
    from trimodal_data.stats import run

    return run(argv)


def _image_text(argv: list[str]) -> int:
    from trimodal_data.commands import run_image_text

    return run_image_text(argv)


def _audio_text(argv: list[str]) -> int:
    from trimodal_data.commands import run_audio_text

    return run_audio_text(argv)


COMMANDS: dict[str, Subcommand] = {
    "inspect": Subcommand("summarize and validate a shard or a manifest", _inspect),
    "text": Subcommand("build a text corpus: read, filter, dedupe, tokenize, write shards (Beam)", _text),
    "stats": Subcommand("statistics of a built corpus: rejects per reason, length histograms, duplicates", _stats),
    "image-text": Subcommand("build an image-text corpus: read, decode, filter, dedupe, tokenize (Beam)", _image_text),
    "audio-text": Subcommand("build an audio-text corpus: read, decode, filter, dedupe, tokenize (Beam)", _audio_text),
    "mix": Subcommand("write and validate a mixture manifest: --component PATH:WEIGHT ... --out mix.json", _mix),
    "split": Subcommand("deterministic train/validation split by a salted hash of the example id", _split),
}


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("trimodal-data", "Build, inspect and mix trimodal corpora.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
