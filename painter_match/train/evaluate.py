"""`painter-match evaluate`: how well a trained checkpoint tells artists apart, on labelled pairs.

The pairs come from a Kaggle folder's ``submission_info.csv`` + ``solution.csv``, from an
explicit pairs file with its ground truth, or (for any labelled folder) from every pair of
paintings with at most ``max_per_artist`` paintings per artist, so that one prolific painter
does not dominate. It reports ROC AUC, the accuracy and confusion matrix at the model's
calibrated threshold, AUC separately for pairs of artists seen in training and never seen, the
colour-histogram baseline on the same pairs, and writes a ROC curve PNG.
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
from painter_match.errors import DataError
from painter_match.labelled_pairs import LabelledPairs, labelled_pairs
from painter_match.metrics import confusion_at, roc_auc, roc_curve
from painter_match.similarity import pair_similarity
from painter_match.train.augment import EvalTransform
from painter_match.train.backbones import Encoder, encoder_from_config
from painter_match.train.checkpoint import load_checkpoint, load_state_strict
from painter_match.train.data import PaintingDataset
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
    data_dir: str | Path,
    *,
    pairs_file: Path | None = None,
    solution_file: Path | None = None,
    max_per_artist: int | None = 60,
    roc_png: Path | None = None,
    baseline: bool = True,
    seed: int = 0,
    workers: int = 0,
) -> EvaluationReport:
    """Score labelled pairs with a checkpoint; see the module docstring."""
    encoder, state = load_model(checkpoint)
    calibration = Calibration.from_dict(state["calibration"])
    pairs = labelled_pairs(
        Path(data_dir),
        pairs_file=pairs_file,
        solution_file=solution_file,
        max_per_artist=max_per_artist,
        seed=seed,
    )
    dataset = PaintingDataset(
        pairs.root,
        pairs.images,
        [0] * len(pairs.images),
        EvalTransform(encoder.input_size),
        load_side=encoder.input_size,
    )
    with torch.inference_mode():
        embeddings, indices, failures = embed_dataset(encoder, dataset, torch.device("cpu"), workers=workers)
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
        unreadable_images=[{"path": pairs.images[i], "cause": cause} for i, cause in failures],
        max_per_artist=max_per_artist,
        roc_png=str(roc_png) if roc_png else None,
    )
