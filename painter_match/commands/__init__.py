"""The commands of ``painter-match``: one module each, with ``add_parser(commands)`` and ``run(args) -> int``.

`painter_match.cli` walks `COMMANDS` in this order to build the parser and calls the chosen
module's ``run``. A command module imports only argparse-level helpers at its top, so building
the parser (and ``--help``, and ``make man``) is instant and never imports torch; ``run`` imports
the library functions it is a thin layer over, parses nothing and decides nothing that a caller
of the library could not do the same way.
"""

from __future__ import annotations

COMMANDS = (
    "synth",
    "scan",
    "baseline",
    "train",
    "prepare",
    "evaluate",
    "export",
    "embed",
    "merge",
    "reference",
    "score",
    "verify",
    "similar",
    "model",
)
