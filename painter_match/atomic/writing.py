"""The writes: a temporary file beside the target, flushed to disk and renamed over it only once
complete (`atomic_file`, `write_bytes`), or a private folder to build it in (`scratch_folder`)
and `publish` to move the finished file into place."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from painter_match.atomic.locks import _acquire, _drop_claims, _release
from painter_match.atomic.output_rule import output_target
from painter_match.atomic.temp_files import remove_stale_temps, temp_path
from painter_match.atomic.write_failures import is_write_error, write_error
from painter_match.errors import OutputError


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
