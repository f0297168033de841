"""What is wrong with a path given as an input file, in words: the one check every loader makes first.

A loader that only asked ``path.is_file()`` said "not found" of a folder, of a FIFO and of a
process substitution (``<(cat pairs.csv)``, a pipe at ``/dev/fd/63``), and one that opened a FIFO
without a writer hung. `input_file_problem` looks (``stat``, never ``open``) and names what the
path is; each loader puts it in its own one-line error with its own advice.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from painter_match.atomic import file_kind


def input_file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a regular file, or None when it can be.

    Returns:
        ``"not found"``, ``"is a folder"``, ``"is a FIFO (named pipe), not a regular file"`` (or
        another kind), or the system's reason (``"Permission denied"``).
    """
    try:
        info = os.stat(path)  # follows links; a dangling link is "not found"
    except (FileNotFoundError, NotADirectoryError):
        return "not found"
    except OSError as error:
        return error.strerror or str(error)
    if stat.S_ISREG(info.st_mode):
        return None
    if stat.S_ISDIR(info.st_mode):
        return "is a folder"
    return f"is a {file_kind(info.st_mode)}, not a regular file"


PIPE_ADVICE = (
    "painter-match reads its input files as regular files (some twice: checked first, then used), so "
    "save it to a file first (e.g. `cat ... > FILE`) and give that"
)


def pipe_advice(problem: str) -> str:
    """The advice for an input that is a pipe or other special file, else ""."""
    return f"; {PIPE_ADVICE}" if "not a regular file" in problem else ""
