"""``painter-match evaluate MODEL DATA_DIR...``: a model on labelled pairs (`painter_match.evaluation.evaluate`).

An exported ``.onnx`` model needs only the inference install; a trainer checkpoint, and the
ImageNet baseline, are embedded by `painter_match.train.embedding` (torch), which this command
passes in when torch is there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from painter_match.commands.common import (
    add_collection_option,
    add_command,
    add_find_painting_options,
    add_html_option,
    add_output_options,
    add_pairs_options,
    add_workers,
    check_html_output,
    import_training,
    non_negative_int,
    print_json,
)
from painter_match.errors import PainterMatchError, UsageError


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    evaluate = add_command(
        commands,
        "evaluate",
        help="ROC AUC, accuracy, confusion matrix and ROC curve of a model on labelled pairs",
        description="Score labelled pairs with a trained checkpoint: --pairs with --solution, else the "
        "folder's submission_info.csv + solution.csv, else every pair of its labelled paintings (capped per "
        "artist). AUC is also given for pairs of artists seen in training and never seen, beside two "
        "baselines on the same pairs: colour histograms, and ImageNet features with no training "
        "(EfficientNet-Lite0 pooled at 224 px, standardised per dimension, cosine). MODEL may be an "
        "exported .onnx file, embedded as `embed` does (with its views policy, or --views).",
    )
    evaluate.add_argument(
        "model", metavar="MODEL", type=Path, help="a trainer checkpoint (best.pt) or an exported .onnx model"
    )
    add_pairs_options(evaluate, several=True)
    evaluate.add_argument(
        "--artists",
        metavar="FILE",
        type=Path,
        default=None,
        help="score only pairs of the artists in FILE (one a line), e.g. a fold held out with train --exclude-artists",
    )
    evaluate.add_argument(
        "--fold",
        metavar="K/N",
        default=None,
        help="score only pairs of fold K of N artist-disjoint folds (the artists train --hold-out-fold K/N left out)",
    )
    evaluate.add_argument("--roc", type=Path, default=None, help="write the ROC curve PNG here")
    add_html_option(
        evaluate,
        "ROC with the baselines' curves, similarity histograms, reliability diagram, per-artist AUC "
        "(worst first) and the most confident mistakes as thumbnail pairs",
    )
    evaluate.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the colour-histogram and ImageNet baselines",
    )
    evaluate.add_argument(
        "--views",
        type=non_negative_int,
        default=None,
        help="an .onnx model's views: a global view plus this many crops (default: the model's own)",
    )
    evaluate.add_argument(
        "--view-scale", type=float, default=2.0, help="with --views: crops' scale (x the input size)"
    )
    add_collection_option(evaluate, "the paintings evaluated")
    add_find_painting_options(
        evaluate, default="auto for an .onnx model, as embed does; a trainer checkpoint embeds whole images"
    )
    add_workers(evaluate)
    add_output_options(evaluate)
    return evaluate


def run(args: argparse.Namespace) -> int:
    from painter_match.atomic import check_output
    from painter_match.data.catalogue import read_artist_list, read_catalogue
    from painter_match.data.selection import fold_artists
    from painter_match.data.views import Views
    from painter_match.evaluation.evaluate import evaluate
    from painter_match.inference.runtime import choose_views

    inputs: list[tuple[str, str | Path | None]] = [
        ("model", args.model),
        ("pairs file", args.pairs),
        ("solution file", args.solution),
        ("artists file", args.artists),
        *(("data folder", folder) for folder in args.data_dir),
    ]
    check_html_output(args, inputs)
    if args.roc is not None:  # the same rule as --html: an input never, an existing file with --force
        check_output(args.roc, force=args.force, inputs=inputs, option="--roc")
    artists = read_artist_list(args.artists) if args.artists else None
    if args.fold:
        try:
            fold = fold_artists(read_catalogue(args.data_dir).paintings, args.fold)
        except ValueError as err:
            raise PainterMatchError(f"--fold: {err}") from None
        artists = fold if artists is None else artists & fold
    embedder = imagenet = None
    if args.model.suffix.lower() != ".onnx":
        if args.find_painting not in (None, "off"):  # before the checkpoint is read
            raise UsageError(
                f"--find-painting {args.find_painting} looks for paintings with an exported .onnx model only: "
                f"{args.model} is a trainer checkpoint, whose images are embedded whole; export it, or leave "
                "--find-painting out"
            )
        training = import_training("painter_match.train.embedding")
        embedder = training.checkpoint_embedder(args.model, workers=args.workers)
    if args.baseline:
        try:
            import painter_match.train.embedding as training_side
        except ImportError:
            pass  # an inference-only install: the ImageNet baseline is skipped, with the reason
        else:
            imagenet = training_side.imagenet_features
    report = evaluate(
        args.model,
        args.data_dir,
        embedder=embedder,
        imagenet_features=imagenet,
        artists=artists,
        pairs_file=args.pairs,
        solution_file=args.solution,
        max_per_artist=args.max_per_artist,
        roc_png=args.roc,
        html=args.html,
        baseline=args.baseline,
        seed=args.seed,
        workers=args.workers,
        # --views N --view-scale S read as the API reads a number of crops; left out: the model's own.
        views=None if args.views is None else choose_views(args.views, Views(), crop_scale=args.view_scale),
        collection=args.collection,
        find_painting=args.find_painting,
        painting_edge=args.painting_edge,
    )
    if args.json:
        print_json(report.to_dict())
        return 0

    def auc(value: float | None, pairs: int) -> str:
        return f"{value:.4f} ({pairs:,} pairs)" if value is not None else f"n/a ({pairs:,} pairs)"

    c = report.confusion
    lines = [
        f"pairs         {report.pairs_scored:,} of {report.pairs:,} scored ({report.pairs_source}); "
        f"{report.same_artist_share:.2%} same-artist"
        + (
            f"; at most {report.max_per_artist} paintings per artist"
            if report.max_per_artist and "per artist" not in report.pairs_source
            else ""
        ),
        f"ROC AUC       {report.roc_auc:.4f}"
        + (
            f"  (views: global + {report.views['crops']} crops at {report.views['crop_scale']}x)"
            if report.views
            else ""
        ),
        *(
            [
                f"seen artists  {auc(report.auc_seen_artists, report.pairs_seen_artists)}",
                f"unseen        {auc(report.auc_unseen_artists, report.pairs_unseen_artists)}",
            ]
            if report.training_artists_known
            else ["seen/unseen   n/a: the model does not record its training artists (re-export it)"]
        ),
        f"accuracy      {report.accuracy:.4f} at the calibrated threshold {report.threshold:.4f}",
        f"confusion     same->same {c['true_same']:,}  different->same {c['false_same']:,}  "
        f"same->different {c['false_different']:,}  different->different {c['true_different']:,}",
    ]
    check = report.calibration_check
    collection = report.collection or {}
    lines.append(
        f"collection    {'centred on the mean of the ' + format(collection['paintings'], ',') + ' paintings evaluated' if collection.get('method') == 'centre' else 'compared as they are'}"
        + (f" ({collection['reason']})" if collection.get("reason") else "")
    )
    if check is not None:
        lines.append(
            f"verdicts      at P(same) >= 0.5: accuracy {check['accuracy']:.4f} (calling every pair different: "
            f"{check['accuracy_all_different']:.4f}); {check['different_called_same']:.1%} of different-artist "
            f"pairs called the same, {check['same_called_same']:.1%} of same-artist pairs; ECE {check['ece']:.4f}"
        )
        lines.append(
            f"calibration   mean P(same) {check['mean_probability']:.4f} for a same-artist share of "
            f"{check['pairs_share']:.4f} (fitted at {check['fitted_share']:.3g}), log-loss {check['log_loss']:.4f}"
        )
        moved = check["moved"]
        if moved is not None:
            lines.append(
                f"  --prior {moved['prior']:.4g}  mean P(same) {moved['mean_probability']:.4f}, log-loss "
                f"{moved['log_loss']:.4f}, accuracy {moved['accuracy']:.4f} at threshold {moved['threshold']:.4f}"
            )
    if report.colour_histogram_auc is not None:
        lines.append(
            f"baseline      colour histogram ROC AUC {report.colour_histogram_auc:.4f} on the same pairs"
        )
    if report.imagenet_auc is not None:
        lines.append(
            f"baseline      ImageNet features, no training, ROC AUC {report.imagenet_auc:.4f} on the same pairs"
        )
    elif args.baseline:
        lines.append(f"baseline      ImageNet features skipped: {report.imagenet_skipped}")
    if report.find_painting is not None:
        from painter_match.inference.painting_records import summary_text

        lines.append(f"paintings     {summary_text(report.find_painting)}")
    if report.unreadable_images:
        lines.append(f"unreadable    {len(report.unreadable_images)} images skipped with their pairs")
    if report.roc_png:
        lines.append(f"ROC curve     {report.roc_png}")
    if report.html:
        lines.append(f"HTML report   {report.html}")
    print("\n".join(lines))
    return 0
