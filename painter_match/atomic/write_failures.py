"""Write failures the user can act on (a full disk, a read-only or forbidden folder) as one-line
`OutputError`s naming the file, with what to do about them."""

from __future__ import annotations

import errno
from pathlib import Path

from painter_match.errors import OutputError

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
