"""``painter-match scan DATA_DIR...``: what a data folder holds, checked before training (`painter_match.data.scan`)."""

from __future__ import annotations

import argparse

from painter_match.commands.common import (
    add_command,
    add_data_dir,
    add_output_options,
    add_workers,
    print_json,
)


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(
        commands,
        "scan",
        help="check a data folder before training",
        description="Report a data folder's layout, images listed / present / missing / unreadable "
        "(with causes), artists, and paintings per artist.",
    )
    add_data_dir(parser, several=True)
    parser.add_argument("--no-decode", action="store_true", help="only check presence; do not decode images")
    add_workers(parser)
    add_output_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from painter_match.data.scan import combined_artists, format_report, scan
    from painter_match.progress import progress_bar

    reports = []
    for folder in args.data_dir:
        with progress_bar(f"checking {folder}", quiet=args.quiet, unit="images") as bar:
            reports.append(
                scan(
                    folder,
                    decode=not args.no_decode,
                    workers=args.workers,
                    advance=bar.advance,
                    on_total=bar.set_total,
                )
            )
    combined = combined_artists(args.data_dir) if len(reports) > 1 else {}
    if args.json:
        # One folder keeps the report it always had; several give one report each and the total.
        print_json(
            reports[0].to_dict()
            if len(reports) == 1
            else {"folders": [r.to_dict() for r in reports], **combined}
        )
    else:
        print("\n\n".join(format_report(report) for report in reports))
        if len(reports) > 1:
            print(
                f"\n{len(reports)} folders read together: {combined['artists']:,} artists, "
                f"{combined['shared_artists']:,} of them in more than one folder (one artist each)"
            )
    return 0
