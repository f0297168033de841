"""painter-match: decide whether two paintings were painted by the same artist.

The public Python API, on the inference side of the wall (numpy, Pillow and ONNX Runtime; never
torch)::

    import painter_match
    model = painter_match.load()                 # or load("path.onnx", provider="cuda")
    vectors = model.embed(["a.jpg", "b.jpg"])    # float32 [N, D], L2-normalised
    p = model.same_artist("a.jpg", "b.jpg")      # calibrated probability
    p = model.same_artist("a.jpg", "b.jpg", reference="ref.npz")  # with a labelled reference set
    model.embed_folder("scans/", "scans.npz")    # what `painter-match embed` does, resumable
    painter_match.score_pairs("pairs.csv", "submission.csv", names=..., vectors=..., calibration=...)

Names are imported on first use, so ``import painter_match`` (and ``painter-match --help``) stays
instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from painter_match.data.catalogue import Catalogue, read_catalogue
    from painter_match.data.pairs import Pairs
    from painter_match.data.views import Views
    from painter_match.errors import DataError, ImageLoadError, OutputError, PainterMatchError
    from painter_match.evaluation.evaluate import EvaluationReport, evaluate
    from painter_match.evaluation.labelled_pairs import labelled_pairs
    from painter_match.inference.api import Model, load
    from painter_match.inference.calibration import Calibration
    from painter_match.inference.embeddings import Embeddings, load_embeddings, save_embeddings
    from painter_match.inference.folder import EmbedFolderResult, embed_folder
    from painter_match.inference.model import ModelChoice, ModelError, ModelInfo, resolve_model
    from painter_match.inference.neighbours import ArtistVote, Neighbour, artist_vote, nearest, read_labels
    from painter_match.inference.reference_fit import fit_reference
    from painter_match.inference.reference_set import (
        Reference,
        build_reference,
        load_reference,
        save_reference,
    )
    from painter_match.inference.scoring import ScoreSummary, score_pairs, unique_images
    from painter_match.inference.similarity import pairwise_cosine

_WHERE = {
    "load": "painter_match.inference.api",
    "Model": "painter_match.inference.api",
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
    "score_pairs": "painter_match.inference.scoring",
    "ScoreSummary": "painter_match.inference.scoring",
    "unique_images": "painter_match.inference.scoring",
    "pairwise_cosine": "painter_match.inference.similarity",
    "Reference": "painter_match.inference.reference_set",
    "build_reference": "painter_match.inference.reference_set",
    "fit_reference": "painter_match.inference.reference_fit",
    "save_reference": "painter_match.inference.reference_set",
    "load_reference": "painter_match.inference.reference_set",
    "nearest": "painter_match.inference.neighbours",
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
    "save_reference",
    "load_reference",
    "nearest",
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
