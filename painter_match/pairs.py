"""Stream a Kaggle pairs file, score every pair from embeddings, and write the submission.

The competition's ``submission_info.csv`` lists 21.9 million ``index,image1,image2`` rows over
23,817 images; the answer is ``index,sameArtist`` with a probability per row. This module reads
the pairs in blocks with Arrow's streaming CSV reader (names dictionary-encoded per block, so
only the few thousand distinct names of a block are looked up, never 21.9 million strings),
scores each pair as the dot product of two L2-normalised embeddings turned into a probability
by the model's :class:`~painter_match.calibration.Calibration`, and writes each block straight
out, so memory follows the block size rather than the file. The output goes to a temporary
file beside the target (`painter_match.atomic`) and is renamed into place only when every row has
been written and, with a ground-truth file, that file has been checked against the pairs too.

Every row is checked on the way: the columns, integer and unique indices (one bit per index
value), and image names that stay inside the images folder. Names are compared in one spelling
(`painter_match.images.normalise_name`: ``./a.jpg`` and ``sub/../a.jpg`` are ``a.jpg``) on both
sides, pairs file and embeddings. :func:`unique_images` runs the
same checks to list the images to embed; :func:`score_pairs` scores, and with a ground-truth
file also reports the ROC AUC of what it wrote.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from painter_match import atomic
from painter_match.calibration import Calibration
from painter_match.data.images import name_problem, normalise_name, resolve_inside
from painter_match.errors import DataError
from painter_match.progress import Bar, progress_bar

PAIRS_COLUMNS = ("index", "image1", "image2")
SOLUTION_COLUMNS = ("index", "sameArtist")
SUBMISSION_HEADER = "index,sameArtist"

# Bytes of CSV per block. Arrow's streaming reader holds about 35 blocks' worth of buffers at
# its peak (measured: 4 MiB -> 156 MB pool, 16 MiB -> 530 MB), and 4 MiB (~150k Kaggle rows)
# is already large enough that the per-block Python work is a few percent of the run.
DEFAULT_CHUNK_BYTES = 4 << 20

# One bit per index value: the largest accepted index costs 256 MiB of bitmap at worst, and the
# Kaggle file (indices 0..21,916,046) costs 2.7 MB.
MAX_INDEX = 2**31 - 1

Missing = Literal["error", "fill"]

_EXAMPLES = 5
# Rows per gather in the general path: two 2048 x D float32 tiles stay in cache while the
# row-wise dot products read them (measured 1.4x faster per row than 8k-row tiles).
_GATHER_ROWS = 2048
# A block is scored run by run (one matrix-vector product per run of equal image1, or image2,
# names) when its runs average at least this many rows; Kaggle's file lists each image's pairs
# together, so its runs are hundreds of rows long and only one side needs gathering.
_MIN_RUN = 16
_INTEGER = r"^\s*-?[0-9]+\s*$"
_INT64 = r"^\s*-?[0-9]{1,18}\s*$"  # surely within int64; longer digit strings may not be
_NO_PAIRS = "no pairs listed, only a header; expected rows of index,image1,image2"
_NO_LABELS = "no rows, only a header; expected rows of index,sameArtist"
_LABEL_TRUE = ["1", "1.0", "True", "true", "TRUE"]
_LABEL_FALSE = ["0", "0.0", "False", "false", "FALSE"]


@dataclass(frozen=True)
class ScoreSummary:
    """What :func:`score_pairs` did.

    Attributes:
        pairs: rows scored and written.
        seconds: wall time of the whole call.
        output: the submission file written.
        filled: pairs given ``fill_value`` because an image had no embedding.
        missing_images: distinct image names without an embedding.
        missing_examples: up to five of those names, in the order met.
        fill_value: the probability written for such pairs.
        auc: ROC AUC of the written probabilities against the solution, or None without one.
        auc_pairs: pairs the AUC was computed on (those listed in the solution).
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

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict, with ``pairs_per_second`` added."""
        return {
            "pairs": self.pairs,
            "seconds": round(self.seconds, 3),
            "pairs_per_second": round(self.pairs_per_second, 1),
            "output": self.output,
            "filled": self.filled,
            "missing_images": self.missing_images,
            "missing_examples": list(self.missing_examples),
            "fill_value": self.fill_value,
            "auc": self.auc,
            "auc_pairs": self.auc_pairs,
        }


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
    with progress_bar("Listing images", _file_size(path), quiet=quiet, unit="bytes") as bar:
        for block in _PairBlocks(path, chunk_bytes, bar):
            problems: list[tuple[int, str]] = []
            for column in (block.image1, block.image2):
                dictionary = _clean_names(column.dictionary)
                new = pc.invert(pc.is_in(dictionary, value_set=known))
                if not pc.any(new).as_py():
                    continue
                for position in np.flatnonzero(_bool_numpy(new)).tolist():
                    name = dictionary[position].as_py()
                    if name in seen_set:  # two spellings that differ only in surrounding spaces
                        continue
                    problem = _name_problem(name, images_dir)
                    if problem is not None:
                        row = block.first_row + _first_position(column.indices, position)
                        problems.append((row, f"{path}: row {_csv_row(row)} names {name!r}, which {problem}"))
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
    missing: Missing = "fill",
    fill_value: float = 0.5,
    solution: str | Path | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    quiet: bool = False,
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
            ``"error"`` stops with the row.
        fill_value: the probability written for such pairs; 0.5 says "no idea".
        solution: optional ground truth (``index,sameArtist``, 0/1) to compute the ROC AUC of
            the written probabilities. It is read and checked before any pair is scored, and
            checked against the pairs before the submission is put in place, so a bad one leaves
            no submission behind (holding 5 bytes per index value meanwhile).
        chunk_bytes: CSV bytes read per block; memory follows it.
        quiet: draw no progress bar.

    Returns:
        A :class:`ScoreSummary`.

    Raises:
        DataError: naming the file and row for a missing file or column, an empty file, a
            non-integer, negative or repeated index, an image name that leaves the images
            folder, or (with ``missing="error"``) an image without an embedding; or a
            solution that does not match the pairs.
        OutputError: the output cannot be written (a folder, a missing folder, a full disk).
        ValueError: for inconsistent arguments (names vs vectors, none at all, a bad policy).
    """
    started = time.perf_counter()
    if missing not in ("error", "fill"):
        raise ValueError(f"missing must be 'error' or 'fill', got {missing!r}")
    if not 0.0 <= fill_value <= 1.0:
        raise ValueError(f"fill_value must be a probability in [0, 1], got {fill_value}")
    path, target = Path(pairs_csv), Path(out_csv)
    table = _EmbeddingTable(names, vectors)
    lookup = _NameLookup(path, table, missing)
    scores_by_index = None
    labels = None
    auc, auc_pairs = (None, 0)
    if solution is not None:
        # Read the solution now: a wrong file should cost neither a full scoring run nor the
        # submission, which is put in place only once the solution has been checked against it.
        labels = _read_solution(Path(solution), chunk_bytes)
        scores_by_index = _GrowableScores()
    pairs = filled = 0
    schema = pa.schema([("index", pa.int64()), ("sameArtist", pa.float64())])
    # Three stages overlap: a thread reads and checks the next block (Arrow parses in the calling
    # thread), this thread scores, and a thread formats and writes the previous block; each
    # hand-over holds one block, so memory stays a few blocks however long the file is.
    with (
        atomic.atomic_file(target) as out,
        progress_bar("Scoring pairs", _file_size(path), quiet=quiet, unit="bytes") as bar,
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="painter-match-pairs") as pool,
    ):
        out.write(SUBMISSION_HEADER.encode() + b"\n")
        writer = _BackgroundWriter(
            pa_csv.CSVWriter(out, schema, write_options=pa_csv.WriteOptions(include_header=False)), pool
        )
        blocks = _prefetched(iter(_PairBlocks(path, chunk_bytes, bar)), pool)
        try:
            for block in blocks:
                rows1 = lookup.rows(block.image1, block.first_row)
                rows2 = lookup.rows(block.image2, block.first_row)
                lookup.raise_first_problem()
                absent = (rows1 < 0) | (rows2 < 0)
                cosine = pairwise_cosine(table.vectors, np.maximum(rows1, 0), np.maximum(rows2, 0))
                probability = _round_significant(calibration.probability(cosine))
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


