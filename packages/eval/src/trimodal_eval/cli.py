"""``trimodal-eval``: the eval package's command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trimodal_core.subcommands import Subcommand, dispatch

COMMANDS: dict[str, Subcommand] = {}


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("trimodal-eval", "The trimodal eval tools.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
