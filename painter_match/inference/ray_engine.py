"""The Ray engine: ``embed`` as a Ray Data pipeline, for collections one machine cannot embed in time.

The same decode -> views -> model -> normalise pipeline as the local engine, on a Ray cluster:
`ray.data.from_items` of the images' relative paths, then ``map_batches`` on a pool of actors
(`_Embedder`), each of which opens ONE onnxruntime session when it starts and reuses it for every
batch, with the project's own decoding and views (`OnnxEncoder.pixels`) and view averaging
(`OnnxEncoder.embed_pixels`), so the vectors are the local engine's. Actors ask for a GPU each
(``num_gpus_per_actor``) and then run the CUDA provider. The images and the model must be at the
same path on every node (a shared file system). Ray is an optional extra: without it the engine
says how to install it. `RayEncoder` plugs the engine into `painter_match.inference.folder.embed_folder`,
so an ``--engine ray`` run writes the same embeddings file, resumably, as a local one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from painter_match.data.images import DEFAULT_MAX_PIXELS
from painter_match.data.views import Views
from painter_match.errors import ImageLoadError, PainterMatchError
from painter_match.inference.encoder import DEFAULT_BATCH_SIZE, EncodedBatch, Failure, OnnxEncoder
from painter_match.inference.model import LoadedModel, open_model

INSTALL_LINE = 'pip install "painter-match[ray]"'


def import_ray() -> Any:
    """The ``ray`` module (with Ray Data), or a one-line error that says how to install it.

    Raises:
        PainterMatchError: Ray or Ray Data is not installed.
    """
    try:
        import ray
        import ray.data  # noqa: F401  (Ray without its data extra lacks it)
    except ImportError as err:
        raise PainterMatchError(
            f"the Ray engine needs Ray Data, which is not installed ({err}); install it with: {INSTALL_LINE}"
        ) from None
    return ray


class _Embedder:
    """A Ray actor: one onnxruntime session for its whole life, the project's decoding and views."""

    def __init__(
        self,
        model_path: str,
        root: str,
        views: Views,
        max_pixels: int,
        provider: str,
        threads: int | None,
    ) -> None:
        model = open_model(model_path, provider=provider, threads=threads)
        self.encoder = OnnxEncoder(model, views=views, workers=1, max_pixels=max_pixels)
        self.root = Path(root) if root else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [str(p) for p in batch["path"].tolist()]
        pixels: list[np.ndarray] = []
        good: list[int] = []
        causes = [""] * len(names)
        for row, name in enumerate(names):
            try:
                pixels.append(self.encoder.pixels(self.root / name if self.root else name))
            except ImageLoadError as err:
                causes[row] = err.cause
            else:
                good.append(row)
        vectors = np.full((len(names), self.encoder.dim), np.nan, dtype=np.float32)
        if pixels:
            vectors[good] = self.encoder.embed_pixels(pixels)
        return {
            "index": np.asarray(batch["index"], dtype=np.int64),
            "vector": vectors,
            "cause": np.array(causes),
        }


