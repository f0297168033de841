"""Score a Kaggle pairs file from embeddings and write the submission: the pair scoring engine.

The competition's ``submission_info.csv`` lists 21.9 million ``index,image1,image2`` rows over
23,817 images; the answer is ``index,sameArtist`` with a probability per row. This module reads
the pairs in blocks through the one reader of pair files (`painter_match.data.pair_files`, which
checks every row), looks up only the few thousand distinct names of a block, scores each pair as the dot product of two L2-normalised embeddings turned into a probability
by the model's :class:`~painter_match.inference.calibration.Calibration`, and writes each block straight
out, so memory follows the block size rather than the file. The output goes to a temporary
file beside the target (`painter_match.atomic`) and is renamed into place only when every row has
been written and, with a ground-truth file, that file has been checked against the pairs too.

Names are compared in one spelling (`painter_match.data.images.normalise_name`: ``./a.jpg`` and
``sub/../a.jpg`` are ``a.jpg``) on both sides, pairs file and embeddings. The row-wise cosine is
`painter_match.inference.similarity.pairwise_cosine`; reading, scoring and writing overlap in
threads (`painter_match.inference.scoring.pipeline`). :func:`unique_images` runs the same checks to list
the images to embed; :func:`score_pairs` scores, and with a ground-truth file also reports the
ROC AUC of what it wrote (`painter_match.metrics.roc_auc`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from painter_match import atomic
from painter_match.data.pair_files import (
    DEFAULT_CHUNK_BYTES,
    MissingNames,
    PairBlocks,
    bool_numpy,
    clean_names,
    csv_row,
    file_size,
    first_position,
    first_row_with,
    name_problem,
    read_solution_labels,
)
from painter_match.errors import DataError
from painter_match.inference.calibration import Calibration
from painter_match.inference.scoring.pipeline import BackgroundWriter, prefetched
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import roc_auc
from painter_match.progress import progress_bar

SUBMISSION_HEADER = "index,sameArtist"

Missing = Literal["error", "fill"]
"""What to do with a pair whose image has no embedding (see :func:`score_pairs`)."""

_EXAMPLES = 5
# How messages name the fill policy: to a Python caller, and on the command line.
MISSING_FILL = ("missing='fill'", "--missing fill")


@dataclass(frozen=True)
class ScoreSummary:
    """What :func:`score_pairs` (and ``painter_match.score_pairs``) did.

    Attributes:
        pairs: rows written, scored or filled.
        seconds: wall time of the whole call.
        output: the submission file written.
        filled: pairs given ``fill_value`` because an image had no embedding.
        missing_images: distinct image names without an embedding.
        missing_examples: up to five of those names, in the order met.
        fill_value: the probability written for such pairs.
        auc: ROC AUC of the written probabilities against the solution, or None without one.
        auc_pairs: pairs the AUC was computed on (those listed in the solution).
        prior: the share of same-artist pairs the probabilities were moved to, or None.
        reference: with a labelled reference set, what it said about the paintings (its file,
            size, and how many paintings found themselves in it), else None.
        unreadable: ``(image, cause)`` of the images named by the pairs that could not be
            embedded (``score --images``), at most five; ``unreadable_images`` counts them all.
        unreadable_images: how many there were.
        model: the model facts a ``--json`` result carries (`Model.record`), where known.
        collection: what was done to the embeddings before they were compared
            (`painter_match.inference.collection.CollectionAdaptation.record`).
    """

    pairs: int
    seconds: float
    output: str
    filled: int = 0
    missing_images: int = 0
    missing_examples: tuple[str, ...] = field(default=())
    fill_value: float = 0.5
    auc: float | None = None
    auc_pairs: int = 0
    prior: float | None = None
    reference: Mapping[str, Any] | None = None
    unreadable: tuple[tuple[str, str], ...] = ()
    unreadable_images: int = 0
    model: Mapping[str, Any] | None = None
    collection: Mapping[str, Any] | None = None

    @property
    def scored(self) -> int:
        """Pairs given a probability from their embeddings (the rest were filled)."""
        return self.pairs - self.filled

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (what ``score --json`` prints), with ``pairs_per_second`` added."""
        return {
            "pairs": self.pairs,
            "scored": self.scored,
            "seconds": round(self.seconds, 3),
            "pairs_per_second": round(self.pairs_per_second, 1),
            "output": self.output,
            "filled": self.filled,
            "missing_images": self.missing_images,
            "missing_examples": list(self.missing_examples),
            "fill_value": self.fill_value,
            "auc": self.auc,
            "auc_pairs": self.auc_pairs,
            **({"reference": dict(self.reference)} if self.reference is not None else {}),
            "unreadable_images": self.unreadable_images,
            "unreadable_examples": [{"image": image, "cause": cause} for image, cause in self.unreadable],
            "model": dict(self.model) if self.model is not None else None,
            "prior": self.prior,
            "collection": dict(self.collection) if self.collection is not None else None,
        }

    def __str__(self) -> str:
        text = f"{self.pairs:,} pairs -> {self.output}: {self.scored:,} scored"
        if self.filled:
            text += (
                f", {self.filled:,} filled with {self.fill_value:g} ({self.missing_images:,} images without "
                f"an embedding, e.g. {', '.join(self.missing_examples)})"
            )
        return text