def pairwise_cosine(vectors: np.ndarray, rows1: np.ndarray, rows2: np.ndarray) -> np.ndarray:
    """Dot product of ``vectors[rows1[i]]`` and ``vectors[rows2[i]]`` for every i, float32.

    With L2-normalised rows this is the cosine similarity of each pair. Runs of one repeated
    row on either side (Kaggle lists an image's pairs together) become one matrix-vector
    product per run, which gathers only the other side; otherwise rows are gathered in
    cache-sized tiles.

    Args:
        vectors: ``[N, D]`` embeddings (float32 avoids a copy).
        rows1, rows2: equally long integer arrays of rows in ``vectors``.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # no copy when already so
    n = len(rows1)
    out = np.empty(n, dtype=np.float32)
    if n == 0:
        return out
    breaks1 = np.flatnonzero(rows1[1:] != rows1[:-1]) + 1
    breaks2 = np.flatnonzero(rows2[1:] != rows2[:-1]) + 1
    fixed, other, breaks = (
        (rows1, rows2, breaks1) if len(breaks1) <= len(breaks2) else (rows2, rows1, breaks2)
    )
    if n >= _MIN_RUN * (len(breaks) + 1):
        starts = np.r_[0, breaks]
        stops = np.r_[breaks, n]
        for start, stop in zip(starts.tolist(), stops.tolist()):
            np.dot(vectors[other[start:stop]], vectors[fixed[start]], out=out[start:stop])
        return out
    for start in range(0, n, _GATHER_ROWS):
        stop = start + _GATHER_ROWS
        # Fancy indexing gathers faster than np.take(..., out=) here (measured 0.28 vs 0.37 s per
        # million pairs); einsum then reads both tiles while they are still in cache.
        np.einsum("ij,ij->i", vectors[rows1[start:stop]], vectors[rows2[start:stop]], out=out[start:stop])
    return out


def score_pairs_pandas_reference(
    pairs_csv: str | Path,
    out_csv: str | Path,
    *,
    names: Sequence[str],
    vectors: np.ndarray,
    calibration: Calibration,
    fill_value: float = 0.5,
    batch_rows: int = 100_000,
) -> int:
    """The straightforward way, kept as the benchmark's baseline: pandas end to end.

    Reads the whole file with ``pd.read_csv``, maps names to rows with a Series, scores in
    batches (gathering every pair at once would need 45 GB at Kaggle scale) and writes with
    ``to_csv``. No validation beyond what pandas does; not for users.

    Returns:
        The number of pairs written.
    """
    frame = pd.read_csv(pairs_csv)
    row_of = pd.Series(np.arange(len(names)), index=pd.Index(list(names)))
    rows1 = frame["image1"].map(row_of)
    rows2 = frame["image2"].map(row_of)
    absent = (rows1.isna() | rows2.isna()).to_numpy()
    first = rows1.fillna(0).to_numpy(dtype=np.int64)
    second = rows2.fillna(0).to_numpy(dtype=np.int64)
    cosine = np.empty(len(frame), dtype=np.float32)
    for start in range(0, len(frame), batch_rows):
        stop = start + batch_rows
        cosine[start:stop] = np.einsum("ij,ij->i", vectors[first[start:stop]], vectors[second[start:stop]])
    probability = calibration.probability(cosine)
    probability[absent] = fill_value
    pd.DataFrame({"index": frame["index"], "sameArtist": probability}).to_csv(
        out_csv, index=False, float_format="%.6g"
    )
    return len(frame)


# --- the pipeline --------------------------------------------------------------------------

_T = TypeVar("_T")


def _prefetched(items: Iterator[_T], pool: ThreadPoolExecutor) -> Generator[_T, None, None]:
    """Yield from ``items`` while the next item is computed in ``pool``: one item of read-ahead."""
    done = object()
    pending: Future[object] = pool.submit(next, items, done)
    try:
        while True:
            item = pending.result()
            if item is done:
                return
            pending = pool.submit(next, items, done)
            yield item  # type: ignore[misc]
    finally:
        # A generator cannot be closed while another thread runs it: wait for the read-ahead.
        wait([pending])
        close = getattr(items, "close", None)
        if close is not None:
            close()


class _BackgroundWriter:
    """Write record batches in ``pool``, one at a time, in the order given; errors surface here."""

    def __init__(self, writer: pa_csv.CSVWriter, pool: ThreadPoolExecutor) -> None:
        self._writer = writer
        self._pool = pool
        self._pending: Future[None] | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self._pending is not None:
            self._pending.result()
        self._pending = self._pool.submit(self._writer.write_batch, batch)

    def close(self) -> None:
        """Finish the last write and the writer, raising a write's error."""
        if self._pending is not None:
            self._pending.result()
        self._writer.close()

    def abort(self) -> None:
        """Wait for the write in flight, so the file can be closed under it, keeping quiet about it."""
        if self._pending is not None:
            wait([self._pending])


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    first_row: int  # 0-based data row of the block's first row
    index: np.ndarray  # int64
    image1: pa.DictionaryArray
    image2: pa.DictionaryArray


