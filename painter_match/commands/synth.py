"""``painter-match synth OUT_DIR``: deterministic synthetic painters in the Kaggle layout (`painter_match.data.synth`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from painter_match.commands.common import (
    add_command,
    add_output_options,
    add_workers,
    non_negative_int,
    positive_int,
    print_json,
    say,
)


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(
        commands,
        "synth",
        help="write synthetic painters in the Kaggle layout",
        description="Write a deterministic set of synthetic painters in exactly the Kaggle layout "
        "(train/, test/, train_info.csv, all_data_info.csv, submission_info.csv, solution.csv).",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="folder to create")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives byte-identical output")
    parser.add_argument("--artists", type=positive_int, default=24, help="artists with paintings in train/")
    parser.add_argument(
        "--test-artists", type=non_negative_int, default=8, help="artists found only in test/ (never seen)"
    )
    parser.add_argument("--paintings", type=positive_int, default=14, help="mean paintings per artist")
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of each training artist's paintings put in test/",
    )
    parser.add_argument(
        "--group-size",
        type=positive_int,
        default=40,
        help="test images per group; every pair within a group is listed",
    )
    parser.add_argument(
        "--balanced-pairs",
        type=positive_int,
        default=None,
        metavar="N",
        help="list N pairs, half same-artist, instead",
    )
    parser.add_argument(
        "--corrupt", type=non_negative_int, default=0, help="extra corrupt files, as the real data has"
    )
    parser.add_argument("--min-size", type=positive_int, default=300, help="smallest long side, pixels")
    parser.add_argument("--max-size", type=positive_int, default=2000, help="largest long side, pixels")
    add_workers(parser)
    parser.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")
    add_output_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from painter_match.data.synth import SynthConfig, generate
    from painter_match.progress import progress_bar

    config = SynthConfig(
        seed=args.seed,
        artists=args.artists,
        test_artists=args.test_artists,
        paintings=args.paintings,
        test_fraction=args.test_fraction,
        group_size=args.group_size,
        balanced_pairs=args.balanced_pairs,
        corrupt=args.corrupt,
        min_size=args.min_size,
        max_size=args.max_size,
        workers=args.workers,
    )
    parent = args.out_dir.parent
    if not parent.exists():
        # The data set is a folder this command makes, parents included (`make demo` writes
        # data/synth in a fresh clone); a folder is never made without a word (docs/reliability.md).
        say(args, f"creating the folder {parent} for {args.out_dir}")
    with progress_bar("painting", config.total_paintings(), quiet=args.quiet, unit="paintings") as bar:
        summary = generate(args.out_dir, config, advance=bar.advance, force=args.force)
    if args.json:
        print_json(summary.to_dict())
    else:
        print(summary.describe())
    return 0
