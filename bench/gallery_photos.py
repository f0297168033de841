"""Photo -> catalogue retrieval on ``../shared/data/gallery-photos``, with the painting finder off/on/auto.

For each ``--find-painting`` mode the catalogue (270 images) and the phone photos (30 cropped to
the painting, 30 with frame and wall) are embedded with the packaged model exactly as
``painter-match embed --find-painting MODE`` embeds them (`OnnxEncoder`), and each photo's own
catalogue image is ranked among all 270 by cosine similarity: top-1, top-5 and mean reciprocal
rank. The share of catalogue images the mode leaves whole is counted from the per-image records.
A last row crops photos to the canvas (``--painting-edge canvas``) while the catalogue, whose
images show their frames, stays whole: the cost of choosing the wrong edge.

    python -m bench.gallery_photos [--data DIR] [--model FILE] [--json] [--ranks]

The data is development data that is never copied into the project: without it the script says
so and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "gallery-photos"
KINDS = ("photos-wall", "photos-cropped")


def _rows(data: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(data / "catalogue.csv", newline="", encoding="utf-8") as handle:
        catalogue = [row["filename"] for row in csv.DictReader(handle)]
    with open(data / "photos.csv", newline="", encoding="utf-8") as handle:
        photos = list(csv.DictReader(handle))
    return catalogue, photos


def _ranks(photo_vectors: np.ndarray, catalogue_vectors: np.ndarray, own: Sequence[int]) -> np.ndarray:
    """1-based rank of each photo's own catalogue image (ties count against it)."""
    sims = photo_vectors @ catalogue_vectors.T
    return np.array([int((sims[i] >= sims[i, j]).sum()) for i, j in enumerate(own)])


def _figures(ranks: np.ndarray) -> dict[str, float]:
    return {
        "top1": float((ranks == 1).mean()),
        "top5": float((ranks <= 5).mean()),
        "mrr": float((1.0 / ranks).mean()),
    }


def measure(
    data: Path,
    model_path: str | None = None,
    *,
    modes: Sequence[str] = ("off", "on", "auto"),
    workers: int = 2,
) -> list[dict[str, Any]]:
    """One result dict per row (mode, edge): figures for wall and cropped photos, catalogue kept whole."""
    import painter_match
    from painter_match.inference.encoder import OnnxEncoder

    model = painter_match.load(model_path) if model_path else painter_match.load()
    catalogue, photos = _rows(data)
    index = {name: i for i, name in enumerate(catalogue)}
    settings: list[tuple[str, str, str]] = [(mode, "frame", mode) for mode in modes]
    if "auto" in modes:
        settings.append(("auto", "canvas", "off"))  # photos to the canvas, framed catalogue whole
    results = []
    cache: dict[tuple[str, str], tuple[np.ndarray, list[Any], float]] = {}
    for mode, edge, catalogue_mode in settings:
        started = time.perf_counter()
        key = (catalogue_mode, "frame")
        if key not in cache:
            encoder = OnnxEncoder(model.loaded, workers=workers, find_painting=catalogue_mode)
            t0 = time.perf_counter()
            vectors, failures, records = encoder.encode_with_paintings([data / n for n in catalogue])
            if failures:
                raise SystemExit(f"gallery-photos: {len(failures)} catalogue images failed: {failures[0]}")
            cache[key] = (vectors, records, time.perf_counter() - t0)
        catalogue_vectors, catalogue_records, catalogue_seconds = cache[key]
        whole = sum(1 for r in catalogue_records if r is None or not r.cropped) / len(catalogue)
        row: dict[str, Any] = {
            "find_painting": mode,
            "edge": edge,
            "catalogue_find_painting": catalogue_mode,
            "catalogue_whole": whole,
            "catalogue_seconds_per_image": catalogue_seconds / len(catalogue),
        }
        encoder = OnnxEncoder(model.loaded, workers=workers, find_painting=mode, painting_edge=edge)
        for kind in KINDS:
            chosen = [p for p in photos if p["photo"].startswith(kind + "/")]
            vectors, failures, records = encoder.encode_with_paintings([data / p["photo"] for p in chosen])
            if failures:
                raise SystemExit(f"gallery-photos: {len(failures)} photos failed: {failures[0]}")
            ranks = _ranks(vectors, catalogue_vectors, [index[p["catalogue_image"]] for p in chosen])
            short = kind.split("-", 1)[1]
            row[short] = _figures(ranks)
            row[short]["ranks"] = ranks.tolist()
            row[short]["cropped"] = sum(1 for r in records if r is not None and r.cropped) / len(chosen)
        row["seconds"] = time.perf_counter() - started
        results.append(row)
    return results


def _table(results: list[dict[str, Any]], show_ranks: bool) -> str:
    lines = [
        "| find_painting | edge | wall top-1 | wall top-5 | wall MRR | wall cropped | cropped top-1 "
        "| cropped top-5 | cropped MRR | photos cropped->crop | catalogue whole |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        wall, cropped = r["wall"], r["cropped"]
        edge = r["edge"] + ("" if r["catalogue_find_painting"] == r["find_painting"] else " (catalogue off)")
        lines.append(
            f"| {r['find_painting']} | {edge} | {wall['top1']:.3f} | {wall['top5']:.3f} | {wall['mrr']:.3f} "
            f"| {wall['cropped']:.0%} | {cropped['top1']:.3f} | {cropped['top5']:.3f} | {cropped['mrr']:.3f} "
            f"| {cropped['cropped']:.0%} | {r['catalogue_whole']:.1%} |"
        )
    if show_ranks:
        for r in results:
            lines.append(f"{r['find_painting']}/{r['edge']} wall ranks: {r['wall']['ranks']}")
            lines.append(f"{r['find_painting']}/{r['edge']} cropped ranks: {r['cropped']['ranks']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the gallery figures (a markdown table, or ``--json``); 0 also when the data is absent."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.gallery_photos", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the gallery-photos folder")
    parser.add_argument("--model", default=None, help="an .onnx model (default: the packaged one)")
    parser.add_argument("--modes", default="off,on,auto", help="comma-separated find_painting modes")
    parser.add_argument("--workers", type=int, default=2, help="decode threads (default 2)")
    parser.add_argument("--json", action="store_true", help="print the result dicts as JSON")
    parser.add_argument("--ranks", action="store_true", help="also print every photo's rank")
    args = parser.parse_args(argv)
    if not (args.data / "photos.csv").is_file() or not (args.data / "catalogue.csv").is_file():
        print(f"skipped: the gallery-photos data is not at {args.data} (development data, not shipped)")
        return 0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results = measure(args.data, args.model, modes=modes, workers=args.workers)
    print(json.dumps(results, indent=2) if args.json else _table(results, args.ranks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