def _cluster_slots(ray: Any, num_gpus_per_actor: float) -> int:
    """Actors the cluster can hold at once: one per CPU, or per ``num_gpus_per_actor`` GPUs."""
    resources = ray.cluster_resources()
    if num_gpus_per_actor > 0:
        return max(1, int(resources.get("GPU", 0) // num_gpus_per_actor))
    return max(1, int(resources.get("CPU", 1)))


class RayEncoder(OnnxEncoder):
    """An `OnnxEncoder` whose `iter_encode` runs on a Ray cluster (see the module docstring).

    ``model`` is opened here too, for its contract (the embeddings file records it); the actors
    open their own sessions of the same file.

    Args:
        model: the open model (its ``path`` is what the actors open).
        views: the view policy; None means the model's default.
        batch_size: images per actor call.
        address: an existing cluster to join (``ray://...`` or ``HOST:PORT``, or ``auto``); None
            starts a local Ray unless this process already has one.
        num_cpus: CPUs of a local Ray that this starts (None: all of them).
        num_gpus_per_actor: GPUs each actor asks for; above 0 the actors run CUDA.
        concurrency: actors in the pool; None means as many as the cluster holds.
        max_pixels: the largest image to decode (as the local engine).
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        views: Views | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        address: str | None = None,
        num_cpus: int | None = None,
        num_gpus_per_actor: float = 0,
        concurrency: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        super().__init__(model, views=views, batch_size=batch_size, workers=1, max_pixels=max_pixels)
        if num_gpus_per_actor < 0:
            raise ValueError(f"num_gpus_per_actor must be 0 or more, got {num_gpus_per_actor}")
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.ray = import_ray()
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus_per_actor = num_gpus_per_actor
        self.concurrency = concurrency

    def iter_encode(self, paths: Iterable[str | Path]) -> Iterator[EncodedBatch]:
        """Embed files on the cluster, batch by batch, in input order."""
        # Absolute, since the actors' working folder is not this process's.
        items = [str(Path(p).absolute()) for p in paths]
        yield from self._run(items, root="")

    def _run(self, names: Sequence[str], root: str) -> Iterator[EncodedBatch]:
        ray = self.ray
        started_here = False
        if not ray.is_initialized():
            if self.address is not None:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False)
            started_here = True
        try:
            if not names:
                return
            context = ray.data.DataContext.get_current()
            context.execution_options.preserve_order = True  # batches come back in input order
            if hasattr(context, "enable_progress_bars"):
                context.enable_progress_bars = False  # embed draws its own
            gpus = self.num_gpus_per_actor
            pool = self.concurrency or _cluster_slots(ray, gpus)
            dataset = ray.data.from_items([{"index": i, "path": name} for i, name in enumerate(names)])
            embedded = dataset.map_batches(
                _Embedder,
                fn_constructor_kwargs={
                    "model_path": str(Path(self.model.path).resolve()),
                    "root": root,
                    "views": self.views,
                    "max_pixels": self.max_pixels,
                    "provider": "cuda" if gpus > 0 else "cpu",
                    "threads": None if gpus > 0 else 1,
                },
                batch_size=self.batch_size,
                batch_format="numpy",
                concurrency=pool,
                num_cpus=1,
                num_gpus=gpus,
            )
            for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
                yield _encoded(batch, names)
        finally:
            if started_here:
                ray.shutdown()


def _encoded(batch: dict[str, np.ndarray], names: Sequence[str]) -> EncodedBatch:
    """One Ray output batch as the local engine's `EncodedBatch`."""
    index = np.asarray(batch["index"], dtype=np.int64)
    vectors = np.asarray(batch["vector"], dtype=np.float32).reshape(len(index), -1)
    causes = [str(c) for c in batch["cause"].tolist()]
    ok = np.asarray([not c for c in causes], dtype=bool)
    failures = [Failure(int(i), names[int(i)], cause) for i, cause in zip(index.tolist(), causes) if cause]
    return EncodedBatch(
        start=int(index.min()) if len(index) else 0,
        stop=int(index.max()) + 1 if len(index) else 0,
        indices=index[ok],
        vectors=vectors[ok],
        failures=failures,
    )


def embed_with_ray(
    model_path: str | Path,
    image_paths: Sequence[str],
    root: str | Path,
    *,
    views: Views | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus_per_actor: float = 0,
    concurrency: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[list[str], np.ndarray, list[Failure]]:
    """Embed images on Ray: what the local engine gives, from a cluster.

    Args:
        model_path: the painter-match ``.onnx`` (at this path on every node).
        image_paths: the images, relative to ``root`` (POSIX).
        root: their folder (at this path on every node).
        views: the view policy; None means the model's default.
        batch_size: images per actor call.
        address: a cluster to join; None starts a local Ray unless one is running.
        num_cpus: CPUs of the local Ray this starts.
        num_gpus_per_actor: GPUs each actor asks for (then the actors run CUDA).
        concurrency: actors in the pool; None means as many as the cluster holds.
        max_pixels: the largest image to decode.

    Returns:
        The relative paths embedded (in input order), their float32 ``[N, D]`` unit vectors, and
        the images that could not be read (``index`` into ``image_paths``).

    Raises:
        PainterMatchError: Ray is not installed (the message has the pip line), or the model
            cannot be opened.
    """
    import_ray()
    model = open_model(model_path, provider="cpu", threads=1)
    encoder = RayEncoder(
        model,
        views=views,
        batch_size=batch_size,
        address=address,
        num_cpus=num_cpus,
        num_gpus_per_actor=num_gpus_per_actor,
        concurrency=concurrency,
        max_pixels=max_pixels,
    )
    names = list(image_paths)
    paths: list[str] = []
    vectors: list[np.ndarray] = []
    failures: list[Failure] = []
    for batch in encoder._run(names, root=str(Path(root).resolve())):
        paths.extend(names[i] for i in batch.indices.tolist())
        vectors.append(batch.vectors)
        failures.extend(batch.failures)
    dim = model.info.embedding_dim
    stacked = np.concatenate(vectors) if vectors else np.empty((0, dim), dtype=np.float32)
    return paths, stacked, failures
