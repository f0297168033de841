"""The temporary files and folders an output is built in, and the removal of those a killed run
left behind.

Each is named ``.NAME.painter-match-tmp.PID-XXXXXXXX`` beside its target; it is stale once the
PID in its name is no running process *and* nobody holds its ``flock`` (why both: the
`painter_match.atomic` docstring)."""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
from contextlib import suppress
from pathlib import Path

TEMP_TAG = ".painter-match-tmp."
_PID = re.compile(r"^(\d+)-[0-9a-f]+$")


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
