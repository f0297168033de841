"""The scoring engine's threads: read the next block while this one is scored, write the last one behind.

Three stages overlap in `painter_match.inference.scoring.engine.score_pairs`: a thread reads and checks
the next block (Arrow parses in the calling thread), the caller scores, and a thread formats and
writes the previous block; each hand-over holds one block, so memory stays a few blocks however
long the file is.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

import pyarrow as pa
import pyarrow.csv as pa_csv

_T = TypeVar("_T")


def prefetched(items: Iterator[_T], pool: ThreadPoolExecutor) -> Generator[_T, None, None]:
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


class BackgroundWriter:
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
