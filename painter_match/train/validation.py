"""Validation after every epoch: pair ROC AUC on the held-out artists, the calibration, collapse.

`_validate` embeds the validation paintings (from images with `embed_dataset`, or from stored
backbone features with `_embed_cached`), scores the run's validation pairs, and fits the
calibration, plain and centred on the collection (`painter_match.train.collection_fit`).
`is_collapsed` reads a `_Validation` for embedding collapse, which ends the run (`CollapseError`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from painter_match.errors import DataError, PainterMatchError
from painter_match.inference.calibration import Calibration, fit_calibration
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import best_threshold_accuracy, roc_auc
from painter_match.train.backbones import Encoder
from painter_match.train.collection_fit import centred_validation
from painter_match.train.data import PaintingDataset, collate
from painter_match.train.imagenet_part import centre_weights
from painter_match.train.run_data import _Cached, _Data

# Collapse: the encoder maps every painting to (nearly) one point, so every pair gets the same
# answer. An untrained network already has mean cosine ~0.99 between paintings (all-positive
# pooled features), so a high mean cosine alone is not collapse; it is when the scores of the
# validation pairs no longer differ, or when after a few epochs they still carry no signal.
COLLAPSE_SCORE_STD = 1e-4
COLLAPSE_COSINE = 0.999
COLLAPSE_AUC = 0.6
COLLAPSE_AFTER_EPOCH = 3


class CollapseError(PainterMatchError):
    """The embeddings collapsed to (nearly) a single point."""


@torch.no_grad()
def embed_dataset(
    encoder: Encoder,
    dataset: PaintingDataset,
    device: torch.device,
    *,
    batch_size: int = 64,
    workers: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Embeddings of every decodable painting: ``(embeddings [n, D], indices [n], failures)``.

    A dataset whose samples are stacks of views (``[V, 3, S, S]``, `ViewsTransform`) gives each
    painting the normalised mean of its views' embeddings, as ``embed`` does.
    """
    was_training = encoder.training
    encoder.eval()
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate
    )
    chunks, indices, failures = [], [], []
    for batch in loader:
        failures.extend(batch.failures)
        if batch.images.numel():
            images = batch.images.to(device)
            if images.ndim == 5:  # [N, views, 3, S, S]: the normalised mean of the views, as `embed`
                n, v = images.shape[:2]
                per_view = encoder(images.flatten(0, 1)).float().view(n, v, -1)
                embedded = nn.functional.normalize(per_view.mean(dim=1), dim=1)
            else:
                embedded = encoder(images).float()
            chunks.append(embedded.cpu().numpy())
            indices.append(batch.indices.numpy())
    encoder.train(was_training)
    if not chunks:
        return np.empty((0, encoder.embedding_dim), np.float32), np.empty(0, np.int64), failures
    return np.concatenate(chunks), np.concatenate(indices), failures


def mean_pairwise_cosine(embeddings: np.ndarray) -> float:
    """Mean cosine between distinct rows of unit vectors (1.0 means total collapse)."""
    n = len(embeddings)
    if n < 2:
        return 0.0
    total = embeddings.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


# Centring on the collection is made a model's default only when it costs its own validation
# pairs at most this much AUC: the selection rule's allowance on the training source
# (docs/real-photographs.md). The real-paintings preset's held-out folds lose nothing (0.9015 either
# way); the synthetic painters of `make demo`, which share no source offset, lose 0.016.
CENTRING_TOLERANCE = 0.005


@dataclass
class _Validation:
    auc: float
    accuracy: float
    mean_cosine: float
    score_std: float
    calibration: Calibration
    failures: list[tuple[int, str]]
    # The same pairs' calibration centred and standardised on the collection of training and
    # validation paintings (`painter_match.train.collection_fit`): what a model's default
    # collection adaptation (`painter_match.inference.collection`) scores with.
    # None when centring costs the validation pairs more than CENTRING_TOLERANCE of AUC: then the
    # model states no collection adaptation and its embeddings are compared as they are.
    centred_calibration: Calibration | None = None
    centred_auc: float = float("nan")
    # The centred fit's own threshold when it lay below the floor and was raised (collection_fit).
    centred_threshold_raised_from: float | None = None
    # How much of the collection's mean each part of the embedding had subtracted (imagenet_part).
    centre_weights: tuple[tuple[int, float], ...] = ()


