"""The embeddings file: relative image paths, their vectors, and the model that made them.

One ``.npz`` (no pickles) holding ``paths`` (POSIX paths relative to ``root``), ``vectors``
(float32 ``[N, D]``, unit length), ``root`` (the folder that was embedded, absolute) and
``model`` (JSON: the model's metadata, its identity, the view policy used and the painting
finder's mode). The identity travels with the vectors so that embeddings of two models are never
mixed: a resumed run, or ``score``/``similar`` with a model, refuses a file another model wrote, and
a resumed run or ``merge`` one embedded with another ``--find-painting``. When the finder looked,
what it did to each image is kept beside the vectors (``painting_*`` columns,
`painter_match.inference.painting_records`). Files are written through
`painter_match.atomic` (a temporary name beside the target, renamed into place), so a reader
never sees half a file; the error list of a run (``OUT.errors.csv``: path,cause) is written the
same way. A file is checked as it is loaded: finite vectors, and distinct relative paths that
stay inside the folder embedded, so no command has to guard against a hand-made or damaged one.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from painter_match import atomic
from painter_match.data.images import name_problem, normalise_name
from painter_match.data.painting_finder import FoundPainting, check_edge, check_mode
from painter_match.data.views import Views
from painter_match.errors import DataError
from painter_match.inference.model import ModelError, ModelInfo, views_from_dict
from painter_match.input_files import input_file_problem, pipe_advice

FORMAT_VERSION = 1
# A file's stamp: size, st_mtime_ns, st_ctime_ns. The change time moves whenever the file's data is
# replaced, even by a copy that keeps the modification time (`cp -p`).
STAMP_FIELDS = 3
UNKNOWN_STAMP = (-1, -1, -1)


def file_stamp(path: str | Path) -> tuple[int, int, int]:
    """The stamp of a file now (`UNKNOWN_STAMP` when it cannot be looked at)."""
    try:
        info = Path(path).stat()
    except OSError:
        return UNKNOWN_STAMP
    return (int(info.st_size), int(info.st_mtime_ns), int(info.st_ctime_ns))


# What `EmbeddingSource.identity` appends for a painting finder that looked (`space_of` cuts it).
_FINDER_MARK = "/find_painting="


@dataclass(frozen=True)
class EmbeddingSource:
    """What produced a set of embeddings: the model's metadata, the view policy, and whether the
    painting was looked for in each image (`painter_match.data.painting_finder`).

    Attributes:
        info: the model's metadata.
        views: the view policy.
        find_painting: ``"auto"``, ``"on"`` or ``"off"``. A file written before the finder existed
            records none and reads as ``"off"``, which is what was done to its images.
        painting_edge: ``"frame"`` or ``"canvas"`` (meaningless, and not part of the identity, with
            ``"off"``).
    """

    info: ModelInfo
    views: Views
    find_painting: str = "off"
    painting_edge: str = "frame"

    @property
    def space(self) -> str:
        """The model's identity plus the views: what decides whether vectors can be compared (a
        reference, a collection), whatever pixels of each picture were embedded."""
        return f"{self.info.identity}/crops={self.views.crops}/scale={self.views.crop_scale:g}"

    @property
    def identity(self) -> str:
        """Changes whenever the vectors would: `space`, plus the painting finder's mode and edge
        when it looked. With ``"off"`` it is `space` as files before the finder recorded it, so
        their identities (and the references made from them) stay what they were."""
        if self.find_painting == "off":
            return self.space
        return f"{self.space}{_FINDER_MARK}{self.find_painting}/edge={self.painting_edge}"

    @property
    def finder_options(self) -> tuple[str, str]:
        """The painting finder's options that embed as this source did, for a Python caller and
        for a command-line user (`painter_match.errors.spell`): ``("find_painting='off'",
        "--find-painting off")``, or with ``painting_edge`` when it looked."""
        if self.find_painting == "off":
            return "find_painting='off'", "--find-painting off"
        return (
            f"find_painting={self.find_painting!r}, painting_edge={self.painting_edge!r}",
            f"--find-painting {self.find_painting} --painting-edge {self.painting_edge}",
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "identity": self.identity,
                "info": json.loads(self.info.to_json()),
                "views": {"crops": self.views.crops, "crop_scale": self.views.crop_scale},
                "find_painting": {"mode": self.find_painting, "edge": self.painting_edge},
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str, source: str) -> EmbeddingSource:
        try:
            data = json.loads(text)
            info = ModelInfo.from_json(json.dumps(data["info"]), "the model record")
            views = views_from_dict(data["views"])
            # Files written before the finder existed record nothing: their images were embedded whole.
            finder = data.get("find_painting", {"mode": "off", "edge": "frame"})
            mode, edge = check_mode(finder["mode"]), check_edge(finder["edge"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, ModelError) as err:
            # A model's metadata error says how to export a model; here the file is to blame.
            cause = str(err).split("; make one with", 1)[0]
            raise DataError(
                f"{source}: bad model record in the embeddings file ({cause}); embed the folder again"
            ) from None
        return cls(info, views, mode, edge)


def space_of(identity: str) -> str:
    """The `EmbeddingSource.space` part of an identity (the finder's mode cut off), for checks
    that only need vectors to be comparable: a reference made from a catalogue embedded with
    ``auto`` serves a query embedded with ``off`` or ``on``, since the finder chooses which pixels
    of a picture are embedded, not the space the vectors live in."""
    return identity.split(_FINDER_MARK, 1)[0]


@dataclass
class Embeddings:
    """Embedded images.

    Attributes:
        paths: POSIX paths relative to ``root``, one per row of ``vectors``.
        vectors: float32 ``[N, D]`` unit vectors.
        source: the model and views that made them.
        root: the folder embedded (absolute), or "" when unknown.
        stamps: int64 ``[N, 3]``: each file's size, modification and change time (ns) when it
            was embedded, so that ``embed --resume`` re-embeds a file replaced since; -1 where
            not recorded; None for files written before they were kept.
        shard: ``(K, N)`` when the file holds shard K of N of a folder (``embed --shard``), so
            that ``merge`` can check it has every shard; None for a whole folder.
        paintings: what was done to find the painting in each image, one per row
            (`painting_finder.FoundPainting`, without its measures; None for a row nobody looked
            at), or None when the file holds no records (``find_painting`` off, older files).
    """

    paths: list[str]
    vectors: np.ndarray
    source: EmbeddingSource
    root: str = ""
    stamps: np.ndarray | None = None
    shard: tuple[int, int] | None = None
    paintings: list[FoundPainting | None] | None = None

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.paths):
            raise ValueError(f"vectors must be [{len(self.paths)}, D], got shape {self.vectors.shape}")
        if self.paintings is not None and len(self.paintings) != len(self.paths):
            raise ValueError(f"paintings must hold {len(self.paths)} records, got {len(self.paintings)}")
        if self.stamps is not None and self.stamps.shape != (len(self.paths), STAMP_FIELDS):
            raise ValueError(
                f"stamps must be [{len(self.paths)}, {STAMP_FIELDS}], got shape {self.stamps.shape}"
            )

    def __len__(self) -> int:
        return len(self.paths)

    def index(self) -> dict[str, int]:
        """Row of each path."""
        return {p: i for i, p in enumerate(self.paths)}

    def painting(self, row: int) -> FoundPainting | None:
        """The painting finder's record of one row, or None when nobody looked at its image."""
        return self.paintings[row] if self.paintings is not None else None


def partial_path(out: str | Path) -> Path:
    """Where a run writing ``out`` keeps its progress: ``NAME.partial.npz`` beside it."""
    out = Path(out)
    return out.with_name(f"{_stem(out)}.partial.npz")


def errors_path(out: str | Path) -> Path:
    """Where a run writing ``out`` lists the images it could not read: ``NAME.errors.csv``."""
    out = Path(out)
    return out.with_name(f"{_stem(out)}.errors.csv")


def _stem(out: Path) -> str:
    return out.name[: -len(".npz")] if out.name.endswith(".npz") else out.name


def save_embeddings(path: str | Path, embeddings: Embeddings) -> Path:
    """Write an embeddings file atomically (temporary file beside it, then rename).

    Returns:
        The path written.
    """
    path = Path(path)
    arrays: dict[str, Any] = {
        "paths": np.asarray(embeddings.paths, dtype=np.str_).reshape(len(embeddings.paths)),
        "vectors": np.ascontiguousarray(embeddings.vectors, dtype=np.float32),
        "model": np.asarray(embeddings.source.to_json()),
        "root": np.asarray(embeddings.root),
    }
    if embeddings.stamps is not None:
        arrays["stamps"] = np.ascontiguousarray(embeddings.stamps, dtype=np.int64)
    if embeddings.shard is not None:
        arrays["shard"] = np.asarray(embeddings.shard, dtype=np.int64)
    if embeddings.paintings is not None and any(found is not None for found in embeddings.paintings):
        from painter_match.inference.painting_records import to_arrays

        arrays.update(to_arrays(embeddings.paintings))

    with atomic.atomic_file(path) as handle:
        np.savez(handle, **arrays)
    return path


def load_embeddings(path: str | Path) -> Embeddings:
    """Read an embeddings file written by `save_embeddings`, checking what it holds.

    Raises:
        DataError: naming the file when it is missing, not an embeddings file, or inconsistent:
            vectors that are not finite, or paths that repeat, are absolute or leave the folder.
    """
    path = Path(path)
    problem = input_file_problem(path)
    if problem is not None:
        advice = pipe_advice(problem) or f"; make one with `painter-match embed DIR -o {path}`"
        raise DataError(f"embeddings file {path} {problem}{advice}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"paths", "vectors", "model"} - set(data.files)
            if missing:
                raise DataError(
                    f"{path}: not a painter-match embeddings file (lacks {', '.join(sorted(missing))})"
                )
            paths = [str(p) for p in data["paths"].tolist()]
            vectors = np.asarray(data["vectors"], dtype=np.float32)
            model = str(data["model"][()])
            root = str(data["root"][()]) if "root" in data.files else ""
            stamps = np.asarray(data["stamps"]) if "stamps" in data.files else None
            shard_record = np.asarray(data["shard"]) if "shard" in data.files else None
            # The painting finder's records: a file without them (off, or older) reads as before.
            records = {key: np.asarray(data[key]) for key in data.files if key.startswith("painting_")}
    except (OSError, ValueError, KeyError, IndexError, TypeError, zipfile.BadZipFile, EOFError) as err:
        # numpy and zipfile raise any of these for a damaged file (a truncated partial file too).
        cause = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            f"{path}: not a readable embeddings file ({cause[:300]}); it is damaged or not one: embed the "
            "folder again"
        ) from None
    source = EmbeddingSource.from_json(model, str(path))
    if vectors.ndim != 2 or vectors.shape[0] != len(paths):
        raise DataError(f"{path}: {len(paths)} paths but vectors of shape {vectors.shape}")
    if vectors.shape[1] != source.info.embedding_dim:
        raise DataError(
            f"{path}: vectors have {vectors.shape[1]} dimensions, the model record says "
            f"{source.info.embedding_dim}"
        )
    _check_contents(path, paths, vectors)
    if stamps is not None and (stamps.shape != (len(paths), STAMP_FIELDS) or stamps.dtype != np.int64):
        raise DataError(
            f"{path}: the file stamps are {stamps.dtype} {stamps.shape}, not int64 [{len(paths)}, 3]"
        )
    return Embeddings(
        paths=paths,
        vectors=vectors,
        source=source,
        root=root,
        stamps=stamps,
        shard=_shard(path, shard_record),
        paintings=_paintings(path, records, len(paths), source),
    )


def _paintings(
    path: Path, records: dict[str, np.ndarray], count: int, source: EmbeddingSource
) -> list[FoundPainting | None] | None:
    """The painting finder's records an embeddings file holds, checked; None when it holds none."""
    if not records:
        return None
    from painter_match.inference.painting_records import from_arrays

    try:
        return from_arrays(records, count, source.find_painting, source.painting_edge)
    except ValueError as error:
        raise DataError(f"{path}: bad painting records ({error}); embed the folder again") from None


def _shard(path: Path, record: np.ndarray | None) -> tuple[int, int] | None:
    """The ``(K, N)`` an embeddings file records, checked."""
    if record is None:
        return None
    values = record.tolist() if record.shape == (2,) and np.issubdtype(record.dtype, np.integer) else None
    if values is None or not 0 <= values[0] < values[1]:
        raise DataError(
            f"{path}: its shard record {record.tolist()!r} is not K/N with 0 <= K < N; embed it again"
        )
    return int(values[0]), int(values[1])


def _check_contents(path: Path, paths: list[str], vectors: np.ndarray) -> None:
    """Refuse vectors that are not finite and paths that are not distinct relative file names."""
    bad_rows = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(bad_rows):
        row = int(bad_rows[0])
        raise DataError(
            f"{path}: the vector of {paths[row]!r} (row {row}) is not finite (NaN or infinity), and "
            f"{len(bad_rows):,} vectors in all; the file is damaged: embed the folder again"
        )
    seen: dict[str, str] = {}
    for name in paths:
        problem = name_problem(name)
        if problem is not None:
            raise DataError(f"{path}: stored path {name!r} {problem}; embed the folder again")
        key = normalise_name(name)
        if key in seen:
            same = "" if seen[key] == name else f" (as {seen[key]!r})"
            raise DataError(
                f"{path}: the path {name!r} is stored twice{same}; each image must have one vector: "
                "embed the folder again"
            )
        seen[key] = name


def write_errors(path: str | Path, rows: Iterable[tuple[str, str]]) -> Path:
    """Write ``path,cause`` rows atomically as CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "cause"])
    writer.writerows(rows)
    return atomic.write_bytes(path, buffer.getvalue().encode("utf-8"))


def read_errors(path: str | Path) -> list[tuple[str, str]]:
    """The ``path,cause`` rows of an error list `write_errors` wrote.

    Raises:
        DataError: the file is not such a list (named, with the row).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the error list ({error}); embed that shard again") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0] != ["path", "cause"]:
        raise DataError(f"{path}: not an error list (its header is not path,cause); embed that shard again")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            raise DataError(
                f"{path}, row {number}: expected path,cause, got {len(row)} fields; embed that shard again"
            )
    return [(row[0], row[1]) for row in rows[1:]]


def merge(
    order: Sequence[str],
    parts: Sequence[Embeddings],
    source: EmbeddingSource,
    root: str,
) -> Embeddings:
    """Combine embeddings of one source into one set ordered as ``order`` (paths missing from
    every part are left out; a path in several parts takes the last one's vector and stamp).

    The stamps are kept where any part has them (`UNKNOWN_STAMP` for rows of parts without), and
    so are the painting finder's records (None for rows of parts without); the result records no
    shard."""
    rows: dict[str, np.ndarray] = {}
    stamps: dict[str, tuple[int, ...]] = {}
    found: dict[str, FoundPainting | None] = {}
    stamped = any(part.stamps is not None for part in parts)
    recorded = any(part.paintings is not None for part in parts)
    for part in parts:
        part_stamps = part.stamps.tolist() if part.stamps is not None else None
        for row, (p, v) in enumerate(zip(part.paths, part.vectors)):
            rows[p] = v
            if stamped:
                stamps[p] = tuple(part_stamps[row]) if part_stamps is not None else UNKNOWN_STAMP
            if recorded:
                found[p] = part.painting(row)
    kept = [p for p in order if p in rows]
    dim = source.info.embedding_dim
    vectors = np.stack([rows[p] for p in kept]) if kept else np.empty((0, dim), dtype=np.float32)
    return Embeddings(
        paths=kept,
        vectors=vectors.astype(np.float32, copy=False),
        source=source,
        root=root,
        stamps=np.asarray([stamps[p] for p in kept], dtype=np.int64).reshape(len(kept), STAMP_FIELDS)
        if stamped
        else None,
        paintings=[found[p] for p in kept] if recorded else None,
    )
