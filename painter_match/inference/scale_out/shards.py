"""Split an embedding run into N shards and merge their files: embedding beyond one machine.

A painting belongs to shard ``blake2b(relative POSIX path) mod N``: the same on every machine and
Python process (unlike ``hash()``, which is salted per process), balanced because the digest is
uniform, and stable as files are added, since a path's shard depends on nothing but its own
name and N. ``painter-match embed DIR --shard K/N`` embeds shard K into its own resumable file,
so any scheduler (a Slurm array, Kubernetes jobs, GNU parallel) can run the N shards; then
`merge_embeddings` checks that the files share one model and view policy and hold disjoint
paths, and writes one embeddings file, ordered as an unsharded run would order it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from painter_match import atomic
from painter_match.data.images import normalise_name
from painter_match.data.selection import parse_k_of_n
from painter_match.errors import DataError
from painter_match.inference.embeddings import (
    STAMP_FIELDS,
    UNKNOWN_STAMP,
    Embeddings,
    errors_path,
    load_embeddings,
    read_errors,
    save_embeddings,
    write_errors,
)

# blake2b with an 8-byte digest: 64 uniform bits, far more than any shard count needs.
_DIGEST_BYTES = 8


def shard_of(relative_path: str, shards: int) -> int:
    """The shard, from 0 to ``shards - 1``, of an image given by its path relative to the folder.

    The path is taken in its one spelling (`painter_match.data.images.normalise_name`: ``./a.jpg``
    is ``a.jpg``) and hashed as UTF-8 with blake2b, so every machine agrees.

    Raises:
        ValueError: ``shards`` is below 1.
    """
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    digest = hashlib.blake2b(normalise_name(relative_path).encode("utf-8"), digest_size=_DIGEST_BYTES)
    return int.from_bytes(digest.digest(), "big") % shards


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> (2, 8): shard 2 of 8, counted from 0 (a Slurm ``--array=0-7`` task id).

    Raises:
        ValueError: naming the value and the expected form.
    """
    return parse_k_of_n(text, "shard", 1)


def select_shard(paths: Iterable[str], k: int, n: int) -> list[str]:
    """The paths of shard ``k`` of ``n``, in their given order."""
    if not 0 <= k < n:
        raise ValueError(f"shard {k}/{n}: K must be from 0 to N-1")
    return [p for p in paths if shard_of(p, n) == k]


def check_shard_set(files: Sequence[Path], parts: Sequence[Embeddings], allow_partial: bool) -> str:
    """Check that the files are every shard of one ``--shard K/N`` split, each holding its own images.

    Returns:
        A note for the user when ``allow_partial`` let an incomplete set through, else "".

    Raises:
        DataError: a file holding an image of another shard (always: the file is wrong); and,
            without ``allow_partial``, a file recording no shard, two splits, a shard given
            twice, or a shard missing.
    """
    for file, part in zip(files, parts):
        if part.shard is None:
            continue
        k, n = part.shard
        stranger = next((p for p in part.paths if shard_of(p, n) != k), None)
        if stranger is not None:
            raise DataError(
                f"{file} records shard {k}/{n} but holds {stranger!r}, an image of shard "
                f"{shard_of(stranger, n)}/{n}; embed that shard again"
            )
    unrecorded = [file for file, part in zip(files, parts) if part.shard is None]
    splits = sorted({part.shard[1] for part in parts if part.shard is not None})
    problem = ""
    if unrecorded:
        problem = (
            f"{unrecorded[0]} records no shard K/N (a whole-folder embed, or a file of an older painter-match), "
            "so the set cannot be checked for completeness"
        )
    elif len(splits) > 1:
        problem = f"the files come from splits into {' and '.join(map(str, splits))} shards, not one split"
    else:
        n = splits[0]
        given: dict[int, Path] = {}
        for file, part in zip(files, parts):
            k = part.shard[0]  # type: ignore[index]
            if k in given:
                problem = f"{given[k]} and {file} are both shard {k}/{n}"
                break
            given[k] = file
        missing = [k for k in range(n) if k not in given]
        if not problem and missing:
            listed = ", ".join(str(k) for k in missing[:10]) + (", ..." if len(missing) > 10 else "")
            problem = f"shard{'s' if len(missing) > 1 else ''} {listed} of {n} {'are' if len(missing) > 1 else 'is'} missing"
    if not problem:
        return ""
    if not allow_partial:
        raise DataError.naming(
            f"{problem}; merge the file of every shard, or pass {{allow_partial}} to merge these anyway",
            allow_partial=("allow_partial=True", "--allow-partial"),
        )
    return f"{problem}; merged anyway, as asked"


@dataclass
class MergeResult:
    """What `merge_embeddings` wrote.

    Attributes:
        output: the merged file.
        embeddings: what it holds.
        counts: images taken from each shard file, in the order given.
        unreadable: images the shards could not read, from their ``NAME.errors.csv`` lists.
        errors_csv: the merged list of them (``OUT.errors.csv``), or None when there were none.
        notes: things the caller should say (shards embedded from folders at different places).
    """

    output: Path
    embeddings: Embeddings
    counts: list[int]
    unreadable: int = 0
    errors_csv: Path | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "output": str(self.output),
            "images": len(self.embeddings),
            "shards": len(self.counts),
            "per_shard": list(self.counts),
            "unreadable": self.unreadable,
            "errors_csv": str(self.errors_csv) if self.errors_csv else None,
            "identity": self.embeddings.source.identity,
            "root": self.embeddings.root or None,
            "notes": list(self.notes),
        }