def unique_images(
    pairs_csv: str | Path,
    *,
    images_dir: str | Path | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    quiet: bool = True,
) -> list[str]:
    """Every distinct image name of a pairs file, checking the file as :func:`score_pairs` does.

    One streaming pass; memory grows with the number of distinct names, not of pairs. Running
    it before embedding means a bad row is reported before minutes of image decoding.

    Args:
        pairs_csv: a Kaggle ``submission_info.csv`` (``index,image1,image2``).
        images_dir: when given, each name is also resolved inside this folder, which refuses
            a symbolic link that leads out of it (the names are checked lexically either way).
        chunk_bytes: CSV bytes per block.
        quiet: draw no progress bar.

    Returns:
        The names in their one spelling (`normalise_name`), sorted (so the list does not depend
        on row order, block size or how a name was written).

    Raises:
        DataError: naming the file and row, for any problem :func:`score_pairs` refuses.
    """
    path = Path(pairs_csv)
    seen: list[str] = []
    seen_set: set[str] = set()
    known = pa.array([], pa.string())
    with progress_bar("Listing images", file_size(path), quiet=quiet, unit="bytes") as bar:
        for block in PairBlocks(path, chunk_bytes, bar):
            problems: list[tuple[int, str]] = []
            for column in (block.image1, block.image2):
                dictionary = clean_names(column.dictionary)
                new = pc.invert(pc.is_in(dictionary, value_set=known))
                if not pc.any(new).as_py():
                    continue
                for position in np.flatnonzero(bool_numpy(new)).tolist():
                    name = dictionary[position].as_py()
                    if name in seen_set:  # two spellings that differ only in surrounding spaces
                        continue
                    problem = name_problem(name, images_dir)
                    if problem is not None:
                        row = block.first_row + first_position(column.indices, position)
                        problems.append((row, f"{path}: row {csv_row(row)} names {name!r}, which {problem}"))
                        continue
                    seen.append(name)
                    seen_set.add(name)
                known = pa.array(seen, pa.string())
            if problems:
                raise DataError(min(problems)[1])  # the earliest row, whichever column it is in
    return sorted(seen)


