"""A full disk for tests that run as root (where no folder can be made read-only or full): the
temporary files `painter_match.atomic` opens are wrapped so that their writes fail with ENOSPC."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

# The writers look `_open_temp` up in `painter_match.atomic.writing`, so that is where it is replaced
# (a name rebound on the package would leave every write untouched).
from painter_match.atomic import writing

OPEN_TEMP = writing._open_temp


class FullDisk:
    """Wraps a file: takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, file: object, room: int) -> None:
        self._file = file
        self._room = room

    def write(self, data: bytes) -> int:
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._file.write(data)  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self._file, name)

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()  # type: ignore[attr-defined]


def fill_disk(monkeypatch: pytest.MonkeyPatch, full: Callable[[str], bool], room: int = 0) -> None:
    """Make the disk full (``room`` bytes left) for the outputs whose temporary file name ``full`` picks."""

    def open_temp(path: Path) -> object:
        return FullDisk(OPEN_TEMP(path), room) if full(path.name) else OPEN_TEMP(path)

    monkeypatch.setattr(writing, "_open_temp", open_temp)


def free_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo `fill_disk`."""
    monkeypatch.setattr(writing, "_open_temp", OPEN_TEMP)
