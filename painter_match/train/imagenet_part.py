"""The untrained ImageNet features carried beside the trained embedding.

A head trained on one collection's artists learns what tells them apart, and part of that is the
collection itself (its scans, its sizes, its painters). The frozen ImageNet features know nothing
of the training artists and travel better to pictures from other sources; on the real-paintings
yardsticks (docs/real-photographs.md) concatenating them, standardised and at half the trained
part's weight, beat both the trained head alone and the untrained features alone across sources:
wikiart -> real-paintings-128 0.7547 against 0.7515 and 0.7124, real-paintings-128 -> wikiart
0.8457 against 0.8376 and 0.8382 (centred AUC).

The part is fixed: its per-dimension mean and variance are the training paintings' (a BatchNorm
without weights whose running statistics accumulate over every training batch and never move
after), so an export folds it into one affine map. No loss sees it; the trained part learns as
before.

Centred on a collection, the part keeps half of the collection's mean (`CENTRE_SHARE`): what all
of a collection's pictures share there is partly their source and partly the style the part was
added for. Measured end to end on the packaged model and fold 0's, halving beat full centring on
the gallery photos (0.8379 against 0.8339) and cost the photographed copies 0.0007
(docs/real-photographs.md, "Centring the ImageNet part by half").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The share of a collection's mean subtracted from the ImageNet part when centring on it.
CENTRE_SHARE = 0.5


def centre_weights(trained_dim: int, imagenet: ImageNetPart | None) -> tuple[tuple[int, float], ...]:
    """The collection adaptation's centre weights of an embedding of ``trained_dim`` trained
    numbers followed by ``imagenet``'s (`painter_match.inference.collection.CentreWeights`);
    empty (the whole mean) without an ImageNet part."""
    if imagenet is None:
        return ()
    return ((trained_dim, 1.0), (imagenet.dim, CENTRE_SHARE))


class ImageNetPart(nn.Module):
    """Standardised, unit-length ImageNet features scaled by ``weight``: [N, feature_dim] -> [N, C].

    Args:
        columns: ``(start, stop)``, the backbone features' columns holding the pooled ImageNet
            features (the head conv's channel means).
        weight: the part's length beside the trained part's unit vector; 0.5 gives it a fifth of
            the squared length of the concatenation.
    """

    def __init__(self, columns: tuple[int, int], weight: float) -> None:
        super().__init__()
        start, stop = columns
        if not 0 <= start < stop:
            raise ValueError(f"ImageNet feature columns must be 0 <= start < stop, got {columns!r}")
        if not weight > 0:
            raise ValueError(f"imagenet_weight must be positive, got {weight!r}")
        self.start, self.stop = int(start), int(stop)
        self.weight = float(weight)
        # momentum None: a plain average over every batch seen, so the statistics are the
        # training set's and not the last few batches'.
        self.standardise = nn.BatchNorm1d(self.stop - self.start, affine=False, momentum=None)

    @property
    def dim(self) -> int:
        return self.stop - self.start

    @torch.no_grad()
    def observe(self, features: torch.Tensor) -> None:
        """Add a training batch's features to the running statistics (training mode only)."""
        if self.training and features.shape[0] > 1:
            self.standardise(features[:, self.start : self.stop].float())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # Always the stored statistics, in training too: the part never normalises by a batch's own.
        bn = self.standardise
        standardised = F.batch_norm(
            features[:, self.start : self.stop], bn.running_mean, bn.running_var, training=False, eps=bn.eps
        )
        return self.weight * F.normalize(standardised, dim=1)