def merge_embeddings(
    out: str | Path, shard_files: Sequence[str | Path], *, force: bool = False, allow_partial: bool = False
) -> MergeResult:
    """Merge the embeddings files of the shards of one run into one file at ``out``.

    Every file must come from the same model and view policy, and no image may be in two. The
    rows are sorted by relative path, the order of an unsharded ``embed``, so merging the N
    shards of a folder gives the file one run over the whole folder gives, bit for bit. When the
    shards were embedded from the folder at different places (two mount points), the merged
    file records no folder and a note says so. The images the shards could not read (each
    shard's ``NAME.errors.csv``) are listed together, sorted by path, in ``OUT.errors.csv``, as
    one unsharded run lists them; with none, an older ``OUT.errors.csv`` is removed.

    Each shard file records its ``K/N`` (``embed --shard``), and the files must be every shard
    of one split, each holding only its own shard's images: shards 0 and 2 of 3 merged alone gave
    109 of 145 vectors and no word. ``allow_partial`` merges an incomplete set (or files that
    record no shard: whole-folder embeds, files of older versions) on purpose, with a note.

    Args:
        out: the ``.npz`` to write (atomically, under the same lock ``embed`` takes).
        shard_files: the shards' embeddings files.
        force: replace an existing ``out``.
        allow_partial: merge files that are not the complete set of one ``--shard K/N`` split.

    Raises:
        DataError: no files, a file that is not finished (``NAME.partial.npz``), given twice, of
            another model or view policy, an image in two files (named, with both files), a
            shard's error list that cannot be read, or (without ``allow_partial``) not every
            shard of one split.
        OutputError: ``out`` exists without ``force``, is one of the shard files, or cannot be written.
    """
    out = Path(out)
    files = [Path(f) for f in shard_files]
    if not files:
        raise DataError("no shard files to merge; give the embeddings files `embed --shard K/N` wrote")
    for file in files:
        if file.name.endswith(".partial.npz"):
            raise DataError(
                f"{file} is the progress file of an unfinished run; finish that shard with "
                "`painter-match embed ... --resume`, then merge its output"
            )
    seen_files: dict[Path, Path] = {}
    for file in files:
        real = file.resolve()
        if real in seen_files:
            raise DataError(f"{file} is given twice (as {seen_files[real]}); give each shard file once")
        seen_files[real] = file
    errors_out = errors_path(out)
    with (
        atomic.check_output(out, force=force, inputs=[("shard file", f) for f in files], what="merge"),
        atomic.check_output(
            errors_out, force=True, inputs=[("shard file", f) for f in files], what="merge", option="-o"
        ),
        atomic.OutputLock(out, "merge"),
    ):
        parts = [load_embeddings(f) for f in files]
        first = parts[0]
        for file, part in zip(files[1:], parts[1:]):
            if part.source.space == first.source.space and part.source.identity != first.source.identity:
                raise DataError(
                    f"{file} was embedded with {part.source.finder_options[1]}, but {files[0]} with "
                    f"{first.source.finder_options[1]}; images cropped to the painting and whole images cannot "
                    "be merged: embed every shard with the same --find-painting and --painting-edge"
                )
            if part.source.identity != first.source.identity:
                raise DataError(
                    f"{file} was made by model {part.source.identity}, but {files[0]} by "
                    f"{first.source.identity}; embeddings of two models or view policies cannot be merged: "
                    "embed every shard with the same model and --views"
                )
        owner: dict[str, int] = {}
        for index, part in enumerate(parts):
            for name in part.paths:
                key = normalise_name(name)
                if key in owner:
                    raise DataError(
                        f"{name!r} is in both {files[owner[key]]} and {files[index]}; shards must hold "
                        "disjoint images: give each shard's file once, and shards of one --shard K/N split"
                    )
                owner[key] = index
        notes: list[str] = []
        partial_note = check_shard_set(files, parts, allow_partial)
        if partial_note:
            notes.append(partial_note)
        roots = {part.root for part in parts}
        root = first.root
        if len(roots) > 1:
            root = ""
            notes.append(
                f"the shards were embedded from {len(roots)} different folder paths "
                f"({', '.join(sorted(r or '(unknown)' for r in roots))}); the merged file records none"
            )
        rows = sorted(
            ((name, index, row) for index, part in enumerate(parts) for row, name in enumerate(part.paths)),
            key=lambda item: item[0],
        )
        dim = first.source.info.embedding_dim
        vectors = (
            np.stack([parts[index].vectors[row] for _, index, row in rows]).astype(np.float32, copy=False)
            if rows
            else np.empty((0, dim), dtype=np.float32)
        )
        stamps = None
        if any(part.stamps is not None for part in parts):
            # The file stamps travel with the vectors, so a merged file can be resumed as one run's.
            stamps = np.asarray(
                [
                    parts[index].stamps[row].tolist()  # type: ignore[index]
                    if parts[index].stamps is not None
                    else UNKNOWN_STAMP
                    for _, index, row in rows
                ],
                dtype=np.int64,
            ).reshape(len(rows), STAMP_FIELDS)
        merged = Embeddings(
            paths=[name for name, _, _ in rows],
            vectors=vectors,
            source=first.source,
            root=root,
            stamps=stamps,
            # What the painting finder did to each image travels with its vector (None: not looked at).
            paintings=[parts[index].painting(row) for _, index, row in rows]
            if any(part.paintings is not None for part in parts)
            else None,
        )
        failures = sorted(
            {row for file in files if errors_path(file).exists() for row in read_errors(errors_path(file))}
        )
        save_embeddings(out, merged)
        merged_errors = errors_out
        if failures:
            write_errors(merged_errors, failures)
        else:
            merged_errors.unlink(missing_ok=True)  # a list from an earlier merge would now be wrong
    return MergeResult(
        output=out,
        embeddings=merged,
        counts=[len(p) for p in parts],
        unreadable=len(failures),
        errors_csv=merged_errors if failures else None,
        notes=notes,
    )