def score_pairs(
    pairs_csv: str | Path,
    out_csv: str | Path,
    *,
    names: Sequence[str],
    vectors: np.ndarray,
    calibration: Calibration,
    missing: Missing | None = None,
    fill_value: float = 0.5,
    solution: str | Path | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    quiet: bool = False,
    pair_probability: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> ScoreSummary:
    """Score every pair of a Kaggle pairs file and write ``index,sameArtist`` in input order.

    Args:
        pairs_csv: ``index,image1,image2`` rows (extra columns are ignored).
        out_csv: the submission to write; replaced only once every row is written.
        names: the image names (as in the pairs file) that have embeddings.
        vectors: ``[len(names), D]`` L2-normalised embeddings, row i for ``names[i]``.
        calibration: turns a cosine similarity into P(same artist).
        missing: what to do with a pair whose image has no embedding (missing or
            unreadable): ``"fill"`` writes ``fill_value`` and counts it in the summary,
            ``"error"`` stops with the row; None (the default) fills too, but refuses a file
            none of whose pairs could be scored (the names are not those of the embeddings).
        fill_value: the probability written for such pairs; 0.5 says "no idea".
        solution: optional ground truth (``index,sameArtist``, 0/1) to compute the ROC AUC of
            the written probabilities. It is read and checked before any pair is scored, and
            checked against the pairs before the submission is put in place, so a bad one leaves
            no submission behind (holding 5 bytes per index value meanwhile).
        chunk_bytes: CSV bytes read per block; memory follows it.
        quiet: draw no progress bar.
        pair_probability: scores a block's pairs instead of the calibrated cosine, given the
            two rows of ``vectors`` of each pair (e.g. `reference.score_pairs_with_reference`
            bound to the paintings' evidence, as ``painter_match.score_pairs(reference=...)``
            does); it sees one block at a time, so memory still follows the block, and pairs
            with a missing image still get ``fill_value``.

    Returns:
        A :class:`ScoreSummary`.

    Raises:
        DataError: naming the file and row for a missing file or column, an empty file, a
            non-integer, negative or repeated index, an image name that leaves the images
            folder, or (with ``missing="error"``) an image without an embedding; no pair that
            could be scored (``missing=None``); or a solution that does not match the pairs.
        OutputError: the output is one of the inputs, or cannot be written (a folder, a
            missing folder, a full disk); an existing output is replaced.
        ValueError: for inconsistent arguments (names vs vectors, none at all, a bad policy).
    """
    started = time.perf_counter()
    if missing not in ("error", "fill", None):
        raise ValueError(f"missing must be 'error', 'fill' or None, got {missing!r}")
    if not 0.0 <= fill_value <= 1.0:
        raise ValueError(f"fill_value must be a probability in [0, 1], got {fill_value}")
    path, target = Path(pairs_csv), Path(out_csv)
    # Replacing an earlier output is this engine's job (the callers decide about force); writing
    # over its own pairs or solution file never is.
    atomic.check_output(
        target, force=True, inputs=[("pairs file", path), ("solution file", solution)], argument="out_csv"
    )
    table = _EmbeddingTable(names, vectors)
    lookup = _NameLookup(path, table, "error" if missing == "error" else "fill")
    scores_by_index = None
    labels = None
    auc, auc_pairs = (None, 0)
    if solution is not None:
        # Read the solution now: a wrong file should cost neither a full scoring run nor the
        # submission, which is put in place only once the solution has been checked against it.
        labels = read_solution_labels(Path(solution), chunk_bytes)
        scores_by_index = _GrowableScores()
    pairs = filled = 0
    schema = pa.schema([("index", pa.int64()), ("sameArtist", pa.float64())])
    # Three stages overlap: a thread reads and checks the next block (Arrow parses in the calling
    # thread), this thread scores, and a thread formats and writes the previous block; each
    # hand-over holds one block, so memory stays a few blocks however long the file is.
    with (
        atomic.atomic_file(target) as out,
        progress_bar("Scoring pairs", file_size(path), quiet=quiet, unit="bytes") as bar,
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="painter-match-pairs") as pool,
    ):
        out.write(SUBMISSION_HEADER.encode() + b"\n")
        writer = BackgroundWriter(
            pa_csv.CSVWriter(out, schema, write_options=pa_csv.WriteOptions(include_header=False)), pool
        )
        blocks = prefetched(iter(PairBlocks(path, chunk_bytes, bar)), pool)
        try:
            for block in blocks:
                rows1 = lookup.rows(block.image1, block.first_row)
                rows2 = lookup.rows(block.image2, block.first_row)
                lookup.raise_first_problem()
                absent = (rows1 < 0) | (rows2 < 0)
                if pair_probability is None:
                    cosine = pairwise_cosine(table.vectors, np.maximum(rows1, 0), np.maximum(rows2, 0))
                    probability = _round_significant(calibration.probability(cosine))
                else:
                    probability = _round_significant(
                        pair_probability(np.maximum(rows1, 0), np.maximum(rows2, 0))
                    )
                if absent.any():
                    probability[absent] = fill_value
                    filled += int(absent.sum())
                writer.write(pa.record_batch([pa.array(block.index), pa.array(probability)], schema=schema))
                if scores_by_index is not None:
                    scores_by_index.put(block.index, probability)
                pairs += len(block.index)
        except BaseException:
            blocks.close()  # now, not at garbage collection: stops the read-ahead and the file
            writer.abort()
            raise
        if missing is None and pairs and filled == pairs:
            writer.abort()
            raise _nothing_scored(path, pairs, lookup.missing, fill_value)
        writer.close()
        if solution is not None and labels is not None and scores_by_index is not None:
            auc, auc_pairs = _solution_auc(Path(solution), path, labels, scores_by_index)
    return ScoreSummary(
        pairs=pairs,
        seconds=time.perf_counter() - started,
        output=str(target),
        filled=filled,
        missing_images=len(lookup.missing),
        missing_examples=tuple(list(lookup.missing)[:_EXAMPLES]),
        fill_value=fill_value,
        auc=auc,
        auc_pairs=auc_pairs,
    )


