"""Whether two paintings share an artist: the work behind `Model.same_artist` (``painter-match
verify``).

Both paintings are embedded with one encoder; their cosine is then read through the model's
calibration (moved to the ``prior`` when one is given), or, with a labelled reference set,
through the reference's fitted pair model and each painting's nearest reference artists. With a
collection, both vectors are first centred on its mean and scored with the model's centred
calibration. The arguments are `Model.same_artist`'s, which documents them and holds their
defaults. numpy, Pillow and ONNX Runtime only: no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from painter_match.data.views import Views
from painter_match.errors import DataError, UsageError
from painter_match.inference.calibration import Calibration
from painter_match.inference.collection import CollectionAdaptation, adapt_for_model
from painter_match.inference.encode_list import encode_found
from painter_match.inference.inputs import ImageInput, as_path, image_list
from painter_match.inference.runtime import moved_to_prior, open_reference, reference_name
from painter_match.inference.verdict import SameArtist, decision_threshold

if TYPE_CHECKING:
    from painter_match.inference.api import Model
    from painter_match.inference.embeddings import Embeddings
    from painter_match.inference.reference.set import Reference


def verify_pair(
    model: Model,
    a: ImageInput,
    b: ImageInput,
    *,
    reference: Reference | str | Path | None,
    prior: float | None,
    views: Views | int | None,
    max_pixels: int | None,
    collection: Embeddings | str | Path | None,
    find_painting: str,
    painting_edge: str,
) -> SameArtist:
    """`Model.same_artist` of ``model``: the probability, the cosine and the verdict for ``a``
    and ``b`` (see that method for the arguments and what it raises)."""
    items = [one_image(a, "a"), one_image(b, "b")]
    encoder = model.encoder(
        views=views,
        max_pixels=max_pixels,
        workers=2,
        most_images=2,
        find_painting=find_painting,
        painting_edge=painting_edge,
    )
    calibration = model.info.calibration
    found = None
    if reference is None:
        calibration = moved_to_prior(calibration, prior, model.path, "export the model again")
    else:  # refused before any decoding
        from painter_match.inference.embeddings import EmbeddingSource

        found = open_reference(reference, EmbeddingSource(model.info, encoder.views).identity, prior)
        if prior is not None and 0.0 < calibration.positive_share < 1.0:
            calibration = calibration.at_prior(prior)  # only drawn: the pair model decides
    adaptation = None
    if collection is not None:
        adaptation, calibration = _collection_adaptation(model, collection, reference, prior)
    vectors, paintings = encode_found(encoder, items, show_progress=False)
    first, second = vectors
    if adaptation is not None:
        first, second = adaptation.apply(np.stack([first, second]))
    similarity = float(np.dot(first, second))
    probability = float(calibration.probability(similarity))
    artists: tuple[Mapping[str, Any], ...] = ()
    if found is not None:
        from painter_match.inference.reference import verify_with_reference
        from painter_match.inference.reference.set import file_digest

        digests = [file_digest(p) if (p := as_path(item)) is not None else None for item in items]
        probability, tops = verify_with_reference(first, second, found, digests=digests)
        artists = tuple(tops)
    return SameArtist(
        probability=probability,
        similarity=similarity,
        threshold=decision_threshold(calibration),
        verdict="same artist" if probability >= 0.5 else "different artists",
        prior=prior,
        calibration=calibration,
        views=encoder.views,
        reference=reference_name(reference),
        artists=artists,
        collection=(
            adaptation.record()
            if adaptation is not None
            else {"method": "none", "paintings": 2, "reason": "two lone paintings make no collection"}
        ),
        paintings=tuple(paintings),
        find_painting=encoder.find_painting,
        painting_edge=encoder.painting_edge,
    )


def _collection_adaptation(
    model: Model, collection: Embeddings | str | Path, reference: object, prior: float | None
) -> tuple[CollectionAdaptation, Calibration]:
    """`Model.same_artist`'s ``collection``: checked to be this model's, and its adaptation."""
    from painter_match.inference.embeddings import load_embeddings

    if reference is not None:
        raise UsageError.naming(
            "give {reference} or {collection}, not both: the reference's pair model takes plain cosines",
            reference=("reference=", "--reference"),
            collection=("collection=", "--collection"),
        )
    loaded = load_embeddings(collection) if isinstance(collection, (str, Path)) else collection
    if loaded.source.info.identity != model.info.identity:
        raise DataError(
            f"the collection {collection if isinstance(collection, (str, Path)) else ''} was embedded by "
            f"model {loaded.source.info.identity}, not {model.info.identity}; embed it with this model"
        )
    adaptation, calibration = adapt_for_model(
        loaded.vectors, model.info.collection, model.info.calibration, "centre"
    )
    return adaptation, moved_to_prior(calibration, prior, model.path, "export the model again")


def one_image(image: ImageInput, argument: str) -> ImageInput:
    """``image`` checked to be one painting, not a list of them (``argument`` names it)."""
    items, single = image_list(image, argument)
    if not single:
        raise TypeError(
            f"{argument}: one painting, got a list of {len(items)}; compare paintings two at a time"
        )
    return items[0]