class _PairBlocks:
    """Validated blocks of a pairs file: columns present, indices integer, in range and unique."""

    def __init__(self, path: Path, chunk_bytes: int, bar: Bar | None = None) -> None:
        self.path = path
        self.chunk_bytes = chunk_bytes
        self.bar = bar

    def __iter__(self) -> Iterator[_Block]:
        header, header_bytes = _read_header(self.path, PAIRS_COLUMNS, _NO_PAIRS)
        names = pa.dictionary(pa.int32(), pa.string())
        types = {"index": pa.int64(), "image1": names, "image2": names}
        seen = _IndexSet()
        rows = 0
        # Arrow skips the header inside the first block, so a block must hold it.
        block_bytes = max(self.chunk_bytes, header_bytes + 1)
        for batch in _stream(self.path, header, types, block_bytes, self.bar):
            index = batch.column("index").to_numpy()
            _check_index_values(self.path, index, rows)
            repeat = seen.add(index)
            if repeat is not None:
                raise DataError(
                    f"{self.path}: row {_csv_row(rows + repeat)} repeats index {index[repeat]}; "
                    "each index may appear once"
                )
            yield _Block(rows, index, batch.column("image1"), batch.column("image2"))
            rows += batch.num_rows
        if rows == 0:
            raise DataError(f"{self.path}: {_NO_PAIRS}")