def is_collapsed(validation: _Validation, epoch: int) -> bool:
    """Whether the embeddings have collapsed (see COLLAPSE_* above)."""
    if validation.score_std < COLLAPSE_SCORE_STD:
        return True
    stalled = validation.mean_cosine > COLLAPSE_COSINE and validation.auc < COLLAPSE_AUC
    return epoch >= COLLAPSE_AFTER_EPOCH and stalled


@torch.no_grad()
def _embed_cached(encoder: Encoder, cached: _Cached) -> tuple[np.ndarray, np.ndarray]:
    """Validation embeddings from stored features: ``(embeddings [n, D], indices [n])``."""
    was_training = encoder.training
    encoder.eval()
    indices = np.flatnonzero(cached.val_readable)
    rows = cached.val[torch.from_numpy(indices).to(cached.val.device)]
    n, views = rows.shape[:2]
    per_view = encoder.embed_features(rows.flatten(0, 1)).float().view(n, views, -1)
    embeddings = nn.functional.normalize(per_view.mean(dim=1), dim=1).cpu().numpy()
    encoder.train(was_training)
    return embeddings, indices


@torch.no_grad()
def _embed_cached_training(encoder: Encoder, cached: _Cached, chunk: int = 4096) -> np.ndarray:
    """The readable training paintings' embeddings (global view) from stored features ``[m, D]``."""
    was_training = encoder.training
    encoder.eval()
    rows = torch.from_numpy(np.flatnonzero(cached.train_readable)).to(cached.train.device)
    parts = [
        encoder.embed_features(cached.train[rows[i : i + chunk], 0]).float().cpu().numpy()
        for i in range(0, len(rows), chunk)
    ]
    encoder.train(was_training)
    return np.concatenate(parts) if parts else np.empty((0, encoder.embedding_dim), np.float32)


def _validate(
    encoder: Encoder, data: _Data, device: torch.device, workers: int, cached: _Cached | None = None
) -> _Validation:
    if cached is not None:
        embeddings, indices = _embed_cached(encoder, cached)
        failures = cached.val_failures
    else:
        embeddings, indices, failures = embed_dataset(encoder, data.val_set, device, workers=workers)
    pairs = data.val_pairs
    row_of = np.full(len(pairs.paths), -1, np.int64)  # painting -> its row in embeddings
    row_of[indices] = np.arange(len(indices))
    usable = (row_of[pairs.first] >= 0) & (row_of[pairs.second] >= 0)
    labels = pairs.same[usable]
    if labels.size == 0 or labels.all() or not labels.any():
        raise DataError(
            "validation has no usable same-artist and different-artist pairs; lower --val-fraction?"
        )
    similarity = pairwise_cosine(embeddings, row_of[pairs.first[usable]], row_of[pairs.second[usable]])
    accuracy, _ = best_threshold_accuracy(labels, similarity)
    # With stored features the training paintings complete the collection at little cost; read
    # from images they would take another pass over them every epoch.
    others = _embed_cached_training(encoder, cached) if cached is not None else None
    weights = centre_weights(encoder.trained_dim, encoder.imagenet)
    centred = centred_validation(
        embeddings, row_of[pairs.first[usable]], row_of[pairs.second[usable]], labels, others, weights
    )
    auc = roc_auc(labels, similarity)
    return _Validation(
        auc=auc,
        accuracy=accuracy,
        mean_cosine=mean_pairwise_cosine(embeddings),
        score_std=float(similarity.std()),
        calibration=fit_calibration(similarity, labels),
        failures=failures,
        centred_calibration=(
            centred.calibration if centred.calibration and centred.auc >= auc - CENTRING_TOLERANCE else None
        ),
        centred_auc=centred.auc,
        centred_threshold_raised_from=centred.fitted_threshold,
        centre_weights=weights,
    )


def stop_if_collapsed(validation: _Validation, epoch: int) -> None:
    """Raise `CollapseError`, saying what to change, when the embeddings have collapsed."""
    if is_collapsed(validation, epoch):
        raise CollapseError(
            f"embedding collapse at epoch {epoch}: held-out paintings have mean cosine similarity "
            f"{validation.mean_cosine:.4f} and pair scores vary by only {validation.score_std:.2g} "
            f"(val AUC {validation.auc:.3f}), so every pair gets nearly the same answer; lower --lr, "
            "change --margin or try another --loss (the best weights so far are in best.pt)"
        )
