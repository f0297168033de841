"""`painter-match prepare`: a resized copy of a data folder, so training epochs skip huge decodes.

The copy has the same layout and file names (the CSVs are copied as they are), with every image
decoded once by the project loader (orientation and colour applied) and saved with its shorter
side at most ``size`` pixels, as a high-quality JPEG or, for PNG names, a PNG. Training on it
gives the same images a model sees from the original, at a fraction of the decoding cost.
Unreadable images are skipped and reported; a rerun only redoes what is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from painter_match import atomic
from painter_match.data.catalogue import read_catalogue
from painter_match.data.images import load_image, resize_shorter_side
from painter_match.errors import DataError, ImageLoadError
from painter_match.workers import worker_count


@dataclass
class PrepareReport:
    """What ``prepare`` did."""

    out_dir: str
    size: int
    written: int
    already_there: int
    unreadable: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def prepare(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    size: int = 256,
    workers: int | None = None,
    advance: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> PrepareReport:
    """Write the resized copy of ``data_dir`` into ``out_dir``.

    Raises:
        DataError: an unusable data folder, or ``out_dir`` inside ``data_dir`` (or the same).
    """
    source, target = Path(data_dir).resolve(), Path(out_dir).resolve()
    if target == source or source in target.parents:
        raise DataError(f"{out_dir}: the prepared copy must be outside the data folder {data_dir}")
    catalogue = read_catalogue(source)
    target.mkdir(parents=True, exist_ok=True)
    for listing in source.glob("*.csv"):
        shutil.copyfile(listing, target / listing.name)
    paths = list(catalogue.paintings["path"])
    if on_total:
        on_total(len(paths))

    def one(rel: str) -> tuple[str, str | None]:
        destination = target / rel
        if destination.exists():
            return "kept", None
        try:
            image = load_image(source / rel, min_side=size)
        except ImageLoadError as err:
            return rel, err.cause
        if min(image.size) > size:
            image = resize_shorter_side(image, size)
        destination.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed, so an interrupted run never leaves half a file.
        # A cache of resized images: two runs write the same bytes, so no output lock is needed.
        with atomic.atomic_file(destination, lock=False) as handle:
            if destination.suffix.lower() == ".png":
                image.save(handle, format="PNG")
            else:
                image.save(handle, format="JPEG", quality=95)
        return "written", None

    written = kept = 0
    unreadable: list[dict[str, str]] = []
    with ThreadPoolExecutor(max_workers=worker_count(workers)) as pool:
        for outcome, cause in pool.map(one, paths):
            if cause is not None:
                unreadable.append({"path": outcome, "cause": cause})
            elif outcome == "written":
                written += 1
            else:
                kept += 1
            if advance:
                advance(1)
    return PrepareReport(str(target), size, written, kept, unreadable)