def _read_header(path: Path, required: tuple[str, ...], rows_wanted: str) -> tuple[list[str], int]:
    """The column names of a CSV's first line, insisting on ``required`` and on a row after it.

    Returns:
        The names and the header's length in bytes.
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as file:
        first = file.readline(1 << 20)
        more = file.read(1)
    if first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first:
        raise DataError(
            f"{path}: the file is UTF-16 or UTF-32 text (NUL bytes in its first line); "
            "save it as UTF-8 (plain CSV) and try again"
        )
    text = first.decode("utf-8-sig", errors="replace").strip()
    if not text:
        raise DataError(f"{path}: the file is empty; expected a header with {', '.join(required)}")
    header = [cell.strip() for cell in next(csv.reader([text]))]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header)}")
    repeated = sorted({c for c in required if header.count(c) > 1})
    if repeated:
        raise DataError(f"{path}: column(s) {', '.join(repeated)} appear more than once in the header")
    if not more:
        raise DataError(f"{path}: {rows_wanted}")
    return header, len(first)


def _stream(
    path: Path, header: list[str], types: dict[str, pa.DataType], chunk_bytes: int, bar: Bar | None
) -> Iterator[pa.RecordBatch]:
    """Record batches of the columns in ``types``; a conversion error becomes a DataError with its row."""
    read_options = pa_csv.ReadOptions(column_names=header, skip_rows=1, block_size=chunk_bytes)
    convert_options = pa_csv.ConvertOptions(
        column_types=types,
        include_columns=list(types),
        null_values=[],  # an empty index is an error, not a null
        strings_can_be_null=False,
        true_values=_LABEL_TRUE,
        false_values=_LABEL_FALSE,
    )
    source = _CountingFile(path)
    try:
        reader = pa_csv.open_csv(source, read_options=read_options, convert_options=convert_options)
        done = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            if bar is not None:
                bar.advance(source.bytes_read - done)
                done = source.bytes_read
            yield batch
    except pa.ArrowInvalid as error:
        raise _diagnose(path, header, types, error) from None
    finally:
        source.close()


class _CountingFile(io.FileIO):
    """A file that counts the bytes Arrow has read from it, for the progress bar."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def _diagnose(path: Path, header: list[str], types: dict[str, pa.DataType], error: Exception) -> DataError:
    """Find the row behind an Arrow conversion error by re-reading the file as text (rare path)."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    read_options = pa_csv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 22)
    convert_options = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(types, pa.binary()), include_columns=list(types), null_values=[]
    )
    rows = 0
    try:
        for batch in pa_csv.open_csv(path, read_options=read_options, convert_options=convert_options):
            for name, kind in types.items():
                column = batch.column(name)
                if kind == pa.int64():
                    integer = _bool_numpy(pc.match_substring_regex(column, _INTEGER))
                    good = pc.match_substring_regex(column, _INT64)
                    first_bad = np.flatnonzero(~_bool_numpy(good))
                    # Digits that int64 cannot hold are an integer out of range, not "not an integer".
                    in_range = len(first_bad) == 0 or not integer[int(first_bad[0])]
                    expected = "an integer" if in_range else f"an integer from 0 to {MAX_INDEX}"
                elif kind == pa.bool_():
                    good = pc.is_in(column, value_set=pa.array(_LABEL_TRUE + _LABEL_FALSE, pa.binary()))
                    expected = "0 or 1"
                else:
                    try:
                        column.cast(pa.string())
                        continue
                    except pa.ArrowInvalid:
                        good = pa.array([_is_utf8(v) for v in column.to_pylist()])
                        expected = "UTF-8 text"
                bad = np.flatnonzero(~_bool_numpy(good))
                if len(bad):
                    value = column[int(bad[0])].as_py().decode("utf-8", errors="replace")
                    return DataError(
                        f"{path}: row {_csv_row(rows + int(bad[0]))} has {name}={value!r}; expected {expected}"
                    )
            rows += batch.num_rows
    except pa.ArrowInvalid as parse_error:
        message = str(parse_error).strip().splitlines()[0]
        found = _row_with_wrong_width(path, len(header))
        if found is not None:
            line, fields, text = found
            hint = "; quote a field that contains a comma" if fields > len(header) else ""
            return DataError(
                f"{path}: row {line} has {fields} fields, the header {len(header)} ({','.join(header)}): "
                f"{text[:120]!r}{hint}"
            )
    return DataError(f"{path}: not a readable CSV ({message})")


def _row_with_wrong_width(path: Path, width: int) -> tuple[int, int, str] | None:
    """The first row (editor line, field count, text) whose field count is not ``width`` (slow path)."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as file:
        reader = csv.reader(file)
        next(reader, None)
        for row in reader:
            if row and len(row) != width:
                return reader.line_num, len(row), ",".join(row)
    return None


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_index_values(path: Path, index: np.ndarray, first_row: int) -> None:
    if len(index) and (int(index.min()) < 0 or int(index.max()) > MAX_INDEX):
        row = int(np.flatnonzero((index < 0) | (index > MAX_INDEX))[0])
        raise DataError(
            f"{path}: row {_csv_row(first_row + row)} has index={index[row]}; "
            f"expected an integer from 0 to {MAX_INDEX}"
        )


