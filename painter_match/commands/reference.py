"""``painter-match reference TRAIN.npz --labels LABELS -o ref.npz``: fit a labelled reference set.

One call of `painter_match.inference.labelled.make_reference`: the labelled paintings'
embeddings (from `embed`) and their artists (read by the one label reader that ``similar
--labels`` uses: a Kaggle ``train_info.csv`` / ``all_data_info.csv`` by file name, or a
folder-per-artist tree whose folders are the artists) become a `Reference`, its pair model is
fitted on held-out paintings of its own artists, and the result is written atomically for
``score --reference`` and ``verify --reference``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from painter_match.commands.common import add_command, positive_int, print_json, say


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(
        commands,
        "reference",
        help="fit a labelled reference set for score/verify --reference",
        description="Build a reference set from the embeddings of labelled paintings (`painter-match embed "
        "train/ -o train.npz`) and their artists, fit how a pair's cosine and the two paintings' nearest "
        "reference artists combine (on held-out paintings and held-out artists of the reference itself), "
        "and write it to OUT for `score --reference` and `verify --reference`.",
    )
    parser.add_argument("embeddings", metavar="EMBEDDINGS", type=Path, help="embeddings file from `embed`")
    parser.add_argument(
        "--labels",
        type=Path,
        required=True,
        help="artists: train_info.csv or all_data_info.csv (by file name), or a folder-per-artist tree",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="reference file to write (.npz)")
    parser.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    parser.add_argument(
        "--skip-unlabelled",
        action="store_true",
        help="leave out embedded paintings without a label (default: refuse them)",
    )
    parser.add_argument(
        "--unseen-artists",
        type=Path,
        default=None,
        help="file of artist names (one a line) to hold out whole while fitting, e.g. the trainer's "
        "validation artists (default: a random quarter of the artists)",
    )
    parser.add_argument(
        "--max-pairs", type=positive_int, default=400_000, help="held-out pairs the pair model is fitted on"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out split and pair sample")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no notes on stderr")
    return parser


def run(args: argparse.Namespace) -> int:
    from painter_match.inference.labelled import make_reference

    made = make_reference(
        args.embeddings,
        args.labels,
        args.output,
        skip_unlabelled=args.skip_unlabelled,
        unseen_artists=args.unseen_artists,
        max_pairs=args.max_pairs,
        seed=args.seed,
        force=args.force,
        log=lambda line: say(args, line),
    )
    result = made.to_dict()
    if args.json:
        print_json(result)
        return 0
    print(describe(result))
    return 0


def describe(result: dict[str, Any]) -> str:
    combiner = result["combiner"]
    report = combiner["report"]
    shrinkage = combiner["shrinkage"]
    lines = [
        f"reference of {result['paintings']:,} paintings by {result['artists']:,} artists -> {result['output']}",
        f"posterior: k={combiner['k']}, temperature {combiner['temperature']:g}, unknown artist at "
        f"similarity {combiner['unknown_similarity']:.4f}; projection "
        f"{'none' if shrinkage is None else f'shrinkage {shrinkage:g}'}; near-duplicate from "
        f"{combiner['near_duplicate']:.4f}",
    ]
    parts = [f"cross-validated {report.get('auc_cross_validated', float('nan')):.4f}"]
    for name in ("", "_seen", "_unseen"):
        if f"auc{name}" in report:
            parts.append(
                f"{name.strip('_') or 'all'} {report[f'auc{name}']:.4f} (cosine {report[f'auc{name}_cosine']:.4f})"
            )
    lines.append(f"held-out pair AUC ({combiner['pairs']:,} pairs): " + ", ".join(parts))
    if result["unlabelled_skipped"]:
        lines.append(f"{result['unlabelled_skipped']:,} unlabelled paintings left out")
    return "\n".join(lines)
