"""The project's error types.

A `PainterMatchError` is a failure the user can act on (bad input, a missing file, a model
without its contract): the CLI prints its message on one line and exits 1. Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class PainterMatchError(Exception):
    """A known failure with a one-line message that names the culprit and what to do."""


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
