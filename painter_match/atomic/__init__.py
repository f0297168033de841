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

The package, one job to a module: `write_failures` (a refused write as one line), `temp_files`
(the temporary names and the removal of stale ones), `output_rule` (`check_output` and the
checks it makes), `locks` (the output lock: `OutputClaim`, `OutputLock`) and `writing`
(`atomic_file`, `write_bytes`, `scratch_folder`, `publish`). Callers use the names imported
here (``from painter_match import atomic``, then ``atomic.write_bytes(...)``).
"""

from __future__ import annotations

# A test that replaces one of these (a full disk in tests/disk_faults.py) patches the module that
# looks the name up (``painter_match.atomic.writing._open_temp``): rebinding a name here changes
# nothing the writers call.
from painter_match.atomic.locks import LOCK_SUFFIX, Hold, OutputClaim, OutputLock, lock_path, release_claims
from painter_match.atomic.output_rule import (
    check_folder_writable,
    check_inputs,
    check_output,
    file_kind,
    output_target,
)
from painter_match.atomic.temp_files import TEMP_TAG, remove_stale_temps, temp_path
from painter_match.atomic.write_failures import WRITE_ERRNOS, is_write_error, write_error
from painter_match.atomic.writing import atomic_file, publish, scratch_folder, write_bytes

__all__ = [
    "LOCK_SUFFIX",
    "TEMP_TAG",
    "WRITE_ERRNOS",
    "Hold",
    "OutputClaim",
    "OutputLock",
    "atomic_file",
    "check_folder_writable",
    "check_inputs",
    "check_output",
    "file_kind",
    "is_write_error",
    "lock_path",
    "output_target",
    "publish",
    "release_claims",
    "remove_stale_temps",
    "scratch_folder",
    "temp_path",
    "write_bytes",
    "write_error",
]
