"""``painter-match merge OUT.npz SHARD...``: one embeddings file from the shards of an ``embed --shard K/N``.

A thin layer over `painter_match.inference.scale_out.shards.merge_embeddings`, which checks that
the shards share one model and view policy and hold disjoint images, and writes the file an
unsharded run would have written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from painter_match.commands.common import add_command, print_json, say


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(
        commands,
        "merge",
        help="merge the embeddings files of `embed --shard K/N` into one",
        description="Merge the embeddings files the shards of one `painter-match embed DIR --shard K/N` wrote "
        "into OUT: every file must come from the same model and --views, no image may be in two, and every "
        "shard of the split must be there (--allow-partial merges fewer). The rows are ordered as one "
        "unsharded run would order them.",
    )
    parser.add_argument("output", metavar="OUT.npz", type=Path, help="the merged embeddings file to write")
    parser.add_argument("shards", metavar="SHARD", type=Path, nargs="+", help="the shards' embeddings files")
    parser.add_argument("--force", action="store_true", help="replace OUT when it exists")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="merge files that are not every shard of one --shard K/N split (or that record no shard); "
        "without it an incomplete set is refused",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no notes on stderr")
    return parser


def run(args: argparse.Namespace) -> int:
    from painter_match.inference.scale_out.shards import merge_embeddings

    result = merge_embeddings(args.output, args.shards, force=args.force, allow_partial=args.allow_partial)
    for note in result.notes:
        say(args, f"note: {note}")
    if args.json:
        print_json(result.to_dict())
        return 0
    print(
        f"merged {len(result.counts)} shards ({', '.join(f'{c:,}' for c in result.counts)} images) -> "
        f"{result.output} ({len(result.embeddings):,} vectors of {result.embeddings.source.info.embedding_dim})"
    )
    if result.errors_csv:
        print(f"{result.unreadable:,} unreadable images skipped by the shards, listed in {result.errors_csv}")
    return 0
