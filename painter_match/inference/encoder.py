"""Image files -> L2-normalised embeddings, with decoding overlapped with inference.

A pool of decode threads turns files into the model's views (`views.view_pixels`) a few batches
ahead of the model, while onnxruntime runs the current batch in the calling thread; Pillow and
onnxruntime both release the GIL, so decoding and inference proceed at once and neither waits on
the other. Results come back in input order. A file that cannot be decoded is reported as a
`Failure`, never raised, so one bad painting does not stop a run over thousands.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from painter_match.data.images import DEFAULT_MAX_PIXELS
from painter_match.data.views import Views, view_pixels
from painter_match.errors import ImageLoadError
from painter_match.inference.model import LoadedModel
from painter_match.workers import worker_count

DEFAULT_BATCH_SIZE = 32
# Batches decoded ahead of the one the model is running: enough to ride out a slow (large) file,
# few enough that memory stays at a handful of batches of pixels.
DEFAULT_PREFETCH = 2


@dataclass(frozen=True)
class Failure:
    """One image that could not be embedded: its position in the input, its path and why."""

    index: int
    path: str
    cause: str


@dataclass
class EncodedBatch:
    """The embeddings of one batch of consecutive input images.

    Attributes:
        start, stop: the input positions this batch covers, ``[start, stop)``.
        indices: int64 input positions of the images that were embedded, ascending.
        vectors: float32 ``[len(indices), D]`` unit vectors, row k for ``indices[k]``.
        failures: the images of ``[start, stop)`` that could not be decoded.
    """

    start: int
    stop: int
    indices: np.ndarray
    vectors: np.ndarray
    failures: list[Failure]

    @property
    def count(self) -> int:
        """Images covered, embedded or failed."""
        return self.stop - self.start


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class OnnxEncoder:
    """Embeds image files with one painter-match model session.

    Args:
        model: an open model (`model.open_model`), used for every batch.
        views: the view policy; None means the model's default (``model.info.views``).
        batch_size: images per onnxruntime call (each image contributes ``1 + views.crops``
            rows to the call).
        workers: images decoded at once, in threads (`painter_match.workers`); None means one
            per core.
        prefetch: batches decoded ahead of the one being embedded.
        max_pixels: the most pixels one image may decode to (`images.load_image`); larger
            images fail as unreadable.
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        views: Views | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int | None = None,
        prefetch: int = DEFAULT_PREFETCH,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if prefetch < 0:
            raise ValueError(f"prefetch must be 0 or more, got {prefetch}")
        if max_pixels < 1:
            raise ValueError(f"max_pixels must be at least 1, got {max_pixels}")
        self.model = model
        self.views = views if views is not None else model.info.views
        self.batch_size = batch_size
        self.workers = worker_count(workers)
        self.prefetch = prefetch
        self.max_pixels = max_pixels

    @property
    def dim(self) -> int:
        """The embedding length D."""
        return self.model.info.embedding_dim

    def pixels(self, path: str | Path) -> np.ndarray:
        """The uint8 ``[1 + crops, S, S, 3]`` views of one file (raises `ImageLoadError`)."""
        return view_pixels(path, self.model.info.input_size, self.views, max_pixels=self.max_pixels)

    def embed_pixels(self, views: Sequence[np.ndarray]) -> np.ndarray:
        """Embed already-decoded images: one ``[V, S, S, 3]`` array each -> float32 ``[N, D]``.

        An image's embedding is the normalised mean of its views' embeddings.
        """
        if not views:
            return np.empty((0, self.dim), dtype=np.float32)
        counts = [v.shape[0] for v in views]
        out = np.asarray(self.model.run(np.concatenate(views, axis=0)), dtype=np.float32)
        if out.ndim != 2 or out.shape != (sum(counts), self.dim):
            raise ValueError(
                f"{self.model.path}: expected embeddings of shape {(sum(counts), self.dim)}, got {out.shape}"
            )
        if all(c == 1 for c in counts):
            return normalise(out)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return normalise(np.add.reduceat(out, starts, axis=0) / np.asarray(counts, dtype=np.float32)[:, None])

    def iter_encode(self, paths: Iterable[str | Path]) -> Iterator[EncodedBatch]:
        """Embed files batch by batch, in input order, decoding ahead while the model runs.

        Closing the iterator early (or an exception in the consumer) cancels the decodes not yet
        started and waits for the few already running.
        """
        items = [str(p) for p in paths]
        total = len(items)
        window = self.batch_size * (self.prefetch + 1)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="decode") as pool:
            pending: deque[Future[np.ndarray]] = deque()
            submitted = 0

            def fill() -> None:
                nonlocal submitted
                while submitted < total and len(pending) < window:
                    pending.append(pool.submit(self.pixels, items[submitted]))
                    submitted += 1

            try:
                for start in range(0, total, self.batch_size):
                    fill()
                    stop = min(start + self.batch_size, total)
                    futures = [pending.popleft() for _ in range(stop - start)]
                    fill()  # the workers decode the next batches while this one waits and runs
                    good: list[int] = []
                    pixels: list[np.ndarray] = []
                    failures: list[Failure] = []
                    for index, future in zip(range(start, stop), futures):
                        try:
                            pixels.append(future.result())
                        except ImageLoadError as err:
                            failures.append(Failure(index, items[index], err.cause))
                        else:
                            good.append(index)
                    yield EncodedBatch(
                        start=start,
                        stop=stop,
                        indices=np.asarray(good, dtype=np.int64),
                        vectors=self.embed_pixels(pixels),
                        failures=failures,
                    )
            finally:
                for future in pending:
                    future.cancel()

    def encode(
        self,
        paths: Sequence[str | Path],
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[Failure]]:
        """Embed every file.

        Args:
            paths: the image files.
            on_progress: called with the number of images finished after each batch.

        Returns:
            float32 ``[len(paths), D]`` unit vectors in input order (rows of failed images are
            NaN, so they can never pass for a real similarity), and the failures.
        """
        vectors = np.full((len(paths), self.dim), np.nan, dtype=np.float32)
        failures: list[Failure] = []
        for batch in self.iter_encode(paths):
            vectors[batch.indices] = batch.vectors
            failures.extend(batch.failures)
            if on_progress is not None:
                on_progress(batch.count)
        return vectors, failures
