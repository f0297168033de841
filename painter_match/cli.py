"""The ``painter-match`` command line: walks `painter_match.commands.COMMANDS`, nothing else.

Each command module adds its own parser and runs its own work through the library (rembg's
``commands/*_command.py`` pattern); building the parser imports no torch and nothing heavy, so
``--help`` is instant. Exit codes: 0 success, 1 a known error (one line on stderr), 2 a usage
error, 130 interrupted; an unexpected error keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from painter_match import __version__
from painter_match.commands import COMMANDS
from painter_match.commands.common import PROG, HelpFormatter
from painter_match.errors import PainterMatchError, UsageError


def get_parser() -> argparse.ArgumentParser:
    """The full argument parser (also what `make man` turns into the manual page)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Decide whether two paintings were painted by the same artist.",
        # The terms are said where every user passes: the packaged model's are not the code's.
        epilog="The model installed with painter-match is for research and education, not commercial\n"
        "use (its training data's terms); the code is MIT. `painter-match model` shows which\n"
        "model runs, its figures and terms, and where its card is.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"painter_match.commands.{name}")
        module.add_parser(commands).set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    args = get_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except UsageError as err:  # options the parser could not judge without the model
        print(f"{PROG} {args.command}: error: {err.for_cli()}", file=sys.stderr)
        return 2
    except PainterMatchError as err:
        print(f"{PROG}: error: {err.for_cli()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    finally:
        # The outputs the command claimed (`painter_match.atomic.check_output`) are free again.
        from painter_match.atomic import release_claims

        release_claims()
