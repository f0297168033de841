"""Tests for the metric-learning losses: each against a plain loop, gradients, learning, shape errors."""

from __future__ import annotations

import itertools
import math

import pytest

pytest.importorskip("torch", reason="the metric-learning losses need the [train] extra (torch)")

import torch
import torch.nn.functional as F
from torch import nn

from painter_match.train.losses import (
    LOSSES,
    ContrastiveLoss,
    PairLoss,
    ProxyLoss,
    TripletLoss,
    build_loss,
    cosine_similarity_matrix,
)

DIM = 8


def _batch(artists: int = 4, per_artist: int = 3, dim: int = DIM, seed: int = 0) -> tuple:
    """A P x K batch of random unit embeddings (shuffled, so artists are not contiguous)."""
    gen = torch.Generator().manual_seed(seed)
    emb = F.normalize(torch.randn(artists * per_artist, dim, generator=gen, dtype=torch.float64), dim=1)
    labels = torch.arange(artists).repeat_interleave(per_artist)
    order = torch.randperm(len(labels), generator=gen)
    return emb[order].float(), labels[order]


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def _dist(emb: torch.Tensor, i: int, j: int) -> float:
    return 1.0 - _cos(emb[i], emb[j])


# --- reference implementations: plain loops over pairs and triplets ---------------------------


def _triplet_reference(emb: torch.Tensor, labels: torch.Tensor, margin: float, mining: str) -> float:
    n = len(labels)
    lab = labels.tolist()
    per_pair, per_triplet = [], []
    for a, p in itertools.permutations(range(n), 2):
        if lab[a] != lab[p]:
            continue
        negs = [k for k in range(n) if lab[k] != lab[a]]
        if not negs:
            continue
        d_ap = _dist(emb, a, p)
        d_an = {k: _dist(emb, a, k) for k in negs}
        if mining == "all":
            per_triplet += [max(0.0, d_ap - d_an[k] + margin) for k in negs]
            continue
        hardest = min(d_an.values())
        if mining == "hard":
            chosen = hardest
        else:
            farther = [d for d in d_an.values() if d > d_ap]
            chosen = min(farther) if farther else hardest
        per_pair.append(max(0.0, d_ap - chosen + margin))
    if mining == "all":
        active = [v for v in per_triplet if v > 0]
        return sum(active) / len(active) if active else 0.0
    return sum(per_pair) / len(per_pair) if per_pair else 0.0


def _contrastive_reference(emb: torch.Tensor, labels: torch.Tensor, pos_m: float, neg_m: float) -> float:
    pos, neg = [], []
    for i, j in itertools.combinations(range(len(labels)), 2):
        d = _dist(emb, i, j)
        if labels[i] == labels[j]:
            pos.append(max(0.0, d - pos_m))
        else:
            neg.append(max(0.0, neg_m - d))
    total = 0.0
    if pos:
        total += sum(pos) / len(pos)
    if neg:
        total += sum(neg) / len(neg)
    return total


def _pair_reference(loss: PairLoss, emb: torch.Tensor, labels: torch.Tensor) -> float:
    pos, neg = [], []
    for i, j in itertools.combinations(range(len(labels)), 2):
        logit = float(loss.pair_logits(emb[i : i + 1], emb[j : j + 1])[0])
        prob = 1.0 / (1.0 + math.exp(-logit))
        if labels[i] == labels[j]:
            pos.append(-math.log(prob))
        else:
            neg.append(-math.log(1.0 - prob))
    means = [sum(v) / len(v) for v in (pos, neg) if v]
    return sum(means) / len(means)


def _proxy_reference(loss: ProxyLoss, emb: torch.Tensor, labels: torch.Tensor) -> float:
    proxies = loss.proxies.detach()
    total = 0.0
    for i, y in enumerate(labels.tolist()):
        logits = []
        for c in range(loss.num_classes):
            cos = _cos(emb[i], proxies[c])
            if c == y:
                theta = math.acos(max(-1.0, min(1.0, cos)))
                if theta + loss.margin <= math.pi:
                    cos = math.cos(theta + loss.margin)
                else:
                    cos = cos - loss.margin * math.sin(loss.margin)
            logits.append(loss.scale * cos)
        top = max(logits)
        log_sum = top + math.log(sum(math.exp(v - top) for v in logits))
        total += log_sum - logits[y]
    return total / len(labels)


