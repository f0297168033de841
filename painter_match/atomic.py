"""Writing outputs so that no reader, and no interrupted run, ever sees half a file.

Every output goes to a temporary file (or folder) beside its target, named
``.NAME.painter-match-tmp.PID-XXXXXXXX``, is flushed to disk, and is renamed over the target only
once complete; on any failure it is removed. A run killed outright (``kill -9``, a power cut)
cannot remove its temporary file, so the next write of the same target removes those whose writer
is gone: the PID in the name is no running process *and* nobody holds the file's ``flock`` (each
writer holds one while it writes; the lock alone covers a PID reused by another program, the PID
alone a file system without locks). Files get the permissions ``open()`` would give them (0666
less the umask), whatever the previous file had.

`check_output` is the policy every command applies before any work: an existing output is
replaced only with ``--force``, an output that is one of the run's own inputs never, and the
folder must take a new file. Write failures the user can act on (a full disk, a read-only or
forbidden folder) become one-line `OutputError`s naming the file; `OutputLock` keeps a second
writer away from an output that a run builds up over time (``embed``'s partial file).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from painter_match.errors import OutputError

TEMP_TAG = ".painter-match-tmp."
LOCK_SUFFIX = ".painter-match-lock"
_PID = re.compile(r"^(\d+)-[0-9a-f]+$")

# Errors met while writing that mean "the disk will not take this file". Any error creating the
# temporary file is reported as a write error too; permission errors are left out here because a
# block that writes the output also reads inputs, and an unreadable input is no unwritable output.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})
_ADVICE = {
    errno.ENOSPC: "free some space, or write elsewhere",
    errno.EDQUOT: "the disk quota is used up; free some space, or write elsewhere",
    errno.EROFS: "the file system is read-only; write elsewhere",
    errno.EACCES: "no permission to write there; write elsewhere",
    errno.EPERM: "no permission to write there; write elsewhere",
    errno.EFBIG: "the file system does not take files this large; write elsewhere",
}


def write_error(target: str | Path, error: OSError) -> OutputError:
    """The one-line error for a failed write of ``target``: the file, the cause, what to do."""
    cause = error.strerror or str(error)
    advice = _ADVICE.get(error.errno or 0)
    return OutputError(f"cannot write {target}: {cause}" + (f" ({advice})" if advice else ""))


def is_write_error(error: BaseException) -> bool:
    """True for an OSError that says the disk refuses the write (see `WRITE_ERRNOS`)."""
    return isinstance(error, OSError) and error.errno in WRITE_ERRNOS


def temp_path(target: str | Path) -> Path:
    """A new temporary name beside ``target`` that `remove_stale_temps` can recognise."""
    target = Path(target)
    return target.parent / f".{target.name}{TEMP_TAG}{os.getpid()}-{secrets.token_hex(4)}"


def _pid_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _lock_held(path: Path) -> bool:
    """Whether some process holds the flock of ``path`` (a file or a folder)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False  # a file system without locks: the PID decides
    finally:
        os.close(descriptor)  # also drops the lock just taken
    return False


def remove_stale_temps(target: str | Path) -> list[Path]:
    """Remove the temporary files and folders of ``target`` whose writer is gone.

    Returns:
        What was removed (failures to remove are ignored: the next run tries again).
    """
    target = Path(target)
    prefix = f".{target.name}{TEMP_TAG}"
    try:
        names = [n for n in os.listdir(target.parent or ".") if n.startswith(prefix)]
    except OSError:
        return []
    removed = []
    for name in names:
        match = _PID.match(name[len(prefix) :])
        path = target.parent / name
        if match is None or _pid_running(int(match.group(1))) or _lock_held(path):
            continue
        with suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    target: str | Path,
    *,
    force: bool = False,
    inputs: Iterable[tuple[str, str | Path | None]] = (),
    option: str = "-o",
    exists_hint: str = "pass --force to replace it",
    make_folder: bool = False,
) -> None:
    """Refuse an output before any work is done, unless it can and may be written.

    Args:
        target: the file the run will write.
        force: whether an existing ``target`` may be replaced.
        inputs: ``(what, path)`` of the run's inputs (None entries are skipped). An output that
            is one of them (the same file, through links too) is refused even with ``force``.
        option: the option that named ``target``, for the messages.
        exists_hint: what the message suggests when ``target`` exists and ``force`` is off.
        make_folder: create ``target``'s folder (and its parents) when it is missing.

    Raises:
        OutputError: ``target`` is a folder, is an input, exists (without ``force``), or its
            folder is missing or does not take a new file.
    """
    target = Path(target)
    for what, given in inputs:
        if given is None:
            continue
        source = Path(given)
        if _same_file(target, source) or (not target.exists() and target.resolve() == source.resolve()):
            raise OutputError(
                f"{option} {target} is the {what} {source}; writing it would destroy the input, "
                "so it is refused even with --force: choose another output file"
            )
    if target.is_dir():
        raise OutputError(f"{option} {target} is a folder; give the name of the file to write")
    if target.exists() and not force:
        raise OutputError(f"{target} already exists; {exists_hint}")
    if make_folder and not target.parent.exists():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise write_error(target, error) from None
    check_folder_writable(target)


