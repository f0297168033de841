"""Finding image files in a folder, and checking the names that point at them.

`find_images` lists a folder's images without ever leaving the folder; `resolve_inside` joins a
file name read from a CSV to its folder and refuses names that would leave it; `name_problem`
and `normalise_name` check and spell such names without touching the disk, so that every
command compares names (pairs files, embeddings files, label files) in one form.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from painter_match.errors import DataError

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
)


def is_image_name(name: str | Path) -> bool:
    """Tell whether a file name has one of the image extensions painter-match reads.

    Args:
        name: A file name or path; only its extension is looked at, case-insensitively.

    Returns:
        True when the extension is in `IMAGE_EXTENSIONS`.
    """
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def find_images(root: str | Path) -> list[Path]:
    """List every image file under a folder, recursively, in a stable order.

    Hidden files and folders (names starting with ".", such as macOS ``._x.jpg`` or
    ``.ipynb_checkpoints``) are skipped. Symbolic links are followed only while their target
    stays inside ``root``, so the listing never leaves the folder the user named; a link to
    a folder that is already being walked (a loop) is skipped. A folder linked from two
    places inside ``root`` is listed under both.

    Args:
        root: The folder to walk.

    Returns:
        ``root / relative_path`` for each image, sorted by the relative path's POSIX string
        so that the order is the same on every run and machine.

    Raises:
        DataError: ``root`` does not exist, is not a folder, or a folder under it cannot be
            read.
    """
    root_path = Path(root)
    if not root_path.exists():
        raise DataError(f"image folder not found: {root_path}")
    if not root_path.is_dir():
        raise DataError(f"not a folder: {root_path}")
    real_root = Path(os.path.realpath(root_path))

    found: list[tuple[str, Path]] = []
    # Each entry: (path to list, its relative parts, its real path, real paths of the
    # folders above it). Ancestors are what a loop would revisit.
    pending: list[tuple[Path, tuple[str, ...], Path, frozenset[Path]]] = [
        (root_path, (), real_root, frozenset({real_root}))
    ]
    while pending:
        folder, parts, real_folder, ancestors = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listing = list(entries)
        except OSError as error:
            raise DataError(f"cannot read folder {folder}: {error.strerror or error}") from error
        for entry in listing:
            if entry.name.startswith("."):
                continue
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue  # vanished or unreadable while listing: nothing to load there
            rel_parts = (*parts, entry.name)
            if is_dir:
                real = Path(os.path.realpath(entry.path)) if is_link else real_folder / entry.name
                if not real.is_relative_to(real_root) or real in ancestors:
                    continue
                pending.append((Path(entry.path), rel_parts, real, ancestors | {real}))
            elif is_file and is_image_name(entry.name):
                if is_link and not Path(os.path.realpath(entry.path)).is_relative_to(real_root):
                    continue
                found.append(("/".join(rel_parts), root_path.joinpath(*rel_parts)))
    found.sort(key=lambda item: item[0])
    return [path for _, path in found]


_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")


def name_problem(name: str) -> str | None:
    """Why a file name read from a CSV or an embeddings file cannot name a file inside its folder.

    Lexical only (no disk access), as `resolve_inside` checks before it follows links.

    Returns:
        The reason, worded to follow the name (``f"{name!r} {problem}"``), or None when the
        name is a usable relative path.
    """
    if not name:
        return "is empty; expected an image file name"
    if "\x00" in name:
        return "contains a NUL byte"
    # Windows-style absolute names are refused everywhere: a CSV written on Windows must not
    # become a file that happens to start with a backslash or a drive letter here.
    if name[0] in "\\/" or _WINDOWS_ABSOLUTE.match(name):
        return "is an absolute path; image names must be relative to the images folder"
    relative = posixpath.normpath(name)
    if relative in (posixpath.curdir, posixpath.pardir) or relative.startswith(posixpath.pardir + "/"):
        return "points outside the images folder; image names must be files inside it"
    return None


def normalise_name(name: str) -> str:
    """The one spelling of a relative image name: spaces around it removed, ``.``, ``..`` and
    doubled slashes collapsed (``./a.jpg``, ``sub/../a.jpg`` and ``a.jpg`` are all ``a.jpg``).

    Every command that matches names (pairs files, embeddings files, label files) compares
    them in this form, so the same pairs file gives the same result from images or embeddings.
    """
    name = name.strip()
    return posixpath.normpath(name) if name else name


def resolve_inside(root: str | Path, name: str) -> Path:
    """Join a file name read from a CSV to its folder, refusing names that leave the folder.

    Args:
        root: The folder the names are relative to.
        name: A relative file name such as ``"12345.jpg"`` or ``"train/12345.jpg"``.

    Returns:
        ``root / name`` with ``.`` and ``..`` collapsed, so that the path opened is the path
        that was checked. The file need not exist.

    Raises:
        DataError: ``name`` is empty, absolute, contains a NUL byte, names the folder
            itself, or would escape ``root`` through ``..`` or a symbolic link.
    """
    if not isinstance(name, str):
        raise DataError(f"image name must be text, got {name!r}")
    if not name.strip():
        raise DataError(f"empty image name {name!r} (in folder {root})")
    if "\x00" in name:
        raise DataError(f"image name {name!r} contains a NUL byte")
    # Windows-style absolute names are refused everywhere: a CSV written on Windows must
    # not become a file that happens to start with a backslash or a drive letter here.
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or name[0] in "\\/":
        raise DataError(f"image name {name!r} is an absolute path; expected a name relative to {root}")
    relative = os.path.normpath(name)
    if relative in (os.curdir, os.pardir) or relative.startswith(os.pardir + os.sep):
        raise DataError(f"image name {name!r} points outside the folder {root}")
    root_path = Path(root)
    candidate = root_path / relative
    try:
        real_root = root_path.resolve()
        real = candidate.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop (Python < 3.13)
        raise DataError(f"image name {name!r} in {root} cannot be resolved: {error}") from error
    if real == real_root or not real.is_relative_to(real_root):
        raise DataError(f"image name {name!r} points outside the folder {root}")
    return candidate