# --- agreement with the loops ------------------------------------------------------------------


@pytest.mark.parametrize("mining", ["semihard", "hard", "all"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_matches_loop(mining: str, seed: int) -> None:
    emb, labels = _batch(seed=seed)
    got = TripletLoss(margin=0.3, mining=mining)(emb, labels)
    assert got.ndim == 0
    assert torch.allclose(got, torch.tensor(_triplet_reference(emb, labels, 0.3, mining)), atol=1e-5)


def test_semihard_differs_from_hard_somewhere() -> None:
    # Guards against "semihard" silently being "hard": on random batches they must disagree.
    diffs = []
    for seed in range(5):
        emb, labels = _batch(seed=seed)
        diffs.append(float(TripletLoss(0.3, "semihard")(emb, labels) - TripletLoss(0.3, "hard")(emb, labels)))
    assert any(abs(d) > 1e-4 for d in diffs)


@pytest.mark.parametrize("seed", [0, 1])
def test_contrastive_matches_loop(seed: int) -> None:
    emb, labels = _batch(seed=seed)
    got = ContrastiveLoss(pos_margin=0.1, neg_margin=0.8)(emb, labels)
    assert torch.allclose(got, torch.tensor(_contrastive_reference(emb, labels, 0.1, 0.8)), atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_pair_matches_loop(seed: int) -> None:
    torch.manual_seed(seed)
    emb, labels = _batch(seed=seed)
    loss = PairLoss(DIM, hidden=16)
    with torch.no_grad():
        got = loss(emb, labels)
        expected = _pair_reference(loss, emb, labels)
    assert torch.allclose(got, torch.tensor(expected), atol=1e-5)


def test_pair_logits_are_symmetric() -> None:
    torch.manual_seed(0)
    emb, _ = _batch()
    loss = PairLoss(DIM)
    assert torch.allclose(loss.pair_logits(emb[:5], emb[5:10]), loss.pair_logits(emb[5:10], emb[:5]))


@pytest.mark.parametrize("margin", [0.0, 0.2, 0.5])
def test_proxy_matches_loop(margin: float) -> None:
    torch.manual_seed(0)
    emb, labels = _batch()
    loss = ProxyLoss(DIM, num_classes=5, scale=10.0, margin=margin)
    with torch.no_grad():
        got = loss(emb, labels)
    assert torch.allclose(got, torch.tensor(_proxy_reference(loss, emb, labels)), atol=1e-4)


def test_proxy_margin_past_pi_uses_the_monotonic_fallback() -> None:
    # An embedding pointing straight away from its own proxy: theta = pi, theta + m > pi.
    loss = ProxyLoss(2, num_classes=2, scale=1.0, margin=0.5)
    with torch.no_grad():
        loss.proxies.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    emb, labels = torch.tensor([[-1.0, 0.0]]), torch.tensor([0])
    with torch.no_grad():
        logits = loss.logits(emb, labels)
    assert math.isclose(float(logits[0, 0]), -1.0 - 0.5 * math.sin(0.5), abs_tol=1e-5)
    assert math.isclose(float(logits[0, 1]), 0.0, abs_tol=1e-5)


def test_proxy_margin_zero_is_cross_entropy_on_scaled_cosine() -> None:
    torch.manual_seed(0)
    emb, labels = _batch()
    loss = ProxyLoss(DIM, num_classes=4, scale=30.0, margin=0.0)
    logits = 30.0 * F.normalize(emb, dim=1) @ F.normalize(loss.proxies, dim=1).T
    assert torch.allclose(loss(emb, labels), F.cross_entropy(logits, labels), atol=1e-6)


def test_margin_makes_proxy_loss_larger() -> None:
    torch.manual_seed(0)
    emb, labels = _batch()
    plain = ProxyLoss(DIM, num_classes=4, margin=0.0)
    margined = ProxyLoss(DIM, num_classes=4, margin=0.3)
    margined.load_state_dict(plain.state_dict())
    assert margined(emb, labels) > plain(emb, labels)


# --- distances ---------------------------------------------------------------------------------


def test_cosine_helpers() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(5, 4), torch.randn(3, 4)
    sim = cosine_similarity_matrix(a, b)
    assert sim.shape == (5, 3)
    for i, j in itertools.product(range(5), range(3)):
        assert math.isclose(float(sim[i, j]), _cos(a[i], b[j]), abs_tol=1e-6)
    assert torch.allclose(cosine_similarity_matrix(a, a).diagonal(), torch.ones(5), atol=1e-6)


def test_cosine_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        cosine_similarity_matrix(torch.randn(4), torch.randn(3, 4))
    with pytest.raises(ValueError, match="same D"):
        cosine_similarity_matrix(torch.randn(2, 4), torch.randn(3, 5))


# --- gradients and edge cases ------------------------------------------------------------------


def _all_losses(num_classes: int = 4) -> list[nn.Module]:
    return [
        TripletLoss(mining="semihard"),
        TripletLoss(mining="hard"),
        TripletLoss(mining="all"),
        ContrastiveLoss(),
        PairLoss(DIM, hidden=16),
        ProxyLoss(DIM, num_classes=num_classes),
    ]


@pytest.mark.parametrize(
    "loss", _all_losses(), ids=lambda m: f"{type(m).__name__}-{getattr(m, 'mining', '')}"
)
def test_gradient_reaches_embeddings_and_parameters(loss: nn.Module) -> None:
    torch.manual_seed(0)
    emb, labels = _batch()
    emb.requires_grad_(True)
    value = loss(emb, labels)
    assert value.ndim == 0 and torch.isfinite(value)
    value.backward()
    assert emb.grad is not None and torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0
    for name, param in loss.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    "loss", _all_losses(), ids=lambda m: f"{type(m).__name__}-{getattr(m, 'mining', '')}"
)
def test_single_artist_batch(loss: nn.Module) -> None:
    emb = F.normalize(torch.randn(4, DIM), dim=1).requires_grad_(True)
    labels = torch.zeros(4, dtype=torch.int64)
    value = loss(emb, labels)
    value.backward()  # no triplet, no negative pair: still a scalar that backpropagates
    assert emb.grad is not None and torch.isfinite(value) and torch.isfinite(emb.grad).all()
    if isinstance(loss, TripletLoss):
        assert value.detach().item() == 0.0


@pytest.mark.parametrize(
    "loss", _all_losses(), ids=lambda m: f"{type(m).__name__}-{getattr(m, 'mining', '')}"
)
def test_one_image_batch_and_lone_images(loss: nn.Module) -> None:
    emb = F.normalize(torch.randn(1, DIM), dim=1).requires_grad_(True)
    value = loss(emb, torch.tensor([2]))
    value.backward()
    assert emb.grad is not None and torch.isfinite(value) and torch.isfinite(emb.grad).all()
    # Every artist with one image: no positive pair at all.
    emb = F.normalize(torch.randn(4, DIM), dim=1).requires_grad_(True)
    value = loss(emb, torch.tensor([0, 1, 2, 3]))
    value.backward()
    assert emb.grad is not None and torch.isfinite(value) and torch.isfinite(emb.grad).all()
    if isinstance(loss, TripletLoss):
        assert value.detach().item() == 0.0


@pytest.mark.parametrize("mining", ["semihard", "hard", "all"])
def test_triplet_ignores_lone_artist_and_matches_loop(mining: str) -> None:
    emb, labels = _batch(artists=3, per_artist=3, seed=4)
    emb = torch.cat([emb, F.normalize(torch.randn(1, DIM), dim=1)])
    labels = torch.cat([labels, torch.tensor([9])])  # artist 9 has one painting: a negative only
    got = TripletLoss(0.2, mining)(emb, labels)
    assert torch.allclose(got, torch.tensor(_triplet_reference(emb, labels, 0.2, mining)), atol=1e-5)


def test_triplet_zero_when_all_triplets_are_easy() -> None:
    # Two artists on opposite poles: every triplet is satisfied, so batch-all has nothing to average.
    emb = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]], requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1])
    for mining in ("semihard", "hard", "all"):
        value = TripletLoss(0.2, mining)(emb, labels)
        assert value.detach().item() == 0.0
        value.backward()


