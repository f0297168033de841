"""Metric-learning losses that teach the encoder to put paintings by one artist close together.

Every loss takes ``(embeddings [N, D], labels [N])``, a P-artists x K-paintings batch of
L2-normalised embeddings and integer artist ids, and returns a scalar tensor. Distances are cosine
distances ``1 - cos``, in [0, 2]. Losses with parameters (the Siamese pair head, the artist
proxies) are `nn.Module`s with those parameters, so the optimiser trains them and they are saved
in the checkpoint with the encoder. `build_loss` makes one by name.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from painter_match.train.config import LOSSES

MINING = ("semihard", "hard", "all")


def _check_matrix(x: torch.Tensor, name: str, expected: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected {name} of shape {expected}, got {shape}")


def cosine_similarity_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every row of `a` with every row of `b`.

    The rows are normalised here, so the result is a true cosine whatever their length.

    Args:
        a: [N, D].
        b: [M, D].

    Returns:
        [N, M], entry (i, j) the cosine of a[i] and b[j].

    Raises:
        ValueError: when `a` or `b` is not 2-D or their D differ.
    """
    _check_matrix(a, "a", "[N, D]")
    _check_matrix(b, "b", "[M, D]")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"expected a [N, D] and b [M, D] with the same D, got {list(a.shape)} and {list(b.shape)}"
        )
    return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T