def _nothing_scored(path: Path, pairs: int, missing: MissingNames, fill_value: float) -> DataError:
    """The error for a pairs file none of whose pairs has both images embedded."""
    examples = ", ".join(repr(name) for name in list(missing)[:_EXAMPLES])
    return DataError.naming(
        f"none of the {pairs:,} pairs of {path} could be scored: none has both images among the embeddings "
        f"({len(missing):,} images without one, e.g. {examples}); embed the folder the names are relative "
        f"to, or pass {{fill}} to write {fill_value:g} for every such pair",
        fill=MISSING_FILL,
    )


class _EmbeddingTable:
    """Names and their vectors, checked once."""

    def __init__(self, names: Sequence[str], vectors: np.ndarray) -> None:
        array = np.asarray(vectors)
        if array.ndim != 2 or array.shape[0] != len(names):
            raise ValueError(f"vectors must be [len(names)={len(names)}, D], got shape {array.shape}")
        if array.shape[0] == 0:
            raise ValueError("no embeddings given: names and vectors are empty")
        if not np.isfinite(array).all():
            raise ValueError("vectors contain NaN or infinity")
        self.vectors = np.ascontiguousarray(array, dtype=np.float32)
        self.names = clean_names(pa.array(list(names), pa.string()))
        if pc.count_distinct(self.names).as_py() != len(names):
            raise ValueError("names must be distinct (in their one spelling): each image has one embedding")
        for name in names:
            problem = name_problem(name)
            if problem is not None:
                raise ValueError(f"embedding name {name!r} {problem}")
        self.lookup = pc.SetLookupOptions(value_set=self.names)


