"""Writing outputs so that no reader, and no interrupted run, ever sees half a file: the one output guard.

Every output goes to a temporary file (or folder) beside its target, named
``.NAME.painter-match-tmp.PID-XXXXXXXX``, is flushed to disk, and is renamed over the target only
once complete; on any failure it is removed. A run killed outright (``kill -9``, a power cut)
cannot remove its temporary file, so the next write of the same target removes those whose writer
is gone: the PID in the name is no running process *and* nobody holds the file's ``flock`` (each
writer holds one while it writes; the lock alone covers a PID reused by another program, the PID
alone a file system without locks). Files get the permissions ``open()`` would give them (0666
less the umask), whatever the previous file had.

The one output rule (`check_output`, applied by every command before any work, and by
`atomic_file` / `scratch_folder` at the moment of writing):

* a symbolic link is followed: the file it points to is written, the link stays a link;
* a folder is refused, and so is every other file that is not a regular file (a character or
  block device, a FIFO, a socket): a write replaces its target by a rename, which would put a
  regular file where the node was (``-o /dev/full --force`` would turn ``/dev/full`` into a file),
  so such a target is refused rather than streamed to;
* an output that is one of the run's inputs (the same file through links and hard links, or an
  image inside an input folder) is refused even with ``force``;
* an existing file is replaced only with ``force``;
* the output's folder must exist (no folder is created silently) and take a new file;
* an output lock (``.NAME.painter-match-lock``, an ``flock``) is held from the check to the end
  of the run, so a second run writing the same output is refused instead of one result being
  lost silently; `OutputLock` is the same lock held by a run that builds an output up over time
  (``embed``'s partial file, ``merge``).

Write failures the user can act on (a full disk, a read-only or forbidden folder) become one-line
`OutputError`s naming the file.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import os
import re
import secrets
import shutil
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from painter_match.errors import FORCE, OutputError

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


def file_kind(mode: int) -> str:
    """What a file is, in words, from its ``st_mode`` ("regular file", "FIFO (named pipe)", ...)."""
    for test, kind in (
        (stat.S_ISREG, "regular file"),
        (stat.S_ISDIR, "folder"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return kind
    return "special file"


def output_target(target: str | Path, *, option: str = "", argument: str | None = None) -> Path:
    """The file a write of ``target`` replaces: links followed to their final target, absolute.

    A link (even one whose target does not exist yet) is followed, so the file it points to is
    written and the link stays. A folder or a file that is not a regular file is refused: the
    write renames a new regular file over its target, which would replace the node itself.

    Raises:
        OutputError: ``target`` is a folder or a special file, or cannot be looked at (a loop of
            links, a forbidden folder on the way).
    """
    given = Path(target)
    try:
        info = os.stat(given)  # follows links
    except (FileNotFoundError, NotADirectoryError):
        info = None  # a new file; a parent that is no folder is the folder check's to report
    except OSError as error:
        raise OutputError(f"cannot write {given}: {error.strerror or error}") from None
    if info is not None:
        named = _spellings(option, argument)
        if stat.S_ISDIR(info.st_mode):
            raise OutputError.naming(
                f"{{option}}{given} is a folder; give the name of the file to write", option=named
            )
        if not stat.S_ISREG(info.st_mode):
            raise OutputError.naming(
                f"{{option}}{given} is a {file_kind(info.st_mode)}, not a regular file: painter-match writes "
                "each output beside it and renames it into place, which would replace the node itself, so "
                "it is refused; name a regular file",
                option=named,
            )
    return Path(os.path.realpath(given))


def _spellings(option: str, argument: str | None) -> tuple[str, str]:
    """How a message names the output before its path: for a Python caller, on the command line."""
    return (f"{argument}=" if argument else "", f"{option} " if option else "")


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


def _input_problem(target: Path, real: Path, what: str, source: Path) -> str | None:
    """How writing ``target`` (which lands on ``real``) would destroy the input ``source``, or None."""
    if source.is_dir():
        # A folder the run reads images from: any image inside it may be one of them.
        folder = Path(os.path.realpath(source))
        if real != folder and real.is_relative_to(folder):
            from painter_match.data.images import is_image_name

            if is_image_name(real):
                return f"is an image inside the {what} {source}, which the run reads"
        return None
    if _same_file(target, source) or real == Path(os.path.realpath(source)):
        return f"is the {what} {source}"
    return None


def check_inputs(
    target: str | Path,
    inputs: Iterable[tuple[str, str | Path | None]],
    *,
    option: str = "-o",
    argument: str | None = None,
) -> None:
    """Refuse an output that is one of the run's inputs, even with ``--force``.

    Args:
        target: the output.
        inputs: ``(what, path)``; None entries are skipped. A file input matches the same file
            through symbolic and hard links; a folder input matches an image file inside it.
        option: the command line's name for the output (``-o``, ``--html``).
        argument: a Python caller's name for it (``out_csv``), or None to name just the path.

    Raises:
        OutputError: naming the option, the output and the input.
    """
    target = Path(target)
    real = Path(os.path.realpath(target))
    for what, given in inputs:
        if given is None:
            continue
        problem = _input_problem(target, real, what, Path(given))
        if problem is not None:
            # The option is the command line's word for the output; a Python caller named a path.
            raise OutputError.naming(
                f"{{option}}{target} {problem}; writing it would destroy the input, so it is refused "
                "even with {force}: choose another output file",
                option=_spellings(option, argument),
                force=FORCE,
            )


def check_output(
    target: str | Path,
    *,
    force: bool = False,
    inputs: Iterable[tuple[str, str | Path | None]] = (),
    option: str = "-o",
    exists_hint: str | None = None,
    make_folder: bool = False,
    what: str = "painter-match",
    argument: str | None = None,
) -> OutputClaim:
    """Apply the one output rule (module docstring) before any work, and take the output's lock.

    Args:
        target: the file the run will write.
        force: whether an existing ``target`` may be replaced.
        inputs: ``(what, path)`` of the run's inputs (None entries are skipped): see `check_inputs`.
        option: the option that named ``target``, for the messages.
        exists_hint: what the message suggests when ``target`` exists and ``force`` is off
            (default: passing ``force=True``, ``--force`` on the command line).
        make_folder: create ``target``'s folder when it is missing. Only for a default output the
            user did not name (``export``'s ``models/``): a folder the user names must exist.
        what: the command, for the message another run gets while this one holds the lock.
        argument: a Python caller's name for ``target`` (``out_csv``), for the messages a Python
            caller reads (`painter_match.errors.PainterMatchError.naming`); ``option`` is the
            command line's.

    Returns:
        The claim on the output's lock: held until the output is written or its write fails
        (`atomic_file`, `scratch_folder`, `publish`), it is released (``with check_output(...):``,
        `OutputClaim.release`, `release_claims`) or the process ends, so a second run cannot write
        the same output meanwhile. Several claims of one process on one output share the lock.
        Library code that may fail before writing should hold it in a ``with`` block.

    Raises:
        OutputError: ``target`` is a folder or a special file, is an input, exists (without
            ``force``), another run holds its lock, or its folder is missing or does not take a
            new file.
    """
    target = Path(target)
    check_inputs(target, inputs, option=option, argument=argument)
    real = output_target(target, option=option, argument=argument)
    if make_folder and not real.parent.exists():
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise write_error(target, error) from None
    check_folder_writable(real, shown=target)
    claim = OutputClaim(target, what)
    try:
        if real.exists() and not force:
            if exists_hint is not None:
                raise OutputError(f"{target} already exists; {exists_hint}")
            raise OutputError.naming(f"{target} already exists; pass {{force}} to replace it", force=FORCE)
    except BaseException:
        claim.release()
        raise
    return claim


def check_folder_writable(target: str | Path, *, shown: str | Path | None = None) -> None:
    """Make sure a new file can be created beside ``target`` (creates and removes a probe).

    Args:
        target: the file to be written.
        shown: how the messages name it (default: ``target``).

    Raises:
        OutputError: the folder is missing, not a folder, or refuses new files.
    """
    target = Path(target)
    name = Path(shown) if shown is not None else target
    folder = target.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(
            f"cannot write {name}: the folder {folder} {what} (painter-match creates no folder; make it first)"
        )
    probe = temp_path(target)
    try:
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise write_error(name, error) from None
    os.close(descriptor)
    probe.unlink(missing_ok=True)


# --- the output lock ------------------------------------------------------------------------

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


# --- writing ----------------------------------------------------------------------------------


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


def _writable_target(target: Path) -> Path:
    """`output_target` of ``target``, with its folder checked to exist."""
    real = output_target(target)
    if not real.parent.is_dir():
        raise OutputError(f"cannot write {target}: the folder {real.parent} does not exist")
    return real


@contextmanager
def atomic_file(target: str | Path, *, lock: bool = True) -> Iterator[BinaryIO]:
    """A new binary file beside ``target`` that replaces it only if the block finishes.

    A link is followed (its target is replaced, the link stays); a folder or special file is
    refused (`output_target`). Stale temporary files of the target are removed first. On an
    error (or Ctrl-C) inside the block, the temporary file is removed and the target is left as
    it was.

    Args:
        target: the file to write.
        lock: hold the output's lock while writing, so that another process writing the same
            output is refused (`OutputLock`); off only for caches, where two processes writing
            the same file write the same bytes.

    Raises:
        OutputError: ``target`` is a folder or special file, its folder is missing, another run
            holds its lock, or the disk refuses the write (full, read-only, no permission);
            raised in place of the OSError.
    """
    target = Path(target)
    real = _writable_target(target)
    key = _acquire(real, "write", "painter-match") if lock else None
    try:
        remove_stale_temps(real)
        temporary = temp_path(real)
        try:
            file = _open_temp(temporary)
        except OSError as error:
            raise write_error(target, error) from None
        try:
            with file:
                yield file
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, real)
        except BaseException as error:
            temporary.unlink(missing_ok=True)
            _drop_claims(real)
            if is_write_error(error):
                raise write_error(target, error) from None  # type: ignore[arg-type]
            raise
        _fsync_folder(real.parent)
        _drop_claims(real)
    finally:
        if key is not None:
            _release(key, "write")


def write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (see `atomic_file`)."""
    with atomic_file(target) as file:
        file.write(data)
    return Path(target)


@contextmanager
def scratch_folder(target: str | Path) -> Iterator[Path]:
    """A private folder beside ``target`` for building it, removed afterwards whatever happens.

    Move the finished file into place with `publish`. Links are followed and special files
    refused as by `atomic_file`, and the output's lock is held for the block. Stale scratch
    folders of the target are removed first; write errors inside the block become `OutputError`
    naming ``target``.
    """
    target = Path(target)
    real = _writable_target(target)
    key = _acquire(real, "write", "painter-match")
    try:
        remove_stale_temps(real)
        folder = temp_path(real)
        try:
            folder.mkdir()
            descriptor = os.open(folder, os.O_RDONLY)
        except OSError as error:
            raise write_error(target, error) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield folder
        except BaseException as error:
            _drop_claims(real)  # the run that claimed it has failed
            if is_write_error(error):
                raise write_error(target, error) from None  # type: ignore[arg-type]
            raise
        finally:
            os.close(descriptor)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        _release(key, "write")


def publish(finished: str | Path, target: str | Path) -> None:
    """Flush a finished file to disk and rename it over ``target`` (same folder or file system).

    A link is followed, a folder or special file refused (`output_target`).

    Raises:
        OutputError: the disk refuses it, or ``target`` may not be replaced by a file.
    """
    finished, target = Path(finished), Path(target)
    real = output_target(target)
    try:
        descriptor = os.open(finished, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(finished, 0o666 & ~umask)
        os.replace(finished, real)
    except OSError as error:
        raise write_error(target, error) from None
    _fsync_folder(real.parent)
    _drop_claims(real)