def _check_batch(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Validate a batch and return the embeddings in float32 (stable under mixed precision)."""
    _check_matrix(embeddings, "embeddings", "[N, D]")
    if embeddings.shape[0] == 0:
        raise ValueError("expected embeddings of shape [N, D] with N >= 1, got an empty batch")
    if not embeddings.is_floating_point():
        raise ValueError(f"expected float embeddings of shape [N, D], got dtype {embeddings.dtype}")
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1:
        shape = list(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"expected labels of shape [N], got {shape}")
    if labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"expected labels of shape [N] = [{embeddings.shape[0]}] to match embeddings "
            f"{list(embeddings.shape)}, got {list(labels.shape)}"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"expected integer artist ids as labels [N], got dtype {labels.dtype}")
    return embeddings.float()


def _zero(embeddings: torch.Tensor) -> torch.Tensor:
    # A zero that is still part of the graph: backward() works and gives zero gradients, so a
    # training loop need not special-case batches without a usable pair or triplet.
    return embeddings.sum() * 0.0


def _pair_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks [N, N] of same-artist pairs (diagonal excluded) and different-artist pairs."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


class TripletLoss(nn.Module):
    """Triplet margin loss on cosine distance with in-batch mining.

    For an anchor a, a positive p (same artist, p != a) and a negative n (another artist), with
    d = 1 - cos, the triplet loss is ``max(0, d(a, p) - d(a, n) + margin)``. Every in-batch
    anchor-positive pair whose anchor has at least one negative is used; mining picks negatives:

    - ``"hard"``: the hardest negative of the anchor (smallest d(a, n)); the loss is the mean over
      anchor-positive pairs.
    - ``"semihard"``: the hardest negative still farther than the positive (smallest d(a, n) with
      d(a, n) > d(a, p)), or the hardest negative when there is none; mean over the pairs.
    - ``"all"``: every valid (a, p, n); the mean over those with a positive loss (batch-all), so
      easy triplets do not dilute the signal as training progresses.

    A batch without a valid triplet (one artist only, or no artist with two paintings) gives a
    zero that still backpropagates. Memory is O(N^2 K) for a P x K batch of N = P K embeddings.

    Args:
        margin: the margin, in cosine distance (0 to 2).
        mining: one of `MINING`.
    """

    def __init__(self, margin: float = 0.2, mining: str = "semihard") -> None:
        super().__init__()
        if mining not in MINING:
            raise ValueError(f"unknown triplet mining {mining!r}; choose one of {', '.join(MINING)}")
        if margin < 0:
            raise ValueError(f"triplet margin must be >= 0, got {margin!r}")
        self.margin = float(margin)
        self.mining = mining

    def extra_repr(self) -> str:
        return f"margin={self.margin}, mining={self.mining!r}"

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The mean triplet loss of the batch (see the class docstring for the mining)."""
        embeddings = _check_batch(embeddings, labels)
        dist = 1.0 - cosine_similarity_matrix(embeddings, embeddings)
        pos_mask, neg_mask = _pair_masks(labels)
        # Anchors with no negative (single-artist batch) have no triplet at all.
        pos_mask = pos_mask & neg_mask.any(dim=1, keepdim=True)
        anchor, positive = pos_mask.nonzero(as_tuple=True)
        if anchor.numel() == 0:
            return _zero(embeddings)
        d_ap = dist[anchor, positive]  # [T]
        d_an = dist[anchor]  # [T, N]: the anchor to everyone
        negative = neg_mask[anchor]  # [T, N]
        inf = torch.full_like(d_an, math.inf)

        if self.mining == "all":
            losses = F.relu(d_ap[:, None] - d_an + self.margin)
            active = negative & (losses > 0)
            if not bool(active.any()):
                return _zero(embeddings)
            return losses[active].mean()

        hardest = torch.where(negative, d_an, inf).min(dim=1).values
        if self.mining == "hard":
            chosen = hardest
        else:
            farther = negative & (d_an > d_ap[:, None])
            semihard = torch.where(farther, d_an, inf).min(dim=1).values
            chosen = torch.where(farther.any(dim=1), semihard, hardest)
        return F.relu(d_ap - chosen + self.margin).mean()


class ContrastiveLoss(nn.Module):
    """Contrastive loss on cosine distance over all in-batch pairs.

    With d = 1 - cos over unordered pairs i < j::

        L = mean_{same artist} max(0, d - pos_margin) + mean_{different} max(0, neg_margin - d)

    Each kind of pair is averaged on its own, so the many more different-artist pairs of a
    P x K batch do not drown the same-artist ones; a kind the batch lacks contributes 0. A batch
    of one image gives a zero that still backpropagates.

    Args:
        pos_margin: same-artist pairs are pulled until their distance is below this.
        neg_margin: different-artist pairs are pushed until their distance is above this.
    """

    def __init__(self, pos_margin: float = 0.0, neg_margin: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= pos_margin < neg_margin <= 2.0:
            raise ValueError(
                f"contrastive margins need 0 <= pos_margin < neg_margin <= 2, got {pos_margin!r}, {neg_margin!r}"
            )
        self.pos_margin = float(pos_margin)
        self.neg_margin = float(neg_margin)

    def extra_repr(self) -> str:
        return f"pos_margin={self.pos_margin}, neg_margin={self.neg_margin}"

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The contrastive loss of the batch (see the class docstring)."""
        embeddings = _check_batch(embeddings, labels)
        dist = 1.0 - cosine_similarity_matrix(embeddings, embeddings)
        pos_mask, neg_mask = _pair_masks(labels)
        upper = torch.ones_like(pos_mask).triu(diagonal=1)
        pos_mask, neg_mask = pos_mask & upper, neg_mask & upper
        loss = _zero(embeddings)
        if bool(pos_mask.any()):
            loss = loss + F.relu(dist[pos_mask] - self.pos_margin).mean()
        if bool(neg_mask.any()):
            loss = loss + F.relu(self.neg_margin - dist[neg_mask]).mean()
        return loss


class PairLoss(nn.Module):
    """The classic Siamese head: an MLP says from a pair of embeddings whether they share an artist.

    ``pair_logits(a, b) = MLP([|a - b|, a * b])``, a Linear(2D, hidden) -> ReLU -> Linear(hidden, 1)
    on features that are symmetric in a and b. The loss is binary cross-entropy with logits over
    all unordered in-batch pairs i < j, target 1 for the same artist, weighted so that each kind
    of pair carries half the loss::

        L = 0.5 * mean_{same} BCE(logit, 1) + 0.5 * mean_{different} BCE(logit, 0)

    When the batch has only one kind of pair, that kind's mean is the loss; a batch of one image
    gives a zero that still backpropagates.

    Args:
        embedding_dim: D, the length of the embeddings.
        hidden: the width of the MLP's hidden layer.
    """

    def __init__(self, embedding_dim: int, hidden: int = 128) -> None:
        super().__init__()
        if embedding_dim < 1 or hidden < 1:
            raise ValueError(f"embedding_dim and hidden must be >= 1, got {embedding_dim!r}, {hidden!r}")
        self.embedding_dim = int(embedding_dim)
        self.mlp = nn.Sequential(
            nn.Linear(2 * embedding_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1)
        )

    def pair_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The same-artist logit of each pair (a[i], b[i]); sigmoid gives the probability.

        Args:
            a: [N, D] embeddings.
            b: [N, D] embeddings.

        Returns:
            [N] logits.

        Raises:
            ValueError: when `a` and `b` are not both [N, D] with D = `embedding_dim`.
        """
        expected = f"[N, {self.embedding_dim}]"
        _check_matrix(a, "a", expected)
        _check_matrix(b, "b", expected)
        if a.shape != b.shape or a.shape[1] != self.embedding_dim:
            raise ValueError(f"expected a and b of shape {expected}, got {list(a.shape)} and {list(b.shape)}")
        return self.mlp(torch.cat([(a - b).abs(), a * b], dim=1)).squeeze(1)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The balanced binary cross-entropy of the batch (see the class docstring)."""
        embeddings = _check_batch(embeddings, labels)
        if embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"expected embeddings of shape [N, {self.embedding_dim}], got {list(embeddings.shape)}"
            )
        i, j = torch.triu_indices(len(labels), len(labels), offset=1, device=labels.device)
        if i.numel() == 0:
            return _zero(embeddings)
        logits = self.pair_logits(embeddings[i], embeddings[j])
        target = (labels[i] == labels[j]).float()
        n_pos = target.sum()
        n_neg = target.numel() - n_pos
        # Each present kind gets total weight 1, then the two totals are averaged.
        weight = torch.where(target > 0, 1.0 / n_pos.clamp_min(1), 1.0 / n_neg.clamp_min(1))
        kinds = (n_pos > 0).float() + (n_neg > 0).float()
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        return (weight * bce).sum() / kinds


class ProxyLoss(nn.Module):
    """Normalised softmax over one learnable proxy per training artist, with an ArcFace margin.

    With cos_c the cosine of an embedding with artist c's proxy and theta_y the angle to its own
    artist's proxy, the loss is the cross-entropy of the logits::

        s * cos(theta_y + m)   for the true artist y,   s * cos_c   for every other c

    (mean over the batch). Where theta_y + m would pass pi, cos(theta + m) stops decreasing, so
    there the target logit is ``s * (cos_y - m sin m)`` instead, as in ArcFace. With margin 0 the
    loss is plain normalised softmax: cross-entropy on ``s * cos``.

    Args:
        embedding_dim: D, the length of the embeddings.
        num_classes: the number of training artists; labels must be ids in [0, num_classes).
        scale: s, the inverse temperature of the softmax.
        margin: m, the additive angular margin in radians.
    """

    def __init__(
        self, embedding_dim: int, num_classes: int, scale: float = 30.0, margin: float = 0.2
    ) -> None:
        super().__init__()
        if embedding_dim < 1 or num_classes < 1:
            raise ValueError(
                f"embedding_dim and num_classes must be >= 1, got {embedding_dim!r}, {num_classes!r}"
            )
        if scale <= 0:
            raise ValueError(f"proxy scale must be > 0, got {scale!r}")
        if not 0.0 <= margin < math.pi / 2:
            raise ValueError(f"proxy margin must be in [0, pi/2) radians, got {margin!r}")
        self.embedding_dim = int(embedding_dim)
        self.num_classes = int(num_classes)
        self.scale = float(scale)
        self.margin = float(margin)
        self.proxies = nn.Parameter(torch.empty(num_classes, embedding_dim))
        nn.init.normal_(self.proxies)  # only the direction matters: proxies are normalised

    def extra_repr(self) -> str:
        return (
            f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, "
            f"scale={self.scale}, margin={self.margin}"
        )

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The margin-adjusted, scaled logits [N, num_classes] that the loss takes the softmax of."""
        embeddings = _check_batch(embeddings, labels)
        if embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"expected embeddings of shape [N, {self.embedding_dim}], got {list(embeddings.shape)}"
            )
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= self.num_classes:
            # Checked here: an out-of-range id is a device-side assert on CUDA, not an error.
            raise ValueError(f"labels must be artist ids in [0, {self.num_classes}), got {low}..{high}")
        cos = cosine_similarity_matrix(embeddings, self.proxies)
        if self.margin == 0.0:
            return self.scale * cos
        target = F.one_hot(labels.long(), self.num_classes).bool()
        # The floor keeps the sqrt's gradient finite where cos reaches +-1.
        sin = (1.0 - cos.square()).clamp_min(1e-6).sqrt()
        cos_m, sin_m = math.cos(self.margin), math.sin(self.margin)
        shifted = cos * cos_m - sin * sin_m  # cos(theta + m)
        # theta + m > pi exactly when cos(theta) < cos(pi - m) = -cos m.
        shifted = torch.where(cos > -cos_m, shifted, cos - self.margin * sin_m)
        return self.scale * torch.where(target, shifted, cos)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The mean cross-entropy of the batch against the artist proxies."""
        return F.cross_entropy(self.logits(embeddings, labels), labels.long())


def build_loss(name: str, *, embedding_dim: int, num_classes: int, margin: float | None = None) -> nn.Module:
    """Make a loss by name with its default settings.

    Args:
        name: one of `LOSSES`.
        embedding_dim: D, for the losses with parameters.
        num_classes: the number of training artists (used by ``proxy``).
        margin: overrides the default margin: the triplet margin (0.2), the contrastive
            ``neg_margin`` (0.5) or the proxy's angular margin (0.2 rad). ``pair`` has none.

    Returns:
        The loss module; move it to the encoder's device and give its parameters to the optimiser.

    Raises:
        ValueError: an unknown name, a margin for ``pair``, or values out of range.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    if name == "triplet":
        return TripletLoss() if margin is None else TripletLoss(margin=margin)
    if name == "contrastive":
        return ContrastiveLoss() if margin is None else ContrastiveLoss(neg_margin=margin)
    if name == "pair":
        if margin is not None:
            raise ValueError("the pair loss has no margin; leave margin unset")
        return PairLoss(embedding_dim)
    if num_classes < 2:
        raise ValueError(f"the proxy loss needs at least 2 training artists, got num_classes={num_classes}")
    return (
        ProxyLoss(embedding_dim, num_classes)
        if margin is None
        else ProxyLoss(embedding_dim, num_classes, margin=margin)
    )
