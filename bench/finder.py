"""What looking for the painting costs: embedding with ``find_painting="auto"`` against ``"off"``.

Two folders: the bench's realistic JPEGs (`bench.data.realistic_images`: paintings alone, 800 px
to 4000 x 3000, which ``auto`` searches and leaves whole) and synthetic gallery photos
(`painter_match.data.gallery_synth`: a framed painting on a wall, 1600 x 1200 JPEGs, which it
crops). Each row embeds one folder with the packaged model in this process (`OnnxEncoder`, the
CLI's batch and decode threads) and gives images/s; the ``auto`` rows carry the ratio to ``off``
on the same images. The search runs on the decoded image reduced to 512 px, never on the full
one; a photo it crops is decoded a second time at the scale the crop needs.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from PIL import Image

from bench.runner import peak_rss_mb

PHOTO_SIZE = (1600, 1200)


def gallery_photos(workdir: Path, count: int) -> list[Path]:
    """``count`` synthetic gallery photos (JPEG, quality 90) under ``WORKDIR/gallery-v1``, made if missing."""
    from painter_match.data.gallery_synth import composite

    root = workdir / "gallery-v1"
    root.mkdir(parents=True, exist_ok=True)
    paths = [root / f"{i:04d}.jpg" for i in range(count)]
    for i, path in enumerate(paths):
        if not path.exists():
            tmp = path.with_name(f".{path.name}.tmp")
            composite(i, size=PHOTO_SIZE).image.save(tmp, "JPEG", quality=90)
            tmp.replace(path)
    return paths


def measure(
    paths: list[str], folder: str, model: str | None, repeats: int, workers: int
) -> list[dict[str, Any]]:
    """Images/s embedding ``paths`` with find_painting off, then auto (median of ``repeats``)."""
    import painter_match
    from painter_match.inference.encoder import OnnxEncoder

    loaded = (painter_match.load(model) if model else painter_match.load()).loaded
    rows = []
    base = None
    for mode in ("off", "auto"):
        encoder = OnnxEncoder(loaded, workers=workers, find_painting=mode)
        encoder.encode_with_paintings(paths[:2])  # warm-up: session, thread pool, OpenCV's import
        times = []
        cropped = 0
        for _ in range(repeats):
            start = time.perf_counter()
            _, failures, records = encoder.encode_with_paintings(paths)
            times.append(time.perf_counter() - start)
            if failures:
                raise RuntimeError(f"{len(failures)} images failed: {failures[0]}")
            cropped = sum(1 for r in records if r is not None and r.cropped)
        median = statistics.median(times)
        rate = len(paths) / median
        row: dict[str, Any] = {
            "stage": "finder",
            "name": f"embed {folder}, find_painting={mode}",
            "find_painting": mode,
            "folder": folder,
            "images": len(paths),
            "cropped": cropped,
            "value": rate,
            "unit": "images/s",
            "median_s": median,
            "workers": workers,
            "peak_rss_mb": peak_rss_mb(),
        }
        if base is None:
            base = rate
        else:
            row["vs_off"] = rate / base
            row["ms_per_image_extra"] = 1000.0 * (1.0 / rate - 1.0 / base)
        rows.append(row)
    return rows


def figure(out: Path, seed: int = 11) -> None:
    """docs/painting-finder.png: a synthetic gallery photo with the outline found drawn on it, and
    the rectified crop the views are cut from (synthetic, so no one's painting is reproduced)."""
    from PIL import ImageDraw

    from painter_match.data.gallery_synth import composite
    from painter_match.data.painting_finder import locate, rectify

    photo = composite(seed, size=(480, 360), perspective=0.07, frame="gilt")
    found = locate(photo.image, "on")
    if found.quad is None:
        raise RuntimeError(f"seed {seed}: no outline found ({found.reason})")
    drawn = photo.image.copy()
    ImageDraw.Draw(drawn).line([*found.quad, found.quad[0]], fill=(230, 30, 30), width=3)
    crop = rectify(photo.image, found.quad)
    crop = crop.resize((round(crop.width * drawn.height / crop.height), drawn.height))
    sheet = Image.new("RGB", (photo.image.width * 2 + crop.width + 40, drawn.height), (255, 255, 255))
    sheet.paste(photo.image, (0, 0))
    sheet.paste(drawn, (photo.image.width + 20, 0))
    sheet.paste(crop, (2 * photo.image.width + 40, 0))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)


if __name__ == "__main__":
    import sys

    figure(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/painting-finder.png"))