class _IndexSet:
    """The indices seen so far: one bit per index value, grown by doubling up to the largest seen.

    A block whose indices increase and all exceed every earlier one (Kaggle's 0, 1, 2, ...)
    cannot repeat anything and is recorded with slice writes; other blocks are checked bit by bit.
    """

    def __init__(self) -> None:
        self._bits = np.zeros(1 << 16, dtype=np.uint8)
        self._largest = -1

    def add(self, index: np.ndarray) -> int | None:
        """Record ``index``; return the position of its first repeated value, or None."""
        if len(index) == 0:
            return None
        largest = int(index.max())
        if (largest >> 3) >= len(self._bits):
            grown = np.zeros(max((largest >> 3) + 1, 2 * len(self._bits)), dtype=np.uint8)
            grown[: len(self._bits)] = self._bits
            self._bits = grown
        increasing = bool((index[1:] > index[:-1]).all())
        first, last = int(index[0]), int(index[-1])
        if increasing and first > self._largest:
            if last - first == len(index) - 1:
                self._set_range(first, last)
            else:
                np.bitwise_or.at(self._bits, index >> 3, _bit_masks(index))
            self._largest = largest
            return None
        byte, masks = index >> 3, _bit_masks(index)
        repeated = (self._bits[byte] & masks) != 0
        if not increasing:
            order = np.argsort(index, kind="stable")
            ordered = index[order]
            repeated[order[1:][ordered[1:] == ordered[:-1]]] = True  # later copies within the block
        if repeated.any():
            return int(np.flatnonzero(repeated)[0])
        np.bitwise_or.at(self._bits, byte, masks)
        self._largest = max(self._largest, largest)
        return None

    def _set_range(self, first: int, last: int) -> None:
        low, high = first >> 3, last >> 3
        head = (0xFF << (first & 7)) & 0xFF
        tail = 0xFF >> (7 - (last & 7))
        if low == high:
            self._bits[low] |= head & tail
            return
        self._bits[low] |= head
        self._bits[low + 1 : high] = 0xFF
        self._bits[high] |= tail


