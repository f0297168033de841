"""The one output rule (the `painter_match.atomic` docstring), checked by every command before any
work: links followed, folders, special files and the run's own inputs refused, an existing file
replaced only with ``force``, the folder there and taking a new file, and the output's lock
claimed (`check_output`)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from painter_match.atomic.locks import OutputClaim
from painter_match.atomic.temp_files import temp_path
from painter_match.atomic.write_failures import write_error
from painter_match.errors import FORCE, OutputError


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
    """Apply the one output rule (`painter_match.atomic` docstring) before any work, and take the
    output's lock.

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