class _NameLookup:
    """Per-block dictionary -> embedding row, recording names that have none."""

    def __init__(self, path: Path, table: _EmbeddingTable, missing: Missing) -> None:
        self.path = path
        self.table = table
        self.policy = missing
        # A count and the first few names, not every name: a 10-million-row file of unknown
        # names held them all (2.1 GB).
        self.missing = MissingNames(_EXAMPLES)
        self._problem: tuple[int, str] | None = None

    def rows(self, column: pa.DictionaryArray, first_row: int) -> np.ndarray:
        """The embedding row of each pair's image, -1 where there is none."""
        dictionary = clean_names(column.dictionary)
        found = pc.fill_null(pc.index_in(dictionary, options=self.table.lookup), -1).to_numpy()
        codes = column.indices.to_numpy()
        unknown = np.flatnonzero(found < 0)
        for position in unknown.tolist():
            name = dictionary[position].as_py()
            problem = name_problem(name)
            if problem is None and self.policy == "fill":
                self.missing.add(name)
                continue
            if problem is None:
                problem = (
                    "has no embedding (the image is missing or unreadable); restore the image, or fill "
                    "such pairs with a fixed probability ({fill})"
                )
            row = first_row + first_position(column.indices, position)
            if self._problem is None or row < self._problem[0]:
                self._problem = (row, f"{self.path}: row {csv_row(row)} names {name!r}, which {problem}")
        return found[codes]

    def raise_first_problem(self) -> None:
        """Raise for the earliest bad row of the block, across both columns."""
        if self._problem is not None:
            raise DataError.naming(self._problem[1], fill=MISSING_FILL)


def _round_significant(probability: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round to ``digits`` significant digits, as float64 whose shortest text is that decimal.

    Six digits keep every probability within 5e-7 of the model's float32 and keep tiny ones
    apart (a fixed six decimals would tie everything below 5e-7); Arrow writes float64 by its
    shortest round-trip form, so the file holds at most six digits per value (measured 2.5x
    faster to write than float32, whose shortest form has up to nine).
    """
    values = probability.astype(np.float64)
    positive = values > 0
    exponent = np.floor(np.log10(np.where(positive, values, 1.0)))
    scale = 10.0 ** (digits - 1 - exponent)
    return np.where(positive, np.round(values * scale) / scale, values)


class _GrowableScores:
    """Written probabilities by index value (float32, NaN where no pair has that index)."""

    def __init__(self) -> None:
        self.values = np.full(1 << 16, np.nan, dtype=np.float32)

    def put(self, index: np.ndarray, scores: np.ndarray) -> None:
        if len(index) == 0:
            return
        largest = int(index.max())
        if largest >= len(self.values):
            grown = np.full(max(largest + 1, 2 * len(self.values)), np.nan, dtype=np.float32)
            grown[: len(self.values)] = self.values
            self.values = grown
        # float32 keeps six-significant-digit values distinct and ordered, so the AUC is that
        # of the text written.
        self.values[index] = scores


def _solution_auc(
    path: Path, pairs_path: Path, labels: np.ndarray, scores: _GrowableScores
) -> tuple[float, int]:
    """ROC AUC of the written scores against the solution's labels, and the pairs it covers.

    Raises:
        DataError: the solution lists an index the pairs file does not, or has only one class.
    """
    listed = np.flatnonzero(labels >= 0)
    inside = listed < len(scores.values)
    unknown = ~inside
    unknown[inside] = np.isnan(scores.values[listed[inside]])
    if unknown.any():
        strangers = set(listed[unknown].tolist())
        row, index = first_row_with(path, strangers)
        raise DataError(
            f"{path}: row {csv_row(row)} has index {index}, which {pairs_path} does not list "
            f"({len(strangers):,} such rows); the solution must belong to the pairs file"
        )
    # Every listed index has a score, so the labels beyond the scores are all -1.
    aligned = np.full(len(scores.values), -1, dtype=np.int8)
    common = min(len(labels), len(aligned))
    aligned[:common] = labels[:common]
    labelled = aligned >= 0
    try:
        # float32 scores stay float32 inside roc_auc: 21.9 million pairs fit the memory budget.
        return roc_auc(aligned[labelled] == 1, scores.values[labelled]), len(listed)
    except ValueError as error:
        raise DataError(f"{path}: cannot compute ROC AUC: {error}") from None
