"""``trimodal-tokenizers``: the tokenizers package's command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trimodal_core.subcommands import Subcommand, dispatch

COMMANDS: dict[str, Subcommand] = {}


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("trimodal-tokenizers", "The trimodal tokenizers tools.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
