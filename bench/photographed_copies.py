"""Yardstick c's photographed copies: fold 0's held-out paintings as a camera would give them back.

The paintings are those `train --hold-out-fold 0/4` holds out of the two shared folders (all
their readable paintings, at most 60 an artist, then at most 10 an artist, seed 0 both times:
814 paintings of 82 artists), each photographed by `painter_match.data.photographed` at every
strength with its own seed (``test-{strength}`` salt, `TEST_RANGES`) and written as
``OUT/s{strength}/{folder}/{artist}/{file}`` (JPEG quality 95), so `painter-match evaluate MODEL
OUT/s1.0/*` scores them by artist. Files already there are kept: the same painting at the same
strength always comes out the same, so a stopped run goes on where it stopped; each file is
written to a temporary name and renamed.

    python -m bench.photographed_copies [--data ../shared/data] [--out runs/photographed]

`make real-photographed` writes them and evaluates fold 0's model on them (docs/real-photographs.md).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

FOLDERS = ("real-paintings-128", "wikiart-224")
STRENGTHS = (0.25, 0.5, 0.75, 1.0)
FOLD = "0/4"


def held_out_paintings(data: Path) -> list[str]:
    """The paths (relative to ``data``) of the fold's paintings that are photographed."""
    from painter_match.data.catalogue import artist_key, read_catalogue
    from painter_match.data.selection import cap_per_artist, fold_artists

    catalogue = read_catalogue([data / folder for folder in FOLDERS], subset="train")
    paintings = catalogue.paintings.reset_index(drop=True)
    held_out = paintings[paintings["artist"].map(artist_key).isin(fold_artists(paintings, FOLD))]
    readable = held_out[[_readable(data / path) for path in held_out["path"]]]
    return list(cap_per_artist(cap_per_artist(readable, 60, seed=0), 10, seed=0)["path"])


def write_copies(
    data: Path, out: Path, strengths: Sequence[float] = STRENGTHS, *, quiet: bool = False
) -> int:
    """Photograph every held-out painting at every strength into ``out``; the number written now."""
    from painter_match.atomic import write_bytes
    from painter_match.data.images import load_image
    from painter_match.data.photographed import TEST_RANGES, photograph, seed_for
    from painter_match.progress import progress_bar

    paths = held_out_paintings(data)
    written = 0
    with progress_bar("Photographing", len(paths) * len(strengths), quiet=quiet, unit="copies") as bar:
        for strength in strengths:
            for path in paths:
                target = out / f"s{strength}" / path
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    copy = photograph(
                        load_image(data / path), strength, seed_for(path, f"test-{strength}"), TEST_RANGES
                    )
                    buffer = io.BytesIO()
                    copy.save(buffer, format="JPEG", quality=95)
                    write_bytes(target, buffer.getvalue())
                    written += 1
                bar.advance()
    return written


def _readable(path: Path) -> bool:
    from painter_match.data.images import load_image
    from painter_match.errors import PainterMatchError

    try:
        load_image(path)
    except (OSError, ValueError, PainterMatchError):
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.photographed_copies", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--data", type=Path, default=Path("../shared/data"), help="the folder holding both shared sets"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/photographed"), help="where the copies go")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    missing = [folder for folder in FOLDERS if not (args.data / folder).is_dir()]
    if missing:
        print(f"{args.data / missing[0]} is absent: nothing to photograph; skipping (not an error)")
        return 0
    written = write_copies(args.data, args.out, quiet=args.quiet)
    print(f"{written} copies written, the rest already there, under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
