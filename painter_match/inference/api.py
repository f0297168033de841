"""The Python API's model: one ONNX Runtime session that embeds paintings and compares them.

`load` resolves the model (`painter_match.inference.model.resolve_model`), opens it once with
the project's thread default, and returns a `Model`, whose methods are what the commands do:
`Model.embed` (sentence-transformers-style: one image in, one vector out; a list in, a matrix
out), `Model.same_artist` (``verify``, returning a `SameArtist`), `Model.embed_folder`
(``embed``, resumable) and `Model.score_pairs` (``score --images``). Every embedding option
(views, batch size, decode threads, largest image) goes through `Model.encoder`, the one place
that also checks memory. The methods hold the documentation and the defaults; the work of the
larger ones lives beside them (`painter_match.inference.verify_pair` for `Model.same_artist`,
`painter_match.inference.folder` and `painter_match.inference.scoring.submission` for the two
jobs over files), so that this class reads as the API it is. numpy, Pillow and ONNX Runtime only:
no torch.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from painter_match.data.images import DEFAULT_MAX_PIXELS
from painter_match.data.views import Views
from painter_match.errors import UsageError
from painter_match.inference.encode_list import encode_list
from painter_match.inference.encoder import DEFAULT_BATCH_SIZE, OnnxEncoder
from painter_match.inference.inputs import ImageInput, image_list
from painter_match.inference.model import LoadedModel, ModelChoice, ModelInfo, open_model, resolve_model
from painter_match.inference.runtime import check_memory, choose_views, default_threads
from painter_match.inference.verdict import SameArtist
from painter_match.inference.verify_pair import verify_pair

if TYPE_CHECKING:
    from painter_match.inference.embeddings import Embeddings
    from painter_match.inference.folder import EmbedFolderResult
    from painter_match.inference.reference.set import Reference
    from painter_match.inference.scoring.engine import Missing, ScoreSummary

_GPU_PROVIDERS = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


class ProviderFallbackWarning(RuntimeWarning):
    """A GPU provider was asked for, but onnxruntime runs the model on another (it falls back
    silently when a GPU provider fails to start)."""

    def __init__(self, requested: str, running: str) -> None:
        super().__init__(f"provider={requested!r} was asked for but {running} runs the model")
        self.requested = requested
        self.running = running


class Model:
    """A painter-match model, opened once and reused for every call.

    Args:
        loaded: an open model (`painter_match.inference.model.open_model`); `load` makes one.
    """

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def __repr__(self) -> str:
        info = self.info
        return (
            f"<painter_match.Model {self.path} ({info.backbone}, {info.variant}, {info.input_size} px, "
            f"{info.embedding_dim}-d) on {self.provider}>"
        )

    @property
    def info(self) -> ModelInfo:
        """The model's contract: input size, embedding size, calibration, views, identity, ..."""
        return self.loaded.info

    @property
    def path(self) -> Path:
        """The ``.onnx`` file."""
        return self.loaded.path

    @property
    def provider(self) -> str:
        """The onnxruntime execution provider that runs it."""
        return self.loaded.provider

    @property
    def choice(self) -> ModelChoice | None:
        """Which rule chose the file (`resolve_model`): the path given, the environment, ..."""
        return self.loaded.choice

    @property
    def dim(self) -> int:
        """The embedding length D."""
        return self.info.embedding_dim

    def record(self) -> dict[str, object]:
        """The facts every ``--json`` result carries: which file, by which rule, what it is."""
        return self.loaded.record()

    def views(self, views: Views | int | None = None) -> Views:
        """The view policy ``views`` means for this model: None its own, a number that many crops
        at its crop scale (``--views N``), a `Views` as it is."""
        return choose_views(views, self.info.views)

    def encoder(
        self,
        *,
        views: Views | int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int | None = None,
        max_pixels: int | None = None,
        normalize: bool = True,
        most_images: int | None = None,
        find_painting: str = "auto",
        painting_edge: str = "frame",
    ) -> OnnxEncoder:
        """An encoder over this model's session, memory checked: every embedding method builds its
        encoder here, so an option added here reaches them all.

        Args:
            views: the view policy (`views`).
            batch_size: images per model call.
            workers: images decoded at once; None means one per core.
            max_pixels: the largest image to decode, in pixels; None: 300 million.
            normalize: unit-length embeddings (`OnnxEncoder`).
            most_images: how many images the run embeds at most, when known (a smaller batch
                needs less memory).
            find_painting: ``"auto"`` embeds only the painting when an image is a photo of it on
                a wall (outline found, perspective straightened) and leaves catalogue images and
                cropped photos whole; ``"on"`` crops whatever outline is found; ``"off"`` embeds
                whole images (`painter_match.data.painting_finder`, docs/painting-finder.md).
            painting_edge: crop to the frame's outer edge (``"frame"``, for references that show
                frames) or to the canvas inside it (``"canvas"``, for canvas-only references).

        Raises:
            UsageError: ``views`` and ``batch_size`` need more memory than the machine has, or
                ``views`` is negative.
        """
        policy = self.views(views)
        check_memory(self.info.input_size, policy, batch_size, most_images)
        return OnnxEncoder(
            self.loaded,
            views=policy,
            batch_size=batch_size,
            workers=workers,
            max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
            normalize=normalize,
            find_painting=find_painting,
            painting_edge=painting_edge,
        )

    def embed(
        self,
        images: ImageInput | Iterable[ImageInput],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        normalize: bool = True,
        show_progress: bool = False,
        views: Views | int | None = None,
        workers: int | None = None,
        max_pixels: int | None = None,
        find_painting: str = "auto",
        painting_edge: str = "frame",
    ) -> np.ndarray:
        """Embed paintings as ``painter-match embed`` does: float32, in input order.

        Each painting is the mean of the model's views (or ``views``) of it, decoded a few
        batches ahead of the model.

        Args:
            images: one image (a path as ``str`` or ``Path``, a PIL image, or uint8 pixels
                ``[H, W, 3]``), or a list of them (or a uint8 ``[N, H, W, 3]`` array).
            batch_size: images per model call.
            normalize: unit-length embeddings (the default); False keeps the mean of the views.
            show_progress: draw a progress bar on stderr.
            views: the view policy: None the model's own, a number that many crops.
            workers: images decoded at once; None means one per core.
            max_pixels: the largest image to decode; None means 300 million pixels.
            find_painting, painting_edge: look for the painting in each image (`encoder`).

        Returns:
            ``[D]`` for one image, ``[N, D]`` for a list.

        Raises:
            TypeError, ValueError: an input that is no image (named by its position and type).
            ImageLoadError: naming the first file that cannot be decoded (for a folder with bad
                files in it, `embed_folder` skips and lists them instead).
        """
        items, single = image_list(images)
        encoder = self.encoder(
            views=views,
            batch_size=batch_size,
            workers=workers,
            max_pixels=max_pixels,
            normalize=normalize,
            most_images=len(items),
            find_painting=find_painting,
            painting_edge=painting_edge,
        )
        vectors = encode_list(encoder, items, show_progress)
        return vectors[0] if single else vectors

    def similarity(
        self, a: ImageInput, b: ImageInput, *, views: Views | int | None = None, find_painting: str = "auto"
    ) -> float:
        """The cosine similarity of two paintings' embeddings, in [-1, 1]."""
        first, second = self.embed([a, b], views=views, workers=2, find_painting=find_painting)
        return float(np.dot(first, second))

    def same_artist(
        self,
        a: ImageInput,
        b: ImageInput,
        *,
        reference: Reference | str | Path | None = None,
        prior: float | None = None,
        views: Views | int | None = None,
        max_pixels: int | None = None,
        collection: Embeddings | str | Path | None = None,
        find_painting: str = "auto",
        painting_edge: str = "frame",
    ) -> SameArtist:
        """Whether two paintings share an artist: the probability, the cosine and the verdict
        (what ``verify`` prints).

        Args:
            a, b: the two paintings (paths, PIL images or uint8 arrays).
            reference: a labelled reference set (`painter_match.load_reference`, or its file) made
                with this model (``painter-match reference``): the pair is then scored by its fitted
                pair model, from the cosine and each painting's nearest reference artists, as
                ``verify --reference`` does; a reference painting that is the very file ``a`` or
                ``b`` is not evidence for it. None: the model's calibrated cosine.
            prior: the share of same-artist pairs among the pairs you ask about (e.g. 0.013 for
                Kaggle's test pairs): the probability is moved to it by Bayes' rule, as ``verify
                --prior`` does. None: the share the model (or reference) was calibrated on.
            views: the view policy: None the model's own, a number that many crops.
            max_pixels: the largest image to decode; None means 300 million pixels.
            collection: the embeddings (`painter_match.load_embeddings`, or its file) of the
                collection the two paintings belong to, made by this model: both are centred on
                its mean and scored with the model's centred calibration
                (`painter_match.inference.collection`). Two lone paintings make no collection, so
                None compares them as they are, with the model's plain calibration.
            find_painting, painting_edge: look for the painting in each image (`encoder`).

        Raises:
            ImageLoadError: either file cannot be decoded.
            DataError: the reference was made by another model, or is not fitted, or the model's
                (or reference's) fit recorded no share of same-artist pairs to move to ``prior``.
            ValueError: ``prior`` is not strictly between 0 and 1.
        """
        return verify_pair(
            self,
            a,
            b,
            reference=reference,
            prior=prior,
            views=views,
            max_pixels=max_pixels,
            collection=collection,
            find_painting=find_painting,
            painting_edge=painting_edge,
        )

    def embed_folder(
        self,
        folder: str | Path,
        out: str | Path,
        *,
        resume: bool = False,
        force: bool = False,
        strict: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        views: Views | int | None = None,
        workers: int | None = None,
        max_pixels: int | None = None,
        shard: tuple[int, int] | None = None,
        engine: str = "local",
        address: str | None = None,
        gpus_per_actor: float = 0.0,
        show_progress: bool = False,
        log: Callable[[str], None] | None = None,
        find_painting: str | None = None,
        painting_edge: str = "frame",
    ) -> EmbedFolderResult:
        """Embed every image under ``folder`` into the embeddings file ``out``: what
        ``painter-match embed`` does, resumable (see `painter_match.inference.folder`).

        Args:
            folder: the folder of images (searched recursively).
            out: the ``.npz`` to write; ``OUT.partial.npz`` and ``OUT.errors.csv`` go beside it.
            resume: continue from the partial file (or ``out``), embedding only the rest.
            force: start over, replacing ``out`` when done.
            strict: stop at the first unreadable image instead of skipping and listing it.
            batch_size, views, workers, max_pixels: as for `encoder`.
            shard: ``(K, N)``: embed only shard K of N of the images
                (`painter_match.inference.scale_out.shards`).
            engine: ``"local"`` (this machine's threads) or ``"ray"`` (Ray Data actors, each with
                one onnxruntime session; ``pip install "painter-match[ray]"``).
            address: with ``engine="ray"``, the cluster to join; None starts a local Ray.
            gpus_per_actor: with ``engine="ray"``, GPUs each actor asks for (then it runs CUDA).
            show_progress: draw a progress bar on stderr.
            log: receives a line when a run resumes.
            find_painting, painting_edge: look for the painting in each image (`encoder`). None
                means ``"auto"`` on the local engine and ``"off"`` on Ray, whose actors do not
                look for paintings yet (asking for it there is refused).

        Raises:
            DataError: no images, an existing ``out`` without ``resume`` or ``force``, or another
                model's file to resume.
            UsageError: Ray options without ``engine="ray"``, or views and batch size beyond
                the machine's memory.
            EmbedInterrupted: Ctrl-C; what was done is kept for ``resume=True``.
        """
        from painter_match.inference.folder import embed_folder

        if engine not in ("local", "ray"):
            raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
        if engine != "ray" and (address is not None or gpus_per_actor):
            raise UsageError.naming(
                "{address} and {gpus} go with {engine}",
                address=("address", "--address"),
                gpus=("gpus_per_actor", "--gpus-per-actor"),
                engine=("engine='ray'", "--engine ray"),
            )
        if find_painting is None:
            find_painting = "off" if engine == "ray" else "auto"
        elif engine == "ray" and find_painting != "off":
            raise UsageError.naming(
                "{find} looks for paintings on the local engine only; give {off} with {engine}",
                find=(f"find_painting={find_painting!r}", f"--find-painting {find_painting}"),
                off=("find_painting='off'", "--find-painting off"),
                engine=("engine='ray'", "--engine ray"),
            )
        if engine == "ray":
            from painter_match.inference.scale_out.ray_engine import import_ray

            import_ray()  # before any work: without Ray, say how to install it

        def encoder() -> OnnxEncoder:  # made once the folder's cheap checks have passed
            local = self.encoder(
                views=views,
                batch_size=batch_size,
                workers=workers,
                max_pixels=max_pixels,
                find_painting=find_painting,
                painting_edge=painting_edge,
            )
            if engine == "local":
                return local
            from painter_match.inference.scale_out.ray_engine import RayEncoder

            return RayEncoder(
                self.loaded,
                views=local.views,
                batch_size=batch_size,
                address=address,
                num_gpus_per_actor=gpus_per_actor,
                max_pixels=local.max_pixels,
            )

        return embed_folder(
            folder,
            out,
            encoder,
            resume=resume,
            force=force,
            strict=strict,
            inputs=[("model", self.path)],
            show_progress=show_progress,
            log=log,
            shard=shard,
        )

    def score_pairs(
        self,
        pairs_csv: str | Path,
        out_csv: str | Path,
        images: str | Path,
        *,
        reference: Reference | str | Path | None = None,
        prior: float | None = None,
        missing: Missing | None = None,
        fill_value: float = 0.5,
        solution: str | Path | None = None,
        force: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        views: Views | int | None = None,
        workers: int | None = None,
        max_pixels: int | None = None,
        show_progress: bool = False,
        log: Callable[[str], None] | None = None,
        collection: str = "auto",
        find_painting: str = "auto",
        painting_edge: str = "frame",
    ) -> ScoreSummary:
        """Score a Kaggle pairs file from the images it names, each embedded once: what
        ``painter-match score --images`` does (`painter_match.inference.scoring.submission`).

        Args:
            pairs_csv: ``index,image1,image2`` rows.
            out_csv: the submission to write (``index,sameArtist``).
            images: the folder the pairs' image names are relative to.
            reference, prior, missing, fill_value, solution, force, collection: as for
                `painter_match.score_pairs` (the collection is the distinct paintings the pairs name).
            batch_size, views, workers, max_pixels: as for `encoder`.
            show_progress: draw progress bars on stderr.
            log: receives a line about the images that were missing or unreadable.
            find_painting, painting_edge: look for the painting in each image (`encoder`).

        Raises:
            DataError: a bad pairs file, no folder, none of the images readable, or (with
                ``missing="error"``) one that is not.
            OutputError: ``out_csv`` exists (without ``force``), is an input, or cannot be written.
        """
        from painter_match.inference.scoring.submission import score_images

        return score_images(
            self,
            pairs_csv,
            out_csv,
            images,
            encoder_options={
                "views": views,
                "batch_size": batch_size,
                "workers": workers,
                "max_pixels": max_pixels,
                "find_painting": find_painting,
                "painting_edge": painting_edge,
            },
            reference=reference,
            prior=prior,
            missing=missing,
            fill_value=fill_value,
            solution=solution,
            force=force,
            collection=collection,
            show_progress=show_progress,
            log=log,
        )


def load(path: str | Path | None = None, provider: str = "auto", *, threads: int | None = None) -> Model:
    """Open a painter-match model for a session.

    Args:
        path: the ``.onnx`` file; None means `resolve_model`'s choice: ``$PAINTER_MATCH_MODEL``,
            else ``models/painter-match.onnx`` in the current folder, else the packaged default.
        provider: ``auto`` (CUDA when onnxruntime-gpu and a GPU are there), ``cpu``, ``cuda`` or
            ``tensorrt``. A GPU provider that onnxruntime could not start is reported by a
            `ProviderFallbackWarning` naming the one that runs instead.
        threads: onnxruntime's intra-op threads; None means half the cores
            (`painter_match.inference.runtime.default_threads`), the decode threads using the rest.

    Raises:
        ModelError: no model found (the message says how to get one), a file onnxruntime cannot
            load, or a model without the painter-match contract.
    """
    choice = resolve_model(path)
    loaded = open_model(choice, provider=provider, threads=threads or default_threads())
    loaded.choice = choice
    wanted = _GPU_PROVIDERS.get(provider)
    if wanted and loaded.provider != wanted:
        warnings.warn(ProviderFallbackWarning(provider, loaded.provider), stacklevel=2)
    return Model(loaded)