# --- learning ----------------------------------------------------------------------------------


def _toy_problem() -> tuple[torch.Tensor, torch.Tensor]:
    """Separable features: 4 artists, 6 paintings each, around random centres in 16 dimensions."""
    gen = torch.Generator().manual_seed(7)
    centres = 3.0 * torch.randn(4, 16, generator=gen)
    labels = torch.arange(4).repeat_interleave(6)
    return centres[labels] + torch.randn(24, 16, generator=gen), labels


@pytest.mark.parametrize("name", [*LOSSES, "triplet-hard", "triplet-all"])
def test_a_few_steps_lower_the_loss(name: str) -> None:
    torch.manual_seed(0)
    features, labels = _toy_problem()
    if name.startswith("triplet-"):
        loss_fn: nn.Module = TripletLoss(margin=0.5, mining=name.split("-")[1])
    elif name == "triplet":
        loss_fn = TripletLoss(margin=0.5)
    else:
        loss_fn = build_loss(name, embedding_dim=DIM, num_classes=4)
    layer = nn.Linear(16, DIM)
    opt = torch.optim.Adam([*layer.parameters(), *loss_fn.parameters()], lr=0.01)

    def value() -> torch.Tensor:
        return loss_fn(F.normalize(layer(features), dim=1), labels)

    with torch.no_grad():
        before = float(value())
    for _ in range(30):
        opt.zero_grad()
        value().backward()
        opt.step()
    with torch.no_grad():
        after = float(value())
    assert after < 0.8 * before, (before, after)


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss", _all_losses(), ids=lambda m: f"{type(m).__name__}-{getattr(m, 'mining', '')}"
)
def test_shape_errors_name_the_expected_shape(loss: nn.Module) -> None:
    emb = F.normalize(torch.randn(6, DIM), dim=1)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match=r"embeddings of shape \[N, D\]"):
        loss(emb.flatten(), labels)
    with pytest.raises(ValueError, match=r"labels of shape \[N\]"):
        loss(emb, labels[:, None])
    with pytest.raises(ValueError, match=r"labels of shape \[N\] = \[6\]"):
        loss(emb, labels[:5])
    with pytest.raises(ValueError, match="integer artist ids"):
        loss(emb, labels.float())
    with pytest.raises(ValueError, match="N >= 1"):
        loss(emb[:0], labels[:0])


