"""``trimodal``: one entry point that delegates to each package's own command line.

``trimodal data ...`` is ``trimodal-data ...`` and so on; ``trimodal demo`` runs the embedded demo.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trimodal_core.subcommands import Subcommand, dispatch


def _data(argv: list[str]) -> int:
    from trimodal_data.cli import main

    return main(argv)


def _tokenizers(argv: list[str]) -> int:
    from trimodal_tokenizers.cli import main

    return main(argv)


def _train(argv: list[str]) -> int:
    from trimodal_train.cli import main

    return main(argv)


def _eval(argv: list[str]) -> int:
    from trimodal_eval.cli import main

    return main(argv)


def _demo(argv: list[str]) -> int:
    from pipelines.demo import main

    return main(argv)


COMMANDS: dict[str, Subcommand] = {
    "demo": Subcommand("build the demo tokenizers and corpora from the embedded data (CPU, offline)", _demo),
    "data": Subcommand("build, inspect and mix corpora (trimodal-data)", _data),
    "tokenizers": Subcommand("train and run the text, image and audio tokenizers (trimodal-tokenizers)", _tokenizers),
    "train": Subcommand("train models (trimodal-train)", _train),
    "eval": Subcommand("evaluate models (trimodal-eval)", _eval),
}


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("trimodal", "From raw corpora to a tri-modal masked diffusion model.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
