"""`painter-match scan`: what a data folder holds, checked before anyone trains on it.

Lists the paintings through the data layer, then checks each listed file: present or missing,
and (unless told not to) decodable, with the cause when it is not. It reports the artists and
how many usable paintings each has, since artists with a single painting can give no
same-artist pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from painter_match.data.catalogue import artist_key, files_on_disk, read_catalogue
from painter_match.data.images import load_image
from painter_match.errors import ImageLoadError
from painter_match.workers import worker_count

# Decoding at a small size checks the whole compressed stream (a truncated file still fails)
# while JPEG draft mode keeps a 100-megapixel painting cheap.
_CHECK_SIDE = 64
# At most this many names are listed for missing files; the count is always complete.
_LIST_LIMIT = 20


@dataclass(frozen=True)
class ArtistStats:
    """Usable paintings per artist."""

    artists: int
    min: int
    median: float
    max: int
    fewer_than_two: int


@dataclass(frozen=True)
class ScanReport:
    """The result of a scan; ``to_dict`` is what ``--json`` prints."""

    data_dir: str
    layout: str
    source: str
    listed: int
    present: int
    missing: int
    unreadable: int
    usable: int
    train_images: int
    test_images: int
    listed_artists: int
    usable_artists: ArtistStats
    decoded: bool
    missing_examples: list[str] = field(default_factory=list)
    unreadable_files: list[dict[str, str]] = field(default_factory=list)
    unlisted: int = 0
    ignored_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def scan(
    data_dir: str | Path,
    *,
    decode: bool = True,
    workers: int | None = None,
    advance: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ScanReport:
    """Check every painting a data folder lists.

    Args:
        data_dir: a Kaggle-layout or folder-per-artist folder.
        decode: also decode each present file (slower, but finds corrupt ones).
        workers: decoding threads; default one per core (Pillow decodes without the GIL).
        advance: called with the number of files checked, for a progress bar.
        on_total: called once with the number of files that will be checked.

    Raises:
        DataError: when the folder or its listing is unusable (see ``read_catalogue``).
    """
    catalogue = read_catalogue(data_dir)
    root = catalogue.root
    paintings = catalogue.paintings
    on_disk = _files_on_disk(root, catalogue.layout, paintings)
    present_mask = paintings["path"].isin(on_disk).to_numpy()
    present = paintings[present_mask]

    unreadable: list[dict[str, str]] = []
    if decode:
        if on_total:
            on_total(len(present))
        unreadable = _find_unreadable(root, list(present["path"]), workers, advance)
    bad = {entry["path"] for entry in unreadable}
    usable = present[~present["path"].isin(bad)]
    listed_paths = set(paintings["path"])
    return ScanReport(
        data_dir=str(root),
        layout=catalogue.layout,
        source=catalogue.source,
        listed=len(paintings),
        present=len(present),
        missing=int((~present_mask).sum()),
        unreadable=len(unreadable),
        usable=len(usable),
        train_images=int(paintings["in_train"].sum()),
        test_images=int((~paintings["in_train"]).sum()),
        listed_artists=int(paintings["artist"].nunique()),
        usable_artists=_artist_stats(usable),
        decoded=decode,
        missing_examples=list(paintings.loc[~present_mask, "path"][:_LIST_LIMIT]),
        unreadable_files=unreadable,
        unlisted=len(on_disk - listed_paths),
        ignored_files=list(catalogue.ignored),
    )


def combined_artists(data_dirs: Sequence[str | Path]) -> dict[str, int]:
    """Artists of several folders read together: how many in all, and how many in more than one.

    An artist is identified across folders as training identifies them (`artist_key`).
    """
    per_folder = [{artist_key(a) for a in read_catalogue(folder).paintings["artist"]} for folder in data_dirs]
    everyone = set().union(*per_folder)
    shared = sum(1 for key in everyone if sum(key in folder for folder in per_folder) > 1)
    return {"artists": len(everyone), "shared_artists": shared}


def _files_on_disk(root: Path, layout: str, paintings: pd.DataFrame) -> set[str]:
    if layout == "folders":
        return set(paintings["path"])  # the listing *is* what is on disk
    return files_on_disk(root, paintings["path"])


def _find_unreadable(
    root: Path, paths: list[str], workers: int | None, advance: Callable[[int], None] | None
) -> list[dict[str, str]]:
    def check(rel: str) -> dict[str, str] | None:
        try:
            load_image(root / rel, min_side=_CHECK_SIDE)
        except ImageLoadError as err:
            return {"path": rel, "cause": err.cause}
        return None

    unreadable: list[dict[str, str]] = []
    with ThreadPoolExecutor(max_workers=worker_count(workers)) as pool:
        for result in pool.map(check, paths):
            if result is not None:
                unreadable.append(result)
            if advance:
                advance(1)
    return unreadable


def _artist_stats(paintings: pd.DataFrame) -> ArtistStats:
    counts = paintings.groupby("artist").size().to_numpy()
    if counts.size == 0:
        return ArtistStats(artists=0, min=0, median=0.0, max=0, fewer_than_two=0)
    return ArtistStats(
        artists=int(counts.size),
        min=int(counts.min()),
        median=float(np.median(counts)),
        max=int(counts.max()),
        fewer_than_two=int((counts < 2).sum()),
    )


def format_report(report: ScanReport) -> str:
    """The scan as a short human-readable text."""
    stats = report.usable_artists
    lines = [
        f"data folder   {report.data_dir}",
        f"layout        {report.layout} ({report.source})",
        f"images        {report.listed:,} listed ({report.train_images:,} train, {report.test_images:,} test)",
        f"              {report.present:,} present, {report.missing:,} missing, "
        + (f"{report.unreadable:,} unreadable" if report.decoded else "not decoded (--no-decode)"),
        f"              {report.usable:,} usable",
        f"artists       {report.listed_artists:,} listed, {stats.artists:,} with usable paintings",
        f"per artist    min {stats.min}, median {stats.median:g}, max {stats.max}; "
        f"{stats.fewer_than_two:,} with fewer than two (no same-artist pair possible)",
    ]
    if report.unlisted:
        lines.append(f"unlisted      {report.unlisted:,} image files on disk that the listing does not name")
    if report.missing:
        shown = ", ".join(report.missing_examples)
        more = report.missing - len(report.missing_examples)
        lines.append(f"missing       {shown}" + (f" and {more:,} more" if more > 0 else ""))
    for entry in report.unreadable_files:
        lines.append(f"unreadable    {entry['path']}: {entry['cause']}")
    for name in report.ignored_files:
        lines.append(f"ignored       {name} (not inside an artist folder)")
    return "\n".join(lines)
