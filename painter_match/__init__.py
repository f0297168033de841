"""painter-match: decide whether two paintings were painted by the same artist.

The public Python API, on the inference side of the wall (numpy, Pillow and ONNX Runtime; never
torch)::

    import painter_match
    model = painter_match.load()                 # or load("path.onnx", provider="cuda")
    vector = model.embed("a.jpg")                # float32 [D], L2-normalised (a PIL image or array too)
    vectors = model.embed(["a.jpg", "b.jpg"])    # float32 [N, D]
    result = model.same_artist("a.jpg", "b.jpg")  # SameArtist: probability, similarity, verdict, ...
    result = model.same_artist("a.jpg", "b.jpg", reference="ref.npz")  # with a labelled reference set
    model.embed_folder("scans/", "scans.npz", resume=True)  # what `painter-match embed` does
    painter_match.score_pairs("pairs.csv", "submission.csv", "scans.npz", force=True)  # `score`

Names are imported on first use, so ``import painter_match`` (and ``painter-match --help``) stays
instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from painter_match._version import __version__

if TYPE_CHECKING:
    from painter_match.data.catalogue import Catalogue, read_catalogue
    from painter_match.data.pairs import Pairs
    from painter_match.data.views import Views
    from painter_match.errors import DataError, ImageLoadError, OutputError, PainterMatchError
    from painter_match.evaluation.evaluate import EvaluationReport, evaluate
    from painter_match.evaluation.labelled_pairs import labelled_pairs
    from painter_match.inference.api import Model, ProviderFallbackWarning, load
    from painter_match.inference.calibration import Calibration
    from painter_match.inference.embeddings import Embeddings, load_embeddings, save_embeddings
    from painter_match.inference.folder import EmbedFolderResult, embed_folder
    from painter_match.inference.labelled import ReferenceMade, make_reference
    from painter_match.inference.model import ModelChoice, ModelError, ModelInfo, resolve_model
    from painter_match.inference.neighbours import (
        ArtistVote,
        Neighbour,
        SimilarResult,
        artist_vote,
        nearest,
        read_labels,
        similar,
    )
    from painter_match.inference.reference.fit import fit_reference
    from painter_match.inference.reference.set import (
        Reference,
        build_reference,
        load_reference,
        save_reference,
    )
    from painter_match.inference.scoring.engine import ScoreSummary, unique_images
    from painter_match.inference.scoring.submission import score_pairs
    from painter_match.inference.similarity import pairwise_cosine
    from painter_match.inference.verdict import SameArtist

_WHERE = {
    "load": "painter_match.inference.api",
    "Model": "painter_match.inference.api",
    "SameArtist": "painter_match.inference.verdict",
    "ProviderFallbackWarning": "painter_match.inference.api",
    "ModelInfo": "painter_match.inference.model",
    "ModelChoice": "painter_match.inference.model",
    "ModelError": "painter_match.inference.model",
    "resolve_model": "painter_match.inference.model",
    "Views": "painter_match.data.views",
    "Calibration": "painter_match.inference.calibration",
    "Embeddings": "painter_match.inference.embeddings",
    "load_embeddings": "painter_match.inference.embeddings",
    "save_embeddings": "painter_match.inference.embeddings",
    "embed_folder": "painter_match.inference.folder",
    "EmbedFolderResult": "painter_match.inference.folder",
    "score_pairs": "painter_match.inference.scoring.submission",
    "ScoreSummary": "painter_match.inference.scoring.engine",
    "unique_images": "painter_match.inference.scoring.engine",
    "pairwise_cosine": "painter_match.inference.similarity",
    "Reference": "painter_match.inference.reference.set",
    "build_reference": "painter_match.inference.reference.set",
    "fit_reference": "painter_match.inference.reference.fit",
    "make_reference": "painter_match.inference.labelled",
    "ReferenceMade": "painter_match.inference.labelled",
    "save_reference": "painter_match.inference.reference.set",
    "load_reference": "painter_match.inference.reference.set",
    "nearest": "painter_match.inference.neighbours",
    "similar": "painter_match.inference.neighbours",
    "SimilarResult": "painter_match.inference.neighbours",
    "artist_vote": "painter_match.inference.neighbours",
    "read_labels": "painter_match.inference.neighbours",
    "Neighbour": "painter_match.inference.neighbours",
    "ArtistVote": "painter_match.inference.neighbours",
    "read_catalogue": "painter_match.data.catalogue",
    "Catalogue": "painter_match.data.catalogue",
    "Pairs": "painter_match.data.pairs",
    "labelled_pairs": "painter_match.evaluation.labelled_pairs",
    "evaluate": "painter_match.evaluation.evaluate",
    "EvaluationReport": "painter_match.evaluation.evaluate",
    "PainterMatchError": "painter_match.errors",
    "DataError": "painter_match.errors",
    "ImageLoadError": "painter_match.errors",
    "OutputError": "painter_match.errors",
}

__all__ = [
    "__version__",
    "load",
    "Model",
    "SameArtist",
    "ProviderFallbackWarning",
    "ModelInfo",
    "ModelChoice",
    "ModelError",
    "resolve_model",
    "Views",
    "Calibration",
    "Embeddings",
    "load_embeddings",
    "save_embeddings",
    "embed_folder",
    "EmbedFolderResult",
    "score_pairs",
    "ScoreSummary",
    "unique_images",
    "pairwise_cosine",
    "Reference",
    "build_reference",
    "fit_reference",
    "make_reference",
    "ReferenceMade",
    "save_reference",
    "load_reference",
    "nearest",
    "similar",
    "SimilarResult",
    "artist_vote",
    "read_labels",
    "Neighbour",
    "ArtistVote",
    "read_catalogue",
    "Catalogue",
    "Pairs",
    "labelled_pairs",
    "evaluate",
    "EvaluationReport",
    "PainterMatchError",
    "DataError",
    "ImageLoadError",
    "OutputError",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'painter_match' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
