"""The project's error types.

A `PainterMatchError` is a failure the user can act on (bad input, a missing file, a model
without its contract): the CLI prints its message on one line and exits 1. Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

_E = TypeVar("_E", bound="PainterMatchError")

# How the arguments that several messages name are spelt: (Python caller, command line).
RESUME = ("resume=True", "--resume")
FORCE = ("force=True", "--force")
STRICT = ("strict=True", "--strict")


class PainterMatchError(Exception):
    """A known failure with a one-line message that names the culprit and what to do.

    The message speaks to a Python caller (``resume=True``); where a command-line user must read
    other words (``--resume``), ``cli`` holds them and `for_cli` gives them: the library says
    the one thing that went wrong, and each reader gets it in the names they typed.
    """

    def __init__(self, *args: object, cli: str | None = None) -> None:
        super().__init__(*args)
        self.cli = cli

    def for_cli(self) -> str:
        """The message for a command-line user: with flags where it names arguments."""
        return self.cli if self.cli is not None else str(self)

    @classmethod
    def naming(cls: type[_E], template: str, **arguments: tuple[str, str]) -> _E:
        """An error whose message names arguments: each ``{name}`` in ``template`` becomes
        ``arguments[name][0]`` (the Python keyword argument, e.g. ``"force=True"``) in the message
        and ``arguments[name][1]`` (the flag, e.g. ``"--force"``) in `cli`.

        Placeholders are replaced by name, not by `str.format`, so other braces (in a file name)
        are left as they are.
        """
        python, cli = spell(template, **arguments)
        return cls(python, cli=cli if cli != python else None)

    def extend(self, note: str, cli_note: str | None = None) -> None:
        """Append ``; note`` to the message, and ``; cli_note`` (else ``note``) to the CLI's."""
        cli = f"{self.for_cli()}; {cli_note if cli_note is not None else note}"
        self.args = (f"{self}; {note}",)
        self.cli = cli if cli != self.args[0] else None


def one_line(error: BaseException, *, with_type: bool = False) -> str:
    """An exception's message on one line (whitespace runs, newlines included, become one space),
    for a cause quoted inside a one-line error; ``with_type`` prefixes the exception's type name
    (and says "no message" for an empty one)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text or 'no message'}" if with_type else text


def spell(template: str, **arguments: tuple[str, str]) -> tuple[str, str]:
    """``template`` for a Python caller and for a command-line user: each ``{name}`` replaced by
    ``arguments[name][0]`` in the first, by ``arguments[name][1]`` in the second."""
    python, cli = template, template
    for name, (keyword, flag) in arguments.items():
        python = python.replace(f"{{{name}}}", keyword)
        cli = cli.replace(f"{{{name}}}", flag)
    return python, cli


class ImageLoadError(PainterMatchError):
    """An image that cannot be decoded: corrupt, truncated, empty, not an image, or too large.

    Callers that walk many images catch this, record ``path`` and ``cause``, and go on.
    """

    def __init__(self, path: str | Path, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class DataError(PainterMatchError):
    """A data folder or CSV that does not have the layout or the values painter-match needs."""


class OutputError(PainterMatchError):
    """An output that cannot or must not be written: it exists, it is one of the run's inputs, or
    the disk refuses it (full, read-only, no permission). Nothing was replaced."""


class UsageError(PainterMatchError):
    """Options that cannot work together on this model or machine, found once the model is open:
    a usage error (exit 2), said in one line, like the ones the argument parser finds itself."""
