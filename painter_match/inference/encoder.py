"""Image files -> L2-normalised embeddings, with decoding overlapped with inference.

A pool of decode threads turns files into the model's views (`views.view_pixels`) a few batches
ahead of the model, while onnxruntime runs the current batch in the calling thread; Pillow and
onnxruntime both release the GIL, so decoding and inference proceed at once and neither waits on
the other. Results come back in input order. A file that cannot be decoded is reported as a
`Failure`, never raised, so one bad painting does not stop a run over thousands.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from painter_match.data.images import DEFAULT_MAX_PIXELS, to_rgb
from painter_match.data.painting_finder import FoundPainting, check_edge, check_mode
from painter_match.data.views import Views, found_view_pixels
from painter_match.errors import ImageLoadError
from painter_match.inference.inputs import ImageInput, describe, item_views
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
        paintings: what was done to find the painting in each embedded image, row k for
            ``indices[k]`` (`painting_finder.FoundPainting`); empty when ``find_painting`` is off.
    """

    start: int
    stop: int
    indices: np.ndarray
    vectors: np.ndarray
    failures: list[Failure]
    paintings: list[FoundPainting] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Images covered, embedded or failed."""
        return self.stop - self.start


def _as_float32(vectors: np.ndarray) -> np.ndarray:
    return np.asarray(vectors, dtype=np.float32)


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
        normalize: scale each image's embedding (the mean of its views') to unit length; False
            keeps the mean as it is (shorter than one when the views disagree).
        find_painting: look for the painting in each image and embed only it
            (`painter_match.data.painting_finder`): ``"auto"`` crops a painting on a wall and
            leaves catalogue images and cropped photos whole, ``"on"`` crops whatever outline is
            found, ``"off"`` (the default here) embeds the whole image.
        painting_edge: ``"frame"`` (the frame's outer edge) or ``"canvas"`` (inside the frame).
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
        normalize: bool = True,
        find_painting: str = "off",
        painting_edge: str = "frame",
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
        self.normalize = normalize
        self.find_painting = check_mode(find_painting)
        self.painting_edge = check_edge(painting_edge)

    @property
    def dim(self) -> int:
        """The embedding length D."""
        return self.model.info.embedding_dim

    def pixels(self, image: ImageInput) -> np.ndarray:
        """The uint8 ``[1 + crops, S, S, 3]`` views of one file, PIL image or uint8 array
        (`painter_match.inference.inputs`; a file that cannot be decoded raises `ImageLoadError`)."""
        return item_views(image, self.model.info.input_size, self.views, max_pixels=self.max_pixels)

    def pixels_found(self, image: ImageInput) -> tuple[np.ndarray, FoundPainting | None]:
        """`pixels` after looking for the painting (``find_painting``), and the record of what was
        done (None when ``find_painting`` is off)."""
        if self.find_painting == "off":
            return self.pixels(image), None
        source: str | Path | Image.Image
        if isinstance(image, np.ndarray):
            pixels = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
            source = to_rgb(Image.fromarray(np.ascontiguousarray(pixels)))
        elif isinstance(image, Image.Image):
            source = to_rgb(image)
        else:
            source = Path(image)
        return found_view_pixels(
            source,
            self.model.info.input_size,
            self.views,
            find_painting=self.find_painting,
            edge=self.painting_edge,
            max_pixels=self.max_pixels,
        )

    def embed_pixels(self, views: Sequence[np.ndarray]) -> np.ndarray:
        """Embed already-decoded images: one ``[V, S, S, 3]`` array each -> float32 ``[N, D]``.

        An image's embedding is the mean of its views' embeddings, normalised (``normalize``).
        """
        finish = normalise if self.normalize else _as_float32
        if not views:
            return np.empty((0, self.dim), dtype=np.float32)
        counts = [v.shape[0] for v in views]
        out = np.asarray(self.model.run(np.concatenate(views, axis=0)), dtype=np.float32)
        if out.ndim != 2 or out.shape != (sum(counts), self.dim):
            raise ValueError(
                f"{self.model.path}: expected embeddings of shape {(sum(counts), self.dim)}, got {out.shape}"
            )
        if all(c == 1 for c in counts):
            return finish(out)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return finish(np.add.reduceat(out, starts, axis=0) / np.asarray(counts, dtype=np.float32)[:, None])

    def iter_encode(self, paths: Iterable[str | Path]) -> Iterator[EncodedBatch]:
        """Embed files batch by batch, in input order, decoding ahead while the model runs
        (`iter_images`; an engine that embeds files elsewhere, such as Ray's, overrides this).

        Closing the iterator early (or an exception in the consumer) cancels the decodes not yet
        started and waits for the few already running.
        """
        yield from self.iter_images(paths)

    def iter_images(self, images: Iterable[ImageInput]) -> Iterator[EncodedBatch]:
        """Embed images (files, PIL images or uint8 arrays) batch by batch, in input order,
        decoding ahead in threads while the model runs in this one."""
        items = [p if isinstance(p, (Image.Image, np.ndarray)) else str(p) for p in images]
        total = len(items)
        window = self.batch_size * (self.prefetch + 1)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="decode") as pool:
            pending: deque[Future[tuple[np.ndarray, FoundPainting | None]]] = deque()
            submitted = 0

            def fill() -> None:
                nonlocal submitted
                while submitted < total and len(pending) < window:
                    pending.append(pool.submit(self.pixels_found, items[submitted]))
                    submitted += 1

            try:
                for start in range(0, total, self.batch_size):
                    fill()
                    stop = min(start + self.batch_size, total)
                    futures = [pending.popleft() for _ in range(stop - start)]
                    fill()  # the workers decode the next batches while this one waits and runs
                    good: list[int] = []
                    pixels: list[np.ndarray] = []
                    paintings: list[FoundPainting] = []
                    failures: list[Failure] = []
                    for index, future in zip(range(start, stop), futures):
                        try:
                            views, found = future.result()
                        except ImageLoadError as err:
                            failures.append(Failure(index, describe(items[index]), err.cause))
                        else:
                            good.append(index)
                            pixels.append(views)
                            if found is not None:
                                paintings.append(found)
                    yield EncodedBatch(
                        start=start,
                        stop=stop,
                        indices=np.asarray(good, dtype=np.int64),
                        vectors=self.embed_pixels(pixels),
                        failures=failures,
                        paintings=paintings,
                    )
            finally:
                for future in pending:
                    future.cancel()

    def encode(
        self,
        paths: Sequence[ImageInput],
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[Failure]]:
        """Embed every image.

        Args:
            paths: the image files (or PIL images, or uint8 ``[H, W, 3]`` arrays).
            on_progress: called with the number of images finished after each batch.

        Returns:
            float32 ``[len(paths), D]`` unit vectors in input order (rows of failed images are
            NaN, so they can never pass for a real similarity), and the failures.
        """
        vectors, failures, _ = self.encode_with_paintings(paths, on_progress=on_progress)
        return vectors, failures

    def encode_with_paintings(
        self,
        paths: Sequence[ImageInput],
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[Failure], list[FoundPainting | None]]:
        """`encode`, and for each input what was done to find its painting: a
        `painting_finder.FoundPainting`, or None for a failed image or with ``find_painting`` off."""
        paintings: list[FoundPainting | None] = [None] * len(paths)
        vectors = np.full((len(paths), self.dim), np.nan, dtype=np.float32)
        failures: list[Failure] = []
        files = [p if isinstance(p, str) else Path(p) for p in paths if isinstance(p, (str, os.PathLike))]
        # Files go through iter_encode (which another engine may run elsewhere); images in memory
        # can only be embedded here.
        batches = self.iter_encode(files) if len(files) == len(paths) else self.iter_images(paths)
        for batch in batches:
            vectors[batch.indices] = batch.vectors
            failures.extend(batch.failures)
            for index, found in zip(batch.indices.tolist(), batch.paintings):
                paintings[index] = found
            if on_progress is not None:
                on_progress(batch.count)
        return vectors, failures, paintings