def check_folder_writable(target: str | Path) -> None:
    """Make sure a new file can be created beside ``target`` (creates and removes a probe).

    Raises:
        OutputError: the folder is missing, not a folder, or refuses new files.
    """
    target = Path(target)
    folder = target.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"cannot write {target}: the folder {folder} {what}")
    probe = temp_path(target)
    try:
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise write_error(target, error) from None
    os.close(descriptor)
    probe.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every file system allows it)."""
    with suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _open_temp(path: Path) -> BinaryIO:
    """Create ``path`` (never reusing an existing file), locked for writing."""
    # mode 0o666 lets the umask decide, as open() would.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return open(descriptor, "wb")  # noqa: SIM115 - closed by atomic_file


@contextmanager
def atomic_file(target: str | Path) -> Iterator[BinaryIO]:
    """A new binary file beside ``target`` that replaces it only if the block finishes.

    Stale temporary files of ``target`` are removed first. On an error (or Ctrl-C) inside the
    block, the temporary file is removed and ``target`` is left as it was.

    Raises:
        OutputError: ``target`` is a folder, its folder is missing, or the disk refuses the
            write (full, read-only, no permission); raised in place of the OSError.
    """
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"{target} is a folder; give the name of the file to write")
    if not target.parent.is_dir():
        raise OutputError(f"cannot write {target}: the folder {target.parent} does not exist")
    remove_stale_temps(target)
    temporary = temp_path(target)
    try:
        file = _open_temp(temporary)
    except OSError as error:
        raise write_error(target, error) from None
    try:
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if is_write_error(error):
            raise write_error(target, error) from None  # type: ignore[arg-type]
        raise
    _fsync_folder(target.parent)


def write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (see `atomic_file`)."""
    with atomic_file(target) as file:
        file.write(data)
    return Path(target)


@contextmanager
def scratch_folder(target: str | Path) -> Iterator[Path]:
    """A private folder beside ``target`` for building it, removed afterwards whatever happens.

    Move the finished file into place with `publish`. Stale scratch folders of ``target`` are
    removed first; write errors inside the block become `OutputError` naming ``target``.
    """
    target = Path(target)
    if not target.parent.is_dir():
        raise OutputError(f"cannot write {target}: the folder {target.parent} does not exist")
    remove_stale_temps(target)
    folder = temp_path(target)
    try:
        folder.mkdir()
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError as error:
        raise write_error(target, error) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield folder
    except BaseException as error:
        if is_write_error(error):
            raise write_error(target, error) from None  # type: ignore[arg-type]
        raise
    finally:
        os.close(descriptor)
        shutil.rmtree(folder, ignore_errors=True)


def publish(finished: str | Path, target: str | Path) -> None:
    """Flush a finished file to disk and rename it over ``target`` (same folder or file system).

    Raises:
        OutputError: the disk refuses it.
    """
    finished, target = Path(finished), Path(target)
    try:
        descriptor = os.open(finished, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(finished, 0o666 & ~umask)
        os.replace(finished, target)
    except OSError as error:
        raise write_error(target, error) from None
    _fsync_folder(target.parent)


class OutputLock:
    """An exclusive lock on an output, held while one run builds it: ``.NAME.painter-match-lock``.

    The lock is a separate file because the output and its partial file are replaced by
    renames, and a lock on a file that is renamed over no longer guards its name. The lock file is
    removed on release; taking the lock checks that the file locked is still the one at that
    name, so a run that opened it just before the previous holder removed it tries again.

    Args:
        target: the output to guard.
        what: the command, for the message (``embed``).
    """

    def __init__(self, target: str | Path, what: str = "painter-match") -> None:
        target = Path(target)
        self.target = target
        self.path = target.parent / f".{target.name}{LOCK_SUFFIX}"
        self.what = what
        self._descriptor: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise `OutputError` when another run holds it."""
        while True:
            try:
                descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as error:
                raise write_error(self.target, error) from None
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(descriptor, 32, 0).decode("ascii", errors="replace").strip()
                os.close(descriptor)
                raise OutputError(
                    f"another {self.what} run"
                    + (f" (process {holder})" if holder else "")
                    + f" is writing {self.target}; wait for it to finish, or choose another output file"
                ) from None
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            mine = os.fstat(descriptor)
            if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
                os.ftruncate(descriptor, 0)
                os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
                self._descriptor = descriptor
                return
            os.close(descriptor)  # the holder removed it meanwhile: lock the new one

    def release(self) -> None:
        if self._descriptor is None:
            return
        with suppress(OSError):
            self.path.unlink()
        os.close(self._descriptor)
        self._descriptor = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
