"""The shared output writer: atomic replacement, write errors as one line, the overwrite policy,
stale temporary files of killed runs, and the lock that keeps a second writer away."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from disk_faults import fill_disk

from painter_match import atomic
from painter_match.errors import OutputError


def _dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if atomic.TEMP_TAG in p.name)


def test_atomic_file_replaces_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError), atomic.atomic_file(target) as file:
        file.write(b"half of the new")
        raise RuntimeError("stopped half-way")
    assert target.read_bytes() == b"previous" and _temps(tmp_path) == []
    atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and _temps(tmp_path) == []


def test_new_files_get_the_permissions_open_would_give(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    target.chmod(0o600)
    umask = os.umask(0o022)
    try:
        atomic.write_bytes(target, b"new")
    finally:
        os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_full_disk_is_one_line_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")
    fill_disk(monkeypatch, lambda name: True, room=10)
    with pytest.raises(OutputError) as caught:
        atomic.write_bytes(target, b"x" * 100)
    message = str(caught.value)
    assert message.startswith(f"cannot write {target}: No space left on device") and "\n" not in message
    assert target.read_bytes() == b"previous" and _temps(tmp_path) == []


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    dead = tmp_path / f".out.csv{atomic.TEMP_TAG}{_dead_pid()}-0badc0de"
    dead.write_bytes(b"left by kill -9")
    dead_folder = tmp_path / f".out.csv{atomic.TEMP_TAG}{_dead_pid()}-0badf01d"
    dead_folder.mkdir()
    (dead_folder / "fp32.onnx").write_bytes(b"half a model")
    alive = tmp_path / f".out.csv{atomic.TEMP_TAG}{os.getppid()}-00c0ffee"  # a running process
    alive.write_bytes(b"being written")
    other = tmp_path / f".other.csv{atomic.TEMP_TAG}{_dead_pid()}-0badc0de"  # another target's
    other.write_bytes(b"not ours to judge")
    atomic.write_bytes(target, b"done")
    assert not dead.exists() and not dead_folder.exists()
    assert alive.exists() and other.exists() and target.read_bytes() == b"done"


def test_a_locked_temporary_file_is_kept_whatever_its_pid(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    # A writer in another PID namespace: its PID means nothing here, its lock does.
    with atomic.atomic_file(target) as file:
        (name,) = _temps(tmp_path)
        renamed = tmp_path / f".out.csv{atomic.TEMP_TAG}{_dead_pid()}-12345678"
        os.rename(tmp_path / name, renamed)
        assert atomic.remove_stale_temps(target) == [] and renamed.exists()
        os.rename(renamed, tmp_path / name)
        file.write(b"still mine")
    assert target.read_bytes() == b"still mine"


@pytest.mark.parametrize("link", [False, True])
def test_an_output_that_is_an_input_is_refused_even_with_force(tmp_path: Path, link: bool) -> None:
    source = tmp_path / "pairs.csv"
    source.write_bytes(b"index,image1,image2\n")
    target = source
    if link:
        target = tmp_path / "link.csv"
        target.symlink_to(source)
    with pytest.raises(OutputError, match="is the pairs file .*refused even with force=True") as caught:
        atomic.check_output(target, force=True, inputs=[("pairs file", source), ("model", None)])
    assert caught.value.for_cli().startswith(f"-o {target} is the pairs file")
    assert "refused even with --force" in caught.value.for_cli()
    assert source.read_bytes() == b"index,image1,image2\n"


def test_check_output_policy(tmp_path: Path) -> None:
    existing = tmp_path / "out.csv"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists; pass force=True") as caught:
        atomic.check_output(existing)
    assert caught.value.for_cli().endswith("already exists; pass --force to replace it")
    atomic.check_output(existing, force=True)
    with pytest.raises(OutputError, match="is a folder"):
        atomic.check_output(tmp_path, force=True)
    with pytest.raises(OutputError, match="does not exist"):
        atomic.check_output(tmp_path / "absent" / "out.csv")
    with pytest.raises(OutputError, match="is not a folder"):
        atomic.check_output(existing / "out.csv")
    atomic.check_output(tmp_path / "new" / "out.csv", make_folder=True)
    assert (tmp_path / "new").is_dir() and existing.read_bytes() == b"keep me" and _temps(tmp_path) == []


def test_an_unwritable_folder_is_found_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def read_only(path: object, flags: int, *args: object) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(
        OutputError, match=r"cannot write .*out\.csv: Read-only file system \(.*write elsewhere"
    ):
        atomic.check_output(tmp_path / "out.csv")


def test_the_output_lock_refuses_a_second_writer(tmp_path: Path) -> None:
    target = tmp_path / "e.npz"
    with atomic.OutputLock(target, "embed"):
        with pytest.raises(OutputError, match=rf"another embed run \(process {os.getpid()}\) is writing"):
            atomic.OutputLock(target, "embed").acquire()
    with atomic.OutputLock(target, "embed"):  # free again once released
        pass
    assert list(tmp_path.iterdir()) == []  # the lock file goes with the lock
