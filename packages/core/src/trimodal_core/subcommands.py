"""A tiny dispatcher for ``tool SUBCOMMAND [args...]`` command lines.

Each package's console script maps subcommand names to handlers that parse their own arguments
(usually with tyro, from a config dataclass). Dispatch lives here so every trimodal command behaves the
same way (``--help`` lists the subcommands; unknown names fail with the list), without making
``trimodal-core`` depend on a CLI library.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence


@dataclasses.dataclass(frozen=True)
class Subcommand:
    help: str
    """One line shown in the tool's ``--help``."""
    run: Callable[[list[str]], int | None]
    """Called with the remaining arguments; returns an exit code (None means 0)."""


def dispatch(prog: str, description: str, commands: dict[str, Subcommand], argv: Sequence[str] | None = None) -> int:
    """Run the subcommand named by ``argv[0]`` with the rest of ``argv``; return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    width = max((len(name) for name in commands), default=0)
    usage = "\n".join(
        [
            f"usage: {prog} {{{','.join(commands)}}} [options]",
            "",
            description,
            "",
            "subcommands:",
            *(f"  {name.ljust(width)}  {cmd.help}" for name, cmd in commands.items()),
            "",
            f"Run '{prog} SUBCOMMAND --help' for the options of one subcommand.",
        ]
    )
    if not args or args[0] in ("-h", "--help"):
        print(usage)
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in commands:
        print(f"{prog}: unknown subcommand {name!r}\n\n{usage}", file=sys.stderr)
        return 2
    code = commands[name].run(rest)
    return 0 if code is None else int(code)
