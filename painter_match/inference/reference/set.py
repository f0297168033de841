"""The labelled reference set: its paintings, its fitted scoring model, and its ``.npz`` file.

A `Reference` holds the unit vectors of labelled paintings as embedded, each painting's artist,
file and content digest, the identity of the model that embedded them, and what
`painter_match.inference.reference.fit` fitted on them: a `Projection` (a linear map, learnt
from the labels, in which paintings of one artist lie closer together; neighbours and pair
cosines are taken there) and a `Combiner` (the settings of the artist posterior and the
coefficients of the pair model). One ``.npz`` without pickles holds it all, written through
`painter_match.atomic` (a temporary file beside the target, renamed into place), so scoring with
it is deterministic and needs no labels of the paintings scored. The fitted parts themselves are
`painter_match.inference.reference.fitted`'s; they are re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from painter_match import atomic
from painter_match.data.catalogue import artist_key
from painter_match.data.images import normalise_name
from painter_match.errors import DataError
from painter_match.inference.reference.fitted import (
    DEFAULT_K,
    DEFAULT_KEEP,
    DEFAULT_TEMPERATURE,
    DEFAULT_UNKNOWN_SIMILARITY,
    FEATURES,
    MAX_K,
    NEAR_DUPLICATE,
    NEAR_DUPLICATE_QUANTILE,
    Combiner,
    Projection,
)
from painter_match.input_files import input_file_problem, pipe_advice

if TYPE_CHECKING:  # only the type: the embeddings module moves in the restructuring
    from painter_match.inference.embeddings import Embeddings

__all__ = [
    "DEFAULT_K",
    "DEFAULT_KEEP",
    "DEFAULT_TEMPERATURE",
    "DEFAULT_UNKNOWN_SIMILARITY",
    "FEATURES",
    "FORMAT_VERSION",
    "MAX_K",
    "NEAR_DUPLICATE",
    "NEAR_DUPLICATE_QUANTILE",
    "Combiner",
    "Projection",
    "Reference",
    "build_reference",
    "check_reference",
    "content_digests",
    "file_digest",
    "load_reference",
    "save_reference",
    "unit_rows",
]

FORMAT_VERSION = 1


@dataclass
class Reference:
    """Labelled paintings to score against.

    Attributes:
        vectors: float32 ``[R, D]`` unit vectors, as embedded.
        artist_ids: int32 ``[R]``, each an index into ``artists``.
        artists: artist names, one per id.
        paths: each painting's file, relative to the folder embedded.
        digests: each file's content digest (`file_digest`), or None where the file was not read.
        source: identity of the model that made the vectors (``EmbeddingSource.identity``).
        projection: the fitted map neighbours and cosines are taken in, or None (identity).
        combiner: the fitted pair model, or None before `reference.fit.fit_reference`.

    Treat a reference as read-only once it has been searched: its vectors in the search space
    (and the int8 copy of them) are computed once and kept on the object.
    """

    vectors: np.ndarray
    artist_ids: np.ndarray
    artists: list[str]
    paths: list[str]
    digests: list[str | None]
    source: str = ""
    projection: Projection | None = None
    combiner: Combiner | None = None

    def __post_init__(self) -> None:
        self.vectors = unit_rows(self.vectors, "reference vectors", rows=len(self.paths))
        ids = np.asarray(self.artist_ids)
        if ids.shape != (len(self.paths),) or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"artist_ids must be integers of shape [{len(self.paths)}], got {ids.shape}")
        if len(ids) and (ids.min() < 0 or ids.max() >= len(self.artists)):
            raise ValueError(f"artist_ids must lie in [0, {len(self.artists)}), one per artist name")
        self.artist_ids = ids.astype(np.int32, copy=False)
        if len(self.digests) != len(self.paths):
            raise ValueError(f"digests must be [{len(self.paths)}] (one per path), got {len(self.digests)}")
        if self.projection is not None and self.projection.mean.shape[0] != self.dim:
            raise ValueError(
                f"the projection is for {self.projection.mean.shape[0]}-d vectors, not {self.dim}-d"
            )

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Embeddings (``[N, D]``, as embedded) in the space neighbours are searched in."""
        checked = unit_rows(vectors, "queries", dim=self.dim)
        return checked if self.projection is None else self.projection.apply(checked)

    @cached_property
    def search_vectors(self) -> np.ndarray:
        """The reference's own vectors in the search space (computed once)."""
        return self.vectors if self.projection is None else self.projection.apply(self.vectors)

    def subset(self, rows: np.ndarray) -> Reference:
        """The paintings at ``rows``, with every artist name kept (ids stay valid), unfitted."""
        picked = np.asarray(rows).tolist()
        return Reference(
            vectors=self.vectors[rows],
            artist_ids=self.artist_ids[rows],
            artists=self.artists,
            paths=[self.paths[r] for r in picked],
            digests=[self.digests[r] for r in picked],
            source=self.source,
        )

    def fitted(self, combiner: Combiner, projection: Projection | None) -> Reference:
        """The same paintings carrying a fitted combiner and projection."""
        return replace(self, combiner=combiner, projection=projection)

    def digest_rows(self) -> dict[str, list[int]]:
        """Reference rows by content digest (files not read are left out)."""
        rows: dict[str, list[int]] = {}
        for row, digest in enumerate(self.digests):
            if digest:
                rows.setdefault(digest, []).append(row)
        return rows