def _bit_masks(index: np.ndarray) -> np.ndarray:
    return np.left_shift(np.uint8(1), (index & 7).astype(np.uint8))


# --- names -------------------------------------------------------------------------------


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
        self.names = _clean_names(pa.array(list(names), pa.string()))
        if pc.count_distinct(self.names).as_py() != len(names):
            raise ValueError("names must be distinct (in their one spelling): each image has one embedding")
        for name in names:
            problem = _name_problem(name)
            if problem is not None:
                raise ValueError(f"embedding name {name!r} {problem}")
        self.lookup = pc.SetLookupOptions(value_set=self.names)


class _NameLookup:
    """Per-block dictionary -> embedding row, recording names that have none."""

    def __init__(self, path: Path, table: _EmbeddingTable, missing: Missing) -> None:
        self.path = path
        self.table = table
        self.policy = missing
        self.missing: dict[str, None] = {}  # ordered set: first met first
        self._problem: tuple[int, str] | None = None

    def rows(self, column: pa.DictionaryArray, first_row: int) -> np.ndarray:
        """The embedding row of each pair's image, -1 where there is none."""
        dictionary = _clean_names(column.dictionary)
        found = pc.fill_null(pc.index_in(dictionary, options=self.table.lookup), -1).to_numpy()
        codes = column.indices.to_numpy()
        unknown = np.flatnonzero(found < 0)
        for position in unknown.tolist():
            name = dictionary[position].as_py()
            problem = _name_problem(name)
            if problem is None and self.policy == "fill":
                self.missing.setdefault(name)
                continue
            if problem is None:
                problem = (
                    "has no embedding (the image is missing or unreadable); restore the image, or fill "
                    "such pairs with a fixed probability (missing='fill')"
                )
            row = first_row + _first_position(column.indices, position)
            if self._problem is None or row < self._problem[0]:
                self._problem = (row, f"{self.path}: row {_csv_row(row)} names {name!r}, which {problem}")
        return found[codes]

    def raise_first_problem(self) -> None:
        """Raise for the earliest bad row of the block, across both columns."""
        if self._problem is not None:
            raise DataError(self._problem[1])


# Names that `normalise_name` would change beyond trimming: a "." or ".." part, or a doubled "/".
_UNNORMAL = r"(^|/)\.\.?(/|$)|//"


def _clean_names(dictionary: pa.Array) -> pa.Array:
    """Names in their one spelling (`normalise_name`); only the few that need it go through Python."""
    trimmed = pc.utf8_trim_whitespace(dictionary)
    unnormal = _bool_numpy(pc.match_substring_regex(trimmed, _UNNORMAL))
    if not unnormal.any():
        return trimmed
    names = trimmed.to_pylist()
    for position in np.flatnonzero(unnormal).tolist():
        names[position] = normalise_name(names[position])
    return pa.array(names, pa.string())


def _name_problem(name: str, images_dir: str | Path | None = None) -> str | None:
    """Why a name cannot be an image inside the images folder, or None when it can.

    Lexical (`painter_match.images.name_problem`), as `resolve_inside` checks before touching
    the disk; with ``images_dir`` it also runs that function, which follows symbolic links.
    """
    problem = name_problem(name)
    if problem is not None:
        return problem
    if images_dir is not None:
        try:
            resolve_inside(images_dir, name)
        except DataError:
            return f"leads outside the images folder {images_dir}"
    return None


