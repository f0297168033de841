"""Rendering and writing: paint every planned file in a process pool, then write the CSVs and move
the finished folder into place (`generate`)."""

from __future__ import annotations

import csv
import io
import math
import os
import secrets
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
from PIL import Image

from painter_match.data.pairs import sample_pair_indices
from painter_match.data.synth.config import (
    _STREAM_CORRUPT,
    _STREAM_PAINTING,
    _STREAM_PLAN,
    ALL_DATA_INFO_COLUMNS,
    SOLUTION_COLUMNS,
    SUBMISSION_INFO_COLUMNS,
    TRAIN_INFO_COLUMNS,
    SynthConfig,
    SynthConfigError,
    SynthSummary,
    _rng,
)
from painter_match.data.synth.names import _Artist
from painter_match.data.synth.plan import _Item, _Job, _plan
from painter_match.data.synth.style import _render, _Style
from painter_match.errors import DataError
from painter_match.workers import worker_count


def _encode(image: Image.Image, fmt: str, mode: str, quality: int) -> bytes:
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG", compress_level=1)  # zlib dominates the time; size matters less
    else:
        image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _render_job(job: _Job) -> int:
    """Render, encode and write one painting; returns its size in bytes. Runs in a worker process."""
    rng = _rng(job.seed, _STREAM_PAINTING, job.artist, job.serial)
    image = _render(job.style, rng, job.width, job.height)
    data = _encode(image, job.fmt, job.mode, job.quality)
    Path(job.path).write_bytes(data)
    return len(data)


