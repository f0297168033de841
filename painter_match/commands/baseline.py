"""``painter-match baseline DATA_DIR``: the colour-histogram floor on labelled pairs (`painter_match.evaluation.baselines`)."""

from __future__ import annotations

import argparse

from painter_match.commands.common import (
    add_command,
    add_output_options,
    add_pairs_options,
    add_workers,
    positive_int,
    print_json,
)


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(
        commands,
        "baseline",
        help="score labelled pairs with colour histograms (the floor a model must beat)",
        description="ROC AUC of colour-histogram similarity on the same pairs `evaluate` uses: --pairs with "
        "--solution, else the folder's submission_info.csv + solution.csv, else every pair of its labelled "
        "paintings (capped per artist).",
    )
    add_pairs_options(parser)
    parser.add_argument("--size", type=positive_int, default=128, help="image side the histogram is taken at")
    add_workers(parser)
    add_output_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from painter_match.evaluation.baselines import evaluate_colour_histogram
    from painter_match.progress import progress_bar

    with progress_bar("colour histograms", quiet=args.quiet, unit="images") as bar:
        report = evaluate_colour_histogram(
            args.data_dir,
            size=args.size,
            max_per_artist=args.max_per_artist,
            pairs_file=args.pairs,
            solution_file=args.solution,
            seed=args.seed,
            workers=args.workers,
            advance=bar.advance,
            on_total=bar.set_total,
        )
    if args.json:
        print_json(report.to_dict())
    else:
        print(
            f"colour-histogram baseline on {report.pairs_scored:,} of {report.pairs:,} pairs "
            f"({report.pairs_source}; {report.same_artist_share:.1%} same-artist, "
            f"{report.unreadable_images} unreadable images)\n"
            f"ROC AUC {report.roc_auc:.4f}   accuracy {report.accuracy:.4f} at similarity >= {report.threshold:.4f}"
        )
    return 0