def test_parametrised_losses_check_the_embedding_dim() -> None:
    emb, labels = F.normalize(torch.randn(4, DIM + 1), dim=1), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match=rf"\[N, {DIM}\]"):
        PairLoss(DIM)(emb, labels)
    with pytest.raises(ValueError, match=rf"\[N, {DIM}\]"):
        PairLoss(DIM).pair_logits(emb, emb)
    with pytest.raises(ValueError, match=rf"\[N, {DIM}\]"):
        ProxyLoss(DIM, 2)(emb, labels)


def test_proxy_rejects_labels_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        ProxyLoss(DIM, 3)(F.normalize(torch.randn(2, DIM), dim=1), torch.tensor([0, 3]))


def test_build_loss() -> None:
    assert isinstance(build_loss("triplet", embedding_dim=DIM, num_classes=4), TripletLoss)
    assert build_loss("triplet", embedding_dim=DIM, num_classes=4, margin=0.4).margin == 0.4
    assert build_loss("contrastive", embedding_dim=DIM, num_classes=4, margin=0.7).neg_margin == 0.7
    proxy = build_loss("proxy", embedding_dim=DIM, num_classes=5, margin=0.1)
    assert isinstance(proxy, ProxyLoss) and proxy.proxies.shape == (5, DIM) and proxy.margin == 0.1
    assert isinstance(build_loss("pair", embedding_dim=DIM, num_classes=4), PairLoss)
    with pytest.raises(ValueError, match="triplet, contrastive, pair, proxy"):
        build_loss("arcface", embedding_dim=DIM, num_classes=4)
    with pytest.raises(ValueError, match="no margin"):
        build_loss("pair", embedding_dim=DIM, num_classes=4, margin=0.3)
    with pytest.raises(ValueError, match="semihard, hard, all"):
        TripletLoss(mining="easy")
    with pytest.raises(ValueError, match="neg_margin"):
        ContrastiveLoss(pos_margin=0.5, neg_margin=0.5)
