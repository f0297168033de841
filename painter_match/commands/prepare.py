"""``painter-match prepare DATA_DIR -o OUT_DIR``: a resized copy of a data folder (`painter_match.data.prepare`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from painter_match.commands.common import (
    add_command,
    add_data_dir,
    add_output_options,
    add_workers,
    positive_int,
    print_json,
)


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(
        commands,
        "prepare",
        help="write a resized copy of a data folder so training skips huge decodes",
        description="Copy DATA_DIR's layout and CSVs into OUT_DIR with every image decoded once and saved "
        "with its shorter side at most --size pixels. Train on OUT_DIR afterwards. A rerun only does what is missing.",
    )
    add_data_dir(parser)
    parser.add_argument("-o", "--out", dest="out_dir", metavar="OUT_DIR", type=Path, required=True)
    parser.add_argument("--size", type=positive_int, default=256, help="largest shorter side, pixels")
    add_workers(parser)
    add_output_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from painter_match.data.prepare import prepare
    from painter_match.progress import progress_bar

    with progress_bar("resizing", quiet=args.quiet, unit="images") as bar:
        report = prepare(
            args.data_dir,
            args.out_dir,
            size=args.size,
            workers=args.workers,
            advance=bar.advance,
            on_total=bar.set_total,
        )
    if args.json:
        print_json(report.to_dict())
    else:
        print(
            f"prepared {report.out_dir}: {report.written:,} written, {report.already_there:,} already there, "
            f"{len(report.unreadable):,} unreadable (shorter side <= {report.size} px)"
        )
        for entry in report.unreadable:
            print(f"  unreadable {entry['path']}: {entry['cause']}")
    return 0
