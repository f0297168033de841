"""The Python API's model: one ONNX Runtime session that embeds paintings and compares them.

`load` resolves the model (`painter_match.inference.model.resolve_model`), opens it once, and
returns a `Model`, whose methods are what the commands do: `Model.embed` (``embed``'s encoder,
in memory), `Model.same_artist` (``verify``) and `Model.embed_folder` (``embed``, resumable).
numpy, Pillow and ONNX Runtime only: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from painter_match.data.views import Views
from painter_match.errors import ImageLoadError
from painter_match.inference.calibration import check_prior
from painter_match.inference.encoder import DEFAULT_BATCH_SIZE, OnnxEncoder
from painter_match.inference.folder import EmbedFolderResult, embed_folder
from painter_match.inference.model import LoadedModel, ModelInfo, open_model
from painter_match.progress import progress_bar

if TYPE_CHECKING:
    from painter_match.inference.reference_set import Reference


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
    def dim(self) -> int:
        """The embedding length D."""
        return self.info.embedding_dim

    def encoder(
        self,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        views: Views | None = None,
        workers: int | None = None,
    ) -> OnnxEncoder:
        """An encoder over this model's session (``views``: None means the model's own policy;
        ``workers``: images decoded at once, None for one per core)."""
        return OnnxEncoder(self.loaded, views=views, batch_size=batch_size, workers=workers)

    def embed(
        self,
        paths: Sequence[str | Path],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        show_progress: bool = False,
        views: Views | None = None,
        workers: int | None = None,
    ) -> np.ndarray:
        """Embed image files: float32 ``[N, D]``, L2-normalised, in input order.

        Each painting is embedded as ``painter-match embed`` does: the model's views (or
        ``views``) decoded a few batches ahead of the model, their embeddings averaged.

        Args:
            paths: the image files.
            batch_size: images per model call.
            show_progress: draw a progress bar on stderr.
            views: the view policy; None means the model's own.
            workers: images decoded at once; None means one per core.

        Raises:
            ImageLoadError: naming the first file that cannot be decoded (for a folder with bad
                files in it, `embed_folder` skips and lists them instead).
        """
        encoder = self.encoder(batch_size=batch_size, views=views, workers=workers)
        with progress_bar("embedding", len(paths), quiet=not show_progress, unit="images") as bar:
            vectors, failures = encoder.encode(list(paths), on_progress=bar.advance)
        if failures:
            first = failures[0]
            raise ImageLoadError(first.path, first.cause)
        return vectors

    def similarity(self, a: str | Path, b: str | Path) -> float:
        """The cosine similarity of two paintings' embeddings, in [-1, 1]."""
        first, second = self.embed([a, b], workers=2)
        return float(np.dot(first, second))

    def same_artist(
        self,
        a: str | Path,
        b: str | Path,
        *,
        reference: Reference | str | Path | None = None,
        prior: float | None = None,
    ) -> float:
        """The probability that two paintings share an artist (what ``verify`` prints).

        Args:
            a, b: the two image files.
            reference: a labelled reference set (`painter_match.load_reference`, or its file) made
                with this model (``painter-match reference``): the pair is then scored by its fitted
                pair model, from the cosine and each painting's nearest reference artists, as
                ``verify --reference`` does; a reference painting that is ``a`` or ``b`` itself is
                not evidence for it. None: the model's calibrated cosine.
            prior: the share of same-artist pairs among the pairs you ask about (e.g. 0.013 for
                Kaggle's test pairs): the probability is moved to it by Bayes' rule, as ``verify
                --prior`` does. None: the share the model (or reference) was calibrated on.

        Raises:
            ImageLoadError: either file cannot be decoded.
            DataError: the reference was made by another model, or is not fitted.
            ValueError: ``prior`` is not strictly between 0 and 1, or the reference's fit recorded
                no share of same-artist pairs to move from.
        """
        if prior is not None:
            check_prior(prior)
        if reference is None:
            calibration = self.info.calibration
            if prior is not None:
                calibration = calibration.at_prior(prior)
            return float(calibration.probability(self.similarity(a, b)))
        from painter_match.inference.embeddings import EmbeddingSource
        from painter_match.inference.reference import verify_with_reference
        from painter_match.inference.reference_set import check_reference, file_digest, load_reference

        identity = EmbeddingSource(self.info, self.info.views).identity
        if isinstance(reference, (str, Path)):
            reference = load_reference(reference, source=identity, fitted=True)
        else:
            check_reference(reference, identity, "the reference")
        if prior is not None:
            assert reference.combiner is not None  # check_reference and load_reference refuse one without
            reference = replace(reference, combiner=reference.combiner.at_prior(prior))
        first, second = self.embed([a, b], workers=2)
        probability, _ = verify_with_reference(
            first, second, reference, digests=[file_digest(a), file_digest(b)]
        )
        return probability

    def embed_folder(
        self,
        folder: str | Path,
        out: str | Path,
        *,
        resume: bool = False,
        force: bool = False,
        strict: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        views: Views | None = None,
        workers: int | None = None,
        show_progress: bool = False,
    ) -> EmbedFolderResult:
        """Embed every image under ``folder`` into the embeddings file ``out``: what
        ``painter-match embed`` does, resumable (see `painter_match.inference.folder.embed_folder`).

        Raises:
            DataError: no images, an existing ``out`` without ``resume`` or ``force``, or another
                model's file to resume.
            EmbedInterrupted: Ctrl-C; what was done is kept for ``resume=True``.
        """
        return embed_folder(
            folder,
            out,
            self.encoder(batch_size=batch_size, views=views, workers=workers),
            resume=resume,
            force=force,
            strict=strict,
            inputs=[("model", self.path)],
            show_progress=show_progress,
        )


def load(path: str | Path | None = None, provider: str = "auto", *, threads: int | None = None) -> Model:
    """Open a painter-match model for a session.

    Args:
        path: the ``.onnx`` file; None means `resolve_model`'s choice: ``$PAINTER_MATCH_MODEL``,
            else ``models/painter-match.onnx`` in the current folder, else the packaged default.
        provider: ``auto`` (CUDA when onnxruntime-gpu and a GPU are there), ``cpu``, ``cuda`` or
            ``tensorrt``.
        threads: onnxruntime's intra-op threads; None lets it use every core.

    Raises:
        ModelError: no model found (the message says how to get one), a file onnxruntime cannot
            load, or a model without the painter-match contract.
    """
    return Model(open_model(path, provider=provider, threads=threads))