def unit_rows(
    vectors: np.ndarray, what: str, *, rows: int | None = None, dim: int | None = None
) -> np.ndarray:
    """``vectors`` as C-contiguous float32 ``[N, D]``, checked finite.

    Raises:
        ValueError: naming ``what`` and the expected shape, or the non-finite values.
    """
    array = np.asarray(vectors)
    expected = f"[{'N' if rows is None else rows}, {'D' if dim is None else dim}]"
    if (
        array.ndim != 2
        or (rows is not None and array.shape[0] != rows)
        or (dim is not None and array.shape[1] != dim)
    ):
        raise ValueError(f"{what} must be {expected}, got shape {array.shape}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contain NaN or infinity")
    return array


def file_digest(path: str | Path) -> str:
    """SHA-1 of a file's bytes, hex: two files with it hold the same painting, byte for byte."""
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_digests(root: str | Path, paths: Sequence[str]) -> list[str | None]:
    """`file_digest` of each path under ``root``; None where the file cannot be read."""
    out: list[str | None] = []
    for name in paths:
        try:
            out.append(file_digest(Path(root) / name))
        except OSError:
            out.append(None)
    return out


def build_reference(
    embeddings: Embeddings,
    labels: Mapping[str, str],
    *,
    digests: bool = True,
    unlabelled: Literal["error", "skip"] = "error",
) -> Reference:
    """A reference set (unfitted) from an embeddings file and each painting's artist.

    Args:
        embeddings: the labelled paintings' embeddings (`painter_match.embeddings.load_embeddings`).
        labels: artist of each path, keyed as the embeddings' paths are (relative to the folder
            embedded; ``./a.jpg`` and ``a.jpg`` are one name). Artist names that differ only in
            accents, case or separators (`painter_match.data.catalogue.artist_key`) are one artist.
        digests: read every file under ``embeddings.root`` for its content digest, so a query
            that is the same file is recognised whatever its similarity.
        unlabelled: what to do with an embedded path that has no label: ``"error"`` or ``"skip"``.

    Raises:
        ValueError: an unlabelled path (with ``unlabelled="error"``), or no labelled path at all.
    """
    by_name = {normalise_name(name): artist for name, artist in labels.items()}
    rows: list[int] = []
    names: list[str] = []
    missing: list[str] = []
    for row, path in enumerate(embeddings.paths):
        artist = by_name.get(normalise_name(path))
        if artist is None or not str(artist).strip():
            missing.append(path)
            continue
        rows.append(row)
        names.append(str(artist).strip())
    if missing and unlabelled == "error":
        raise ValueError(
            f"{len(missing):,} embedded paintings have no artist label (first: {missing[0]!r}); "
            "give labels for every path, or skip them (unlabelled='skip')"
        )
    if not rows:
        raise ValueError("no embedded painting has an artist label: nothing to build a reference from")
    artists: list[str] = []
    id_of: dict[str, int] = {}
    ids = np.empty(len(names), dtype=np.int32)
    for position, name in enumerate(names):
        key = artist_key(name)
        if key not in id_of:
            id_of[key] = len(artists)
            artists.append(name)
        ids[position] = id_of[key]
    paths = [embeddings.paths[r] for r in rows]
    root = Path(embeddings.root) if embeddings.root else None
    found: list[str | None] = [None] * len(paths)
    if digests and root is not None and root.is_dir():
        found = content_digests(root, paths)
    return Reference(
        vectors=embeddings.vectors[rows],
        artist_ids=ids,
        artists=artists,
        paths=paths,
        digests=found,
        source=embeddings.source.identity,
    )


