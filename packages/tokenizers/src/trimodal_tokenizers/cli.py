"""``trimodal-tokenizers``: train tokenizers, assemble a bundle and inspect it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from trimodal_core.subcommands import Subcommand, dispatch


def _lazy(name: str) -> Callable[[list[str]], int]:
    # Imported on use so `--help` and text-only commands never import torch.
    def run(argv: list[str]) -> int:
        from trimodal_tokenizers import commands

        return commands.guarded(getattr(commands, name))(argv)

    return run


COMMANDS: dict[str, Subcommand] = {
    "train-text": Subcommand("train a byte-level BPE text tokenizer on text/jsonl files", _lazy("run_train_text")),
    "train-image": Subcommand("train the FSQ image tokenizer on a folder of images", _lazy("run_train_image")),
    "build-bundle": Subcommand(
        "assemble text/image/audio tokenizers into a bundle directory", _lazy("run_build_bundle")
    ),
    "inspect": Subcommand("summarize a bundle; encode a text, image or audio file through it", _lazy("run_inspect")),
}


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("trimodal-tokenizers", "Train, bundle and inspect the trimodal tokenizers.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
