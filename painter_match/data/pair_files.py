"""The competition's pair files, read one way everywhere: ``index,image1,image2`` and ``index,sameArtist``.

Kaggle's ``submission_info.csv`` lists 21.9 million pairs over 23,817 images, so the files are
read in blocks with Arrow's streaming CSV reader (names dictionary-encoded per block, so only the
few thousand distinct names of a block are looked at, never 21.9 million strings). Every row is
checked on the way: the columns, integer indices from 0 to `MAX_INDEX` that appear once (one bit
per index value), labels that are 0 or 1 (``true``/``false`` in any usual spelling too), and
image names in their one spelling (`painter_match.data.images.normalise_name`) that stay inside
the images folder; an error names the file and the row. `PairBlocks` and `read_solution_labels`
are what the scoring engine (`painter_match.inference.scoring.engine`) streams; `read_submission_info`
and `read_solution` give the same checked rows as tables, for evaluation.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from painter_match.data.images import name_problem as _lexical_name_problem
from painter_match.data.images import normalise_name, resolve_inside
from painter_match.errors import DataError
from painter_match.input_files import input_file_problem, pipe_advice
from painter_match.progress import Bar

PAIRS_COLUMNS = ("index", "image1", "image2")
SOLUTION_COLUMNS = ("index", "sameArtist")

# Bytes of CSV per block. Arrow's streaming reader holds about 35 blocks' worth of buffers at
# its peak (measured: 4 MiB -> 156 MB pool, 16 MiB -> 530 MB), and 4 MiB (~150k Kaggle rows)
# is already large enough that the per-block Python work is a few percent of the run.
DEFAULT_CHUNK_BYTES = 4 << 20

# One bit per index value: the largest accepted index costs 256 MiB of bitmap at worst, and the
# Kaggle file (indices 0..21,916,046) costs 2.7 MB.
MAX_INDEX = 2**31 - 1

_INTEGER = r"^\s*-?[0-9]+\s*$"
_INT64 = r"^\s*-?[0-9]{1,18}\s*$"  # surely within int64; longer digit strings may not be
NO_PAIRS = "no pairs listed, only a header; expected rows of index,image1,image2"
NO_LABELS = "no rows, only a header; expected rows of index,sameArtist"
_LABEL_TRUE = ["1", "1.0", "True", "true", "TRUE"]
_LABEL_FALSE = ["0", "0.0", "False", "false", "FALSE"]


@dataclass(frozen=True)
class Block:
    first_row: int  # 0-based data row of the block's first row
    index: np.ndarray  # int64
    image1: pa.DictionaryArray
    image2: pa.DictionaryArray


class PairBlocks:
    """Validated blocks of a pairs file: columns present, indices integer, in range and unique."""

    def __init__(self, path: Path, chunk_bytes: int, bar: Bar | None = None) -> None:
        self.path = path
        self.chunk_bytes = chunk_bytes
        self.bar = bar

    def __iter__(self) -> Iterator[Block]:
        header, header_bytes = read_header(self.path, PAIRS_COLUMNS, NO_PAIRS)
        names = pa.dictionary(pa.int32(), pa.string())
        types = {"index": pa.int64(), "image1": names, "image2": names}
        seen = IndexSet()
        rows = 0
        # Arrow skips the header inside the first block, so a block must hold it.
        block_bytes = max(self.chunk_bytes, header_bytes + 1)
        for batch in stream(self.path, header, types, block_bytes, self.bar):
            index = batch.column("index").to_numpy()
            _check_index_values(self.path, index, rows)
            repeat = seen.add(index)
            if repeat is not None:
                raise DataError(
                    f"{self.path}: row {csv_row(rows + repeat)} repeats index {index[repeat]}; "
                    "each index may appear once"
                )
            yield Block(rows, index, batch.column("image1"), batch.column("image2"))
            rows += batch.num_rows
        if rows == 0:
            raise DataError(f"{self.path}: {NO_PAIRS}")


def read_header(path: Path, required: tuple[str, ...], rows_wanted: str) -> tuple[list[str], int]:
    """The column names of a CSV's first line, insisting on ``required`` and on a row after it.

    Returns:
        The names and the header's length in bytes.
    """
    problem = input_file_problem(path)
    if problem is not None:
        # A pipe (`<(cat pairs.csv)`, a FIFO) is refused before it is opened: the file is read
        # more than once, and opening a FIFO nobody writes to would wait forever.
        raise DataError(
            f"{path}: {'file not found' if problem == 'not found' else problem}{pipe_advice(problem)}"
        )
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
    try:
        header = [cell.strip() for cell in next(csv.reader([text]))]
    except csv.Error as error:  # a lone carriage return, say: Arrow would split the line there
        raise DataError(
            f"{path}: the header line cannot be read as CSV ({error}); expected {','.join(required)} on the "
            "first line, ended by a newline"
        ) from None
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header)}")
    repeated = sorted({c for c in required if header.count(c) > 1})
    if repeated:
        raise DataError(f"{path}: column(s) {', '.join(repeated)} appear more than once in the header")
    if not more:
        raise DataError(f"{path}: {rows_wanted}")
    return header, len(first)


def stream(
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
                    integer = bool_numpy(pc.match_substring_regex(column, _INTEGER))
                    good = pc.match_substring_regex(column, _INT64)
                    first_bad = np.flatnonzero(~bool_numpy(good))
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
                bad = np.flatnonzero(~bool_numpy(good))
                if len(bad):
                    value = column[int(bad[0])].as_py().decode("utf-8", errors="replace")
                    return DataError(
                        f"{path}: row {csv_row(rows + int(bad[0]))} has {name}={value!r}; expected {expected}"
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
            f"{path}: row {csv_row(first_row + row)} has index={index[row]}; "
            f"expected an integer from 0 to {MAX_INDEX}"
        )


class IndexSet:
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


_UNNORMAL = r"(^|/)\.\.?(/|$)|//|/$"  # also a trailing slash: normalise_name drops it


def clean_names(dictionary: pa.Array) -> pa.Array:
    """Names in their one spelling (`normalise_name`); only the few that need it go through Python."""
    trimmed = pc.utf8_trim_whitespace(dictionary)
    unnormal = bool_numpy(pc.match_substring_regex(trimmed, _UNNORMAL))
    if not unnormal.any():
        return trimmed
    names = trimmed.to_pylist()
    for position in np.flatnonzero(unnormal).tolist():
        names[position] = normalise_name(names[position])
    return pa.array(names, pa.string())


def name_problem(name: str, images_dir: str | Path | None = None) -> str | None:
    """Why a name cannot be an image inside the images folder, or None when it can.

    Lexical (`painter_match.images.name_problem`), as `resolve_inside` checks before touching
    the disk; with ``images_dir`` it also runs that function, which follows symbolic links.
    """
    problem = _lexical_name_problem(name)
    if problem is not None:
        return problem
    if images_dir is not None:
        try:
            resolve_inside(images_dir, name)
        except DataError:
            return f"leads outside the images folder {images_dir}"
    return None


class MissingNames:
    """Distinct names seen without an embedding: how many, and the first few, in bounded memory.

    A 10-million-row pairs file whose names are mostly unknown held every one of them (2.1 GB at
    its peak, against 250 MB when they are known). Here each distinct name costs 8 bytes (a 64-bit
    hash), and only the first ``examples`` are kept as text. The hashes gather in a fixed buffer
    and are deduplicated into sorted runs merged as in a log-structured merge (each run at most
    half the size of the one before), so the work stays O(n log n) however many names there are.
    Two distinct names whose hashes collide would count once: at 10 million names, a chance of
    about 1 in 200,000.
    """

    _BUFFER = 1 << 16  # hashes gathered between two deduplications (512 KiB)

    def __init__(self, examples: int = 5) -> None:
        self.examples: list[str] = []
        self._keep = examples
        self._buffer = np.empty(self._BUFFER, dtype=np.int64)
        self._filled = 0
        self._runs: list[np.ndarray] = []  # sorted, distinct; sizes shrink along the list

    def add(self, name: str) -> None:
        """Record ``name`` (again or for the first time)."""
        if len(self.examples) < self._keep and name not in self.examples:
            self.examples.append(name)
        self._buffer[self._filled] = hash(name)
        self._filled += 1
        if self._filled == self._BUFFER:
            self._flush()

    def _flush(self) -> None:
        if not self._filled:
            return
        run = np.unique(self._buffer[: self._filled])
        self._filled = 0
        while self._runs and self._runs[-1].size <= 2 * run.size:
            run = np.union1d(self._runs.pop(), run)
        self._runs.append(run)

    def __len__(self) -> int:
        """How many distinct names were recorded."""
        self._flush()
        while len(self._runs) > 1:
            last = self._runs.pop()
            self._runs[-1] = np.union1d(self._runs[-1], last)
        return int(self._runs[0].size) if self._runs else 0

    def __iter__(self) -> Iterator[str]:
        """The first few names recorded, in the order met."""
        return iter(list(self.examples))


def first_position(indices: pa.Array, code: int) -> int:
    return int(np.flatnonzero(indices.to_numpy() == code)[0])


def bool_numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def csv_row(row: int) -> int:
    """The line a user sees in an editor for a 0-based data row: the header is line 1."""
    return row + 2


def file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def read_solution_labels(path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """The labels of a streamed ``index,sameArtist`` file by index value: 1, 0, or -1 (not listed)."""
    header, header_bytes = read_header(path, SOLUTION_COLUMNS, NO_LABELS)
    labels = np.full(1 << 16, -1, dtype=np.int8)
    seen = IndexSet()
    rows = 0
    types = {"index": pa.int64(), "sameArtist": pa.bool_()}
    for batch in stream(path, header, types, max(chunk_bytes, header_bytes + 1), None):
        index = batch.column("index").to_numpy()
        _check_index_values(path, index, rows)
        repeat = seen.add(index)
        if repeat is not None:
            raise DataError(
                f"{path}: row {csv_row(rows + repeat)} repeats index {index[repeat]}; each index may appear once"
            )
        if len(index) and int(index.max()) >= len(labels):
            grown = np.full(max(int(index.max()) + 1, 2 * len(labels)), -1, dtype=np.int8)
            grown[: len(labels)] = labels
            labels = grown
        labels[index] = batch.column("sameArtist").to_numpy(zero_copy_only=False)
        rows += batch.num_rows
    if rows == 0:
        raise DataError(f"{path}: {NO_LABELS}")
    return labels


def first_row_with(path: Path, indices: set[int]) -> tuple[int, int]:
    """The first data row of an already checked CSV whose index is one of ``indices`` (rare path)."""
    header, header_bytes = read_header(path, SOLUTION_COLUMNS, NO_LABELS)
    rows = 0
    wanted = np.fromiter(indices, dtype=np.int64)
    for batch in stream(path, header, {"index": pa.int64()}, max(1 << 22, header_bytes + 1), None):
        index = batch.column("index").to_numpy()
        hits = np.flatnonzero(np.isin(index, wanted))
        if len(hits):
            return rows + int(hits[0]), int(index[hits[0]])
        rows += batch.num_rows
    raise AssertionError(f"{path}: none of {sorted(indices)[:3]} found on a second reading")


def read_submission_info(path: str | Path, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> pd.DataFrame:
    """Read a Kaggle pairs file (``index,image1,image2``), checked row by row as the scorer checks it.

    Returns:
        Columns ``index`` (int64), ``image1``, ``image2`` (names in their one spelling), in file order.

    Raises:
        DataError: naming the file and row, for anything `PairBlocks` refuses or a bad image name.
    """
    csv_path = Path(path)
    frames = []
    for block in PairBlocks(csv_path, chunk_bytes):
        columns: dict[str, np.ndarray] = {}
        problems: list[tuple[int, str]] = []
        for column_name, column in (("image1", block.image1), ("image2", block.image2)):
            dictionary = clean_names(column.dictionary)
            for position, name in enumerate(dictionary.to_pylist()):
                problem = name_problem(name)
                if problem is not None:
                    row = block.first_row + first_position(column.indices, position)
                    problems.append((row, f"{csv_path}: row {csv_row(row)} names {name!r}, which {problem}"))
            columns[column_name] = np.asarray(dictionary.take(column.indices).to_pylist(), dtype=object)
        if problems:
            raise DataError(min(problems)[1])  # the earliest row, whichever column it is in
        frames.append(pd.DataFrame({"index": block.index, **columns}))
    return pd.concat(frames, ignore_index=True)


def read_solution(path: str | Path, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> pd.DataFrame:
    """Read ground truth (``index,sameArtist``), checked as the scorer checks it.

    Returns:
        Columns ``index`` (int64) and ``sameArtist`` (int8, 0 or 1), by index.
    """
    labels = read_solution_labels(Path(path), chunk_bytes)
    index = np.flatnonzero(labels >= 0)
    return pd.DataFrame({"index": index.astype(np.int64), "sameArtist": labels[index].astype(np.int8)})