def _first_position(indices: pa.Array, code: int) -> int:
    return int(np.flatnonzero(indices.to_numpy() == code)[0])


def _bool_numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _csv_row(row: int) -> int:
    """The line a user sees in an editor for a 0-based data row: the header is line 1."""
    return row + 2


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


# --- scores and output ---------------------------------------------------------------------


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


def _read_solution(path: Path, chunk_bytes: int) -> np.ndarray:
    """The labels of a streamed ``index,sameArtist`` file by index value: 1, 0, or -1 (not listed)."""
    header, header_bytes = _read_header(path, SOLUTION_COLUMNS, _NO_LABELS)
    labels = np.full(1 << 16, -1, dtype=np.int8)
    seen = _IndexSet()
    rows = 0
    types = {"index": pa.int64(), "sameArtist": pa.bool_()}
    for batch in _stream(path, header, types, max(chunk_bytes, header_bytes + 1), None):
        index = batch.column("index").to_numpy()
        _check_index_values(path, index, rows)
        repeat = seen.add(index)
        if repeat is not None:
            raise DataError(
                f"{path}: row {_csv_row(rows + repeat)} repeats index {index[repeat]}; each index may appear once"
            )
        if len(index) and int(index.max()) >= len(labels):
            grown = np.full(max(int(index.max()) + 1, 2 * len(labels)), -1, dtype=np.int8)
            grown[: len(labels)] = labels
            labels = grown
        labels[index] = batch.column("sameArtist").to_numpy(zero_copy_only=False)
        rows += batch.num_rows
    if rows == 0:
        raise DataError(f"{path}: {_NO_LABELS}")
    return labels


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
        row, index = _first_row_with(path, strangers)
        raise DataError(
            f"{path}: row {_csv_row(row)} has index {index}, which {pairs_path} does not list "
            f"({len(strangers):,} such rows); the solution must belong to the pairs file"
        )
    # Every listed index has a score, so the labels beyond the scores are all -1.
    aligned = np.full(len(scores.values), -1, dtype=np.int8)
    common = min(len(labels), len(aligned))
    aligned[:common] = labels[:common]
    try:
        return _roc_auc_lean(aligned, scores.values), len(listed)
    except ValueError as error:
        raise DataError(f"{path}: cannot compute ROC AUC: {error}") from None


def _first_row_with(path: Path, indices: set[int]) -> tuple[int, int]:
    """The first data row of an already checked CSV whose index is one of ``indices`` (rare path)."""
    header, header_bytes = _read_header(path, SOLUTION_COLUMNS, _NO_LABELS)
    rows = 0
    wanted = np.fromiter(indices, dtype=np.int64)
    for batch in _stream(path, header, {"index": pa.int64()}, max(1 << 22, header_bytes + 1), None):
        index = batch.column("index").to_numpy()
        hits = np.flatnonzero(np.isin(index, wanted))
        if len(hits):
            return rows + int(hits[0]), int(index[hits[0]])
        rows += batch.num_rows
    raise AssertionError(f"{path}: none of {sorted(indices)[:3]} found on a second reading")


def _roc_auc_lean(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC with ties counted half, as :func:`painter_match.metrics.roc_auc`, in less memory.

    ``metrics.roc_auc`` ranks every score in float64 and int64 arrays (about 1.1 GB at 21.9
    million pairs, which broke the 1.5 GB budget); this sorts the two classes' float32 scores
    apart and counts, for each positive, the negatives below it (twice, with and without ties)
    in exact integers.

    Args:
        labels: 1, 0, or -1 for "not labelled" (skipped).
        scores: float32 scores aligned with ``labels``.
    """
    positive = np.sort(scores[labels == 1])
    negative = np.sort(scores[labels == 0])
    if len(positive) == 0 or len(negative) == 0:
        raise ValueError("ROC AUC needs both same-artist and different-artist pairs")
    twice_u = 0
    step = 1 << 20  # bounds the int64 positions held at once
    for start in range(0, len(positive), step):
        chunk = positive[start : start + step]
        below = np.searchsorted(negative, chunk, side="left")
        below_or_tied = np.searchsorted(negative, chunk, side="right")
        twice_u += int(below.sum()) + int(below_or_tied.sum())
    return twice_u / (2 * len(positive) * len(negative))