def save_reference(path: str | Path, reference: Reference) -> Path:
    """Write a reference file atomically (a temporary file beside it, renamed into place).

    Returns:
        The path written.
    """
    meta = {
        "format_version": FORMAT_VERSION,
        "source": reference.source,
        "combiner": reference.combiner.to_dict() if reference.combiner is not None else None,
    }
    arrays: dict[str, Any] = {
        "vectors": reference.vectors,
        "artist_ids": reference.artist_ids,
        "artists": np.asarray(reference.artists, dtype=np.str_).reshape(len(reference.artists)),
        "paths": np.asarray(reference.paths, dtype=np.str_).reshape(len(reference.paths)),
        "digests": np.asarray([d or "" for d in reference.digests], dtype=np.str_).reshape(len(reference)),
        "meta": np.asarray(json.dumps(meta, sort_keys=True)),
    }
    if reference.projection is not None:
        arrays["projection_mean"] = reference.projection.mean.astype(np.float32)
        arrays["projection_matrix"] = reference.projection.matrix.astype(np.float32)
    with atomic.atomic_file(path) as handle:
        np.savez(handle, **arrays)
    return Path(path)


def load_reference(path: str | Path, *, source: str | None = None, fitted: bool = False) -> Reference:
    """Read a reference file written by `save_reference`.

    Args:
        path: the file.
        source: the identity (``EmbeddingSource.identity``) of the model and views that embed the
            paintings to be scored with it; a reference made by any other is refused, since its
            vectors and fitted pair model mean nothing in another model's space.
        fitted: refuse a reference without a fitted combiner.

    Raises:
        DataError: naming the file when it is missing, not a reference file, or inconsistent, or
            made by another model than ``source``, or (with ``fitted``) not fitted.
    """
    reference = _read_reference(Path(path))
    if source is not None:
        check_reference(reference, source, str(path), fitted=fitted)
    elif fitted:
        check_reference(reference, reference.source, str(path))
    return reference


def check_reference(reference: Reference, source: str, name: str, *, fitted: bool = True) -> None:
    """Refuse a reference made by another model and views than ``source``, or (with ``fitted``) one
    without a fitted pair model.

    The painting finder's mode (``--find-painting``, part of an embeddings file's identity) is not
    compared (`embeddings.space_of`): it chooses which pixels of each picture were embedded, not the
    space the vectors live in, so a reference of catalogue images serves photos cropped to the
    painting, and references made before the finder existed keep working.

    Raises:
        DataError: naming ``name`` (the file, or what the caller calls it) and both identities.
    """
    from painter_match.inference.embeddings import space_of

    if space_of(reference.source) != space_of(source):
        raise DataError(
            f"{name} was made from the embeddings of model {reference.source or 'unknown'}, not of "
            f"{source} that embeds these paintings; make the reference again with this model "
            "(painter-match embed, then painter-match reference)"
        )
    if fitted and reference.combiner is None:
        raise DataError(f"{name} holds no fitted pair model; make it with painter-match reference")


def _read_reference(path: Path) -> Reference:
    problem = input_file_problem(path)
    if problem is not None:
        advice = (
            "; give the reference file itself (REF.npz, made by `painter-match reference`)"
            if problem == "is a folder"
            else pipe_advice(problem)
            or "; make one with `painter-match reference EMBEDDINGS --labels LABELS -o REF.npz`"
        )
        raise DataError(f"reference file {path} {problem}{advice}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"vectors", "artist_ids", "artists", "paths", "digests", "meta"} - set(data.files)
            if missing:
                raise DataError(
                    f"{path}: not a painter-match reference file (lacks {', '.join(sorted(missing))})"
                )
            meta = json.loads(str(data["meta"][()]))
            if not isinstance(meta, dict):
                raise ValueError(f"its meta record is {type(meta).__name__}, not an object")
            version = meta.get("format_version")
            if version != FORMAT_VERSION:
                raise DataError(f"{path}: reference format {version!r}; this version reads {FORMAT_VERSION}")
            combiner = meta.get("combiner")
            if combiner is not None and not isinstance(combiner, dict):
                raise ValueError(f"its combiner is {type(combiner).__name__}, not an object")
            projection = None
            if "projection_mean" in data.files:
                projection = Projection(data["projection_mean"], data["projection_matrix"])
            return Reference(
                vectors=data["vectors"],
                artist_ids=data["artist_ids"],
                artists=[str(a) for a in data["artists"].tolist()],
                paths=[str(p) for p in data["paths"].tolist()],
                digests=[str(d) or None for d in data["digests"].tolist()],
                source=str(meta.get("source", "")),
                projection=projection,
                combiner=Combiner.from_dict(combiner) if combiner is not None else None,
            )
    except (
        OSError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        zipfile.BadZipFile,
        EOFError,
    ) as error:
        # numpy and zipfile raise any of these for a damaged file; the first line names the part.
        cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(
            f"{path}: not a readable reference file ({cause[:300]}); make it again with `painter-match reference`"
        ) from None
