"""The output lock, ``.NAME.painter-match-lock`` beside the file a write replaces (an ``flock``):
claimed by `check_output` for the whole run (`OutputClaim`), held by a run that builds an output
up over time (`OutputLock`) and by each write (`painter_match.atomic.writing`). Within one
process they share one lock file, counted per kind in a registry (claims shared, an `OutputLock`
or a write one at a time); another process is refused with a message naming the run that holds
it."""

from __future__ import annotations

import atexit
import fcntl
import os
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from painter_match.atomic.write_failures import write_error
from painter_match.errors import OutputError

LOCK_SUFFIX = ".painter-match-lock"

Hold = Literal["claim", "run", "write"]


@dataclass
class _Held:
    """One output lock held by this process, and who in the process holds it."""

    descriptor: int
    path: Path
    pid: int
    claim: int = 0  # `check_output` claims: shared
    run: int = 0  # `OutputLock`s: one at a time
    write: int = 0  # `atomic_file` / `scratch_folder` blocks: one at a time


_HELD: dict[Path, _Held] = {}
_HELD_GUARD = threading.Lock()


def lock_path(target: str | Path) -> Path:
    """The lock file of an output: ``.NAME.painter-match-lock`` beside the file a write replaces."""
    real = Path(os.path.realpath(target))
    return real.parent / f".{real.name}{LOCK_SUFFIX}"


def _busy(target: Path, holder: str) -> OutputError:
    pid, _, what = holder.strip().partition(" ")
    return OutputError(
        f"another {what or 'painter-match'} run"
        + (f" (process {pid})" if pid else "")
        + f" is writing {target}; wait for it to finish, or choose another output file"
    )


def _acquire(target: Path, kind: Hold, what: str) -> Path:
    """Take (or share) the lock of ``target`` for ``kind``; returns the registry key."""
    key = lock_path(target)
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None and held.pid != os.getpid():
            # Inherited through fork: the parent's lock, not this process's. Closing the copy
            # leaves the parent's lock in place.
            with suppress(OSError):
                os.close(held.descriptor)
            del _HELD[key]
            held = None
        if held is not None:
            if kind != "claim" and getattr(held, kind):
                raise _busy(target, os.pread(held.descriptor, 256, 0).decode("utf-8", errors="replace"))
            setattr(held, kind, getattr(held, kind) + 1)
            if kind == "run":
                _label(held.descriptor, what)
            return key
        descriptor = _lock_file(key, target)
        _label(descriptor, what)
        _HELD[key] = held = _Held(descriptor, key, os.getpid())
        setattr(held, kind, 1)
        return key


def _lock_file(key: Path, target: Path) -> int:
    """Open and flock the lock file ``key``, or raise `OutputError` when another process holds it."""
    while True:
        try:
            descriptor = os.open(key, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise write_error(target, error) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 256, 0).decode("utf-8", errors="replace")
            os.close(descriptor)
            raise _busy(target, holder) from None
        except OSError:
            return descriptor  # a file system without locks: nothing better to do
        try:
            current = os.stat(key)
        except FileNotFoundError:
            current = None
        mine = os.fstat(descriptor)
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            return descriptor
        os.close(descriptor)  # the holder removed it meanwhile: lock the new one


def _label(descriptor: int, what: str) -> None:
    """Write ``PID WHAT`` into the lock file, for the message another run gets."""
    with suppress(OSError):
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()} {what}\n".encode(), 0)


def _release(key: Path, kind: Hold) -> None:
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is None or held.pid != os.getpid() or getattr(held, kind) == 0:
            return
        setattr(held, kind, getattr(held, kind) - 1)
        if held.claim or held.run or held.write:
            return
        del _HELD[key]
        with suppress(OSError):
            key.unlink()
        with suppress(OSError):
            os.close(held.descriptor)


def _drop_claims(target: Path) -> None:
    """The output is written, or its write failed: the claims `check_output` took on it are over."""
    key = lock_path(target)
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is None or held.pid != os.getpid() or not held.claim:
            return
        held.claim = 1  # dropped below with the usual bookkeeping
    _release(key, "claim")


@atexit.register
def _release_all() -> None:
    """At exit, drop every lock this process still holds (claims of runs that ended in an error)."""
    with _HELD_GUARD:
        for key, held in list(_HELD.items()):
            if held.pid == os.getpid():
                with suppress(OSError):
                    key.unlink()
                with suppress(OSError):
                    os.close(held.descriptor)
            del _HELD[key]


def release_claims() -> None:
    """Drop every `check_output` claim this process holds: what the command line does when a
    command ends, so that a run inside a longer-lived process leaves no lock behind."""
    with _HELD_GUARD:
        keys = [key for key, held in _HELD.items() if held.pid == os.getpid() and held.claim]
    for key in keys:
        while True:
            with _HELD_GUARD:
                held = _HELD.get(key)
                if held is None or not held.claim:
                    break
            _release(key, "claim")


class OutputClaim:
    """A run's hold on an output's lock, from `check_output` to the end of the run.

    Usable as a context manager (released at the end of the block); otherwise released by
    `release` or when the process ends.
    """

    def __init__(self, target: str | Path, what: str = "painter-match") -> None:
        self.target = Path(target)
        self._key: Path | None = _acquire(self.target, "claim", what)

    def release(self) -> None:
        if self._key is not None:
            _release(self._key, "claim")
            self._key = None

    def __enter__(self) -> OutputClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class OutputLock:
    """An exclusive lock on an output, held while one run builds it: ``.NAME.painter-match-lock``.

    The lock is a separate file because the output and its partial file are replaced by
    renames, and a lock on a file that is renamed over no longer guards its name. The lock file is
    removed on release; taking the lock checks that the file locked is still the one at that
    name, so a run that opened it just before the previous holder removed it tries again. It is
    the lock `check_output` claims and `atomic_file` takes: within one process they share it,
    but two `OutputLock`s of one output are refused as two runs would be.

    Args:
        target: the output to guard.
        what: the command, for the message (``embed``).
    """

    def __init__(self, target: str | Path, what: str = "painter-match") -> None:
        target = Path(target)
        self.target = target
        self.path = lock_path(target)
        self.what = what
        self._key: Path | None = None

    def acquire(self) -> None:
        """Take the lock, or raise `OutputError` when another run holds it."""
        if self._key is None:
            self._key = _acquire(self.target, "run", self.what)

    def release(self) -> None:
        if self._key is not None:
            _release(self._key, "run")
            self._key = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