def _corrupt_bytes(item: _Item, style: _Style, seed: int) -> bytes:
    if item.corrupt == "empty":
        return b""
    if item.corrupt == "text":
        return (
            b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
            b"<body><h1>Not Found</h1><p>The requested image was not found.</p></body></html>\n"
        )
    # A real JPEG cut off after its headers and a little of its scan data, as an interrupted download.
    rng = _rng(seed, _STREAM_CORRUPT, 1, -item.serial)
    scale = 256 / max(item.width, item.height)
    width, height = max(32, round(item.width * scale)), max(32, round(item.height * scale))
    data = _encode(_render(style, rng, width, height), "JPEG", "RGB", 90)
    # Keep every header up to the start of scan (SOS) and a third of the scan data after it.
    scan = data.find(b"\xff\xda")
    return data[: scan + max(16, (len(data) - scan) // 3)]


def _pairs(
    test_items: Sequence[_Item], config: SynthConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs into test_items: (first, second), each [P]."""
    n = len(test_items)
    artist = np.array([item.artist for item in test_items])
    if config.balanced_pairs is None:
        # As in the competition: shuffle, cut into near-equal groups of at most group_size,
        # list every pair within a group.
        order = rng.permutation(n)
        groups = np.array_split(order, max(1, math.ceil(n / config.group_size)))
        firsts, seconds = [], []
        for group in groups:
            i, j = np.triu_indices(len(group), 1)
            firsts.append(group[i])
            seconds.append(group[j])
        return np.concatenate(firsts), np.concatenate(seconds)

    # Balanced: the data layer's one sampler, after checking that the test set has enough pairs.
    codes = np.unique(artist, return_inverse=True)[1]
    counts = np.bincount(codes)
    same_available = int((counts * (counts - 1) // 2).sum())
    different_available = n * (n - 1) // 2 - same_available
    n_same = int(round(config.balanced_pairs * 0.5))
    n_diff = config.balanced_pairs - n_same
    if n_same > same_available or n_diff > different_available:
        raise SynthConfigError(
            f"--balanced-pairs {config.balanced_pairs} needs {n_same} same-artist and {n_diff} "
            f"different-artist test pairs, but the test set has only {same_available} "
            f"and {different_available}; "
            "ask for fewer pairs or more test paintings"
        )
    return sample_pair_indices(codes, config.balanced_pairs, same_fraction=0.5, rng=rng)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _render_all(jobs: list[_Job], workers: int, advance: Callable[[int], None] | None) -> list[int]:
    """Size in bytes of each job's file, rendering in a process pool when it pays."""
    sizes = [0] * len(jobs)
    if workers <= 1 or len(jobs) < 4:
        for k, job in enumerate(jobs):
            sizes[k] = _render_job(job)
            if advance:
                advance(1)
        return sizes
    # Largest first, so no worker is left with a big painting at the end.
    order = sorted(range(len(jobs)), key=lambda k: -jobs[k].width * jobs[k].height)
    # "fork" where there is one: unlike "spawn" it does not re-import the caller's __main__, which
    # fails for `python -` and re-runs unguarded scripts. The children only compute and write a
    # file, so the threads a caller may run (a progress bar) are harmless to them.
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=get_context(method)) as pool:
        with warnings.catch_warnings():
            # Python >= 3.12 warns about fork() beside threads; see above for why it is safe here.
            warnings.filterwarnings(
                "ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning
            )
            pending: dict[Future[int], int] = {pool.submit(_render_job, jobs[k]): k for k in order}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    sizes[pending.pop(future)] = future.result()
                    if advance:
                        advance(1)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return sizes


def _is_non_empty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


# Frozen, so one shared default is safe.
_DEFAULT_CONFIG = SynthConfig()


def generate(
    out_dir: str | Path,
    config: SynthConfig = _DEFAULT_CONFIG,
    *,
    advance: Callable[[int], None] | None = None,
    force: bool = False,
) -> SynthSummary:
    """Write a synthetic data set in the Kaggle layout to out_dir.

    Everything is rendered into a temporary sibling folder which is renamed to out_dir at the
    end, so an interrupted run leaves no half-written out_dir.

    Args:
        out_dir: the folder to create.
        config: what to generate.
        advance: called with 1 after each painting is written (``config.total_paintings()`` in all).
        force: replace out_dir if it exists and is not empty.

    Returns:
        Counts of what was written, and the time taken.

    Raises:
        DataError: out_dir exists and is not empty (without force) or is a file, or the config
            cannot be satisfied (e.g. more balanced pairs than the test set allows).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a folder")
    if _is_non_empty_dir(out) and not force:
        raise DataError(f"{out} exists and is not empty; use --force to replace it")

    artists, items = _plan(config)
    test_items = [item for item in items if not item.in_train]
    if len(test_items) < 2:
        raise SynthConfigError(
            "the test set would hold fewer than 2 images: "
            "raise --test-artists, --test-fraction or --paintings"
        )
    first, second = _pairs(test_items, config, _rng(config.seed, _STREAM_PLAN, 1))

    out.parent.mkdir(parents=True, exist_ok=True)
    # A hidden sibling on the same file system, so that the final rename is atomic. Made with
    # mkdir (not mkdtemp, which would leave the data set readable by its owner only).
    staging = _sibling(out, "tmp")
    staging.mkdir()
    try:
        for folder in ("train", "test"):
            (staging / folder).mkdir()
        paintings = [item for item in items if item.corrupt is None]
        jobs = [
            _Job(
                seed=config.seed,
                artist=item.artist,
                serial=item.serial,
                style=artists[item.artist].style,
                width=item.width,
                height=item.height,
                fmt=item.fmt,
                mode=item.mode,
                quality=item.quality,
                path=str(staging / item.folder / item.filename),
            )
            for item in paintings
        ]
        sizes = dict(
            zip((item.number for item in paintings), _render_all(jobs, worker_count(config.workers), advance))
        )
        for item in items:
            if item.corrupt is not None:
                data = _corrupt_bytes(item, artists[item.artist].style, config.seed)
                (staging / item.folder / item.filename).write_bytes(data)
                sizes[item.number] = len(data)

        _write_tables(staging, artists, items, sizes, test_items, first, second)
        _replace(staging, out, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    same = np.array([test_items[i].artist == test_items[j].artist for i, j in zip(first, second)], dtype=bool)
    train_images = sum(item.in_train for item in items)
    return SynthSummary(
        out_dir=str(out),
        artists=len(artists),
        train_artists=config.artists,
        test_only_artists=config.test_artists,
        paintings=len(items) - config.corrupt,
        train_images=train_images,
        test_images=len(items) - train_images,
        corrupt=config.corrupt,
        pairs=int(same.size),
        same_artist_pairs=int(same.sum()),
        same_artist_share=float(same.mean()) if same.size else 0.0,
        pair_mode="balanced" if config.balanced_pairs is not None else f"groups of {config.group_size}",
        seconds=time.perf_counter() - started,
    )


def _write_tables(
    root: Path,
    artists: Sequence[_Artist],
    items: Sequence[_Item],
    sizes: dict[int, int],
    test_items: Sequence[_Item],
    first: np.ndarray,
    second: np.ndarray,
) -> None:
    in_train = {a.index: False for a in artists}
    in_test = {a.index: False for a in artists}
    for item in items:
        (in_train if item.in_train else in_test)[item.artist] = True
    group = {
        a: "train_and_test" if in_train[a] and in_test[a] else ("train_only" if in_train[a] else "test_only")
        for a in in_train
    }
    # Rows in file-number order, as a catalogue would be, so the order reveals nothing.
    ordered = sorted(items, key=lambda item: item.number)
    _write_csv(
        root / "train_info.csv",
        TRAIN_INFO_COLUMNS,
        (
            (item.filename, artists[item.artist].name, item.title, item.style_name, item.genre, item.date)
            for item in ordered
            if item.in_train
        ),
    )
    _write_csv(
        root / "all_data_info.csv",
        ALL_DATA_INFO_COLUMNS,
        (
            (
                artists[item.artist].name,
                item.date,
                item.genre,
                item.width,
                item.height,
                sizes[item.number],
                item.source,
                item.style_name,
                item.title,
                group[item.artist],
                "True" if item.in_train else "False",
                item.filename,
            )
            for item in ordered
        ),
    )
    names = [item.filename for item in test_items]
    _write_csv(
        root / "submission_info.csv",
        SUBMISSION_INFO_COLUMNS,
        ((k, names[i], names[j]) for k, (i, j) in enumerate(zip(first.tolist(), second.tolist()))),
    )
    _write_csv(
        root / "solution.csv",
        SOLUTION_COLUMNS,
        (
            (k, int(test_items[i].artist == test_items[j].artist))
            for k, (i, j) in enumerate(zip(first.tolist(), second.tolist()))
        ),
    )


def _sibling(out: Path, tag: str) -> Path:
    return out.parent / f".{out.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}"


def _replace(staging: Path, out: Path, force: bool) -> None:
    """Move the finished staging folder to out, replacing an existing out only when allowed."""
    if out.is_dir():
        if any(out.iterdir()):
            if not force:  # appeared while rendering
                raise DataError(f"{out} exists and is not empty; use --force to replace it")
            # Move the old folder aside first so that out is never missing a complete data set
            # for longer than two renames.
            old = _sibling(out, "old")
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
            return
        out.rmdir()
    staging.rename(out)
