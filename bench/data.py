"""The bench's inputs, made deterministically and cached: realistic JPEGs, Kaggle-scale pairs, embeddings.

JPEG decoding speed depends on size and entropy, so the images are painterly (strokes and texture
from `painter_match.synth`, never flat colour) and of the sizes the real data has: about 800 px,
1600 x 1200 and 4000 x 3000 (a high-resolution scan), JPEG quality 90, half of them portrait.
The synthetic painter renders at most ~2000 px, so 4000 x 3000 images are tiled from four
different paintings at native detail rather than upscaled (upscaling would lower the entropy and
flatter the decoder). Each size class is a sub-folder, which makes the folder an ``ImageFolder``
for the usual way and a folder `painter-match embed` reads recursively. Everything lands under the
work folder and is reused by later runs; image ``i`` of a class is always the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

SIZES: dict[str, tuple[int, int]] = {
    "800x600": (800, 600),
    "1600x1200": (1600, 1200),
    "4000x3000": (4000, 3000),
}
JPEG_QUALITY = 90
SEED = 20261123
_IMAGES_DIR = "images-v1"
_SOURCES_DIR = "synth-src-v1"


def _sources(workdir: Path) -> list[Image.Image]:
    """The synthetic paintings everything is cut from, rendered once at ~2000 px."""
    from painter_match.data.images import find_images, load_image
    from painter_match.data.synth import SynthConfig, generate

    root = workdir / _SOURCES_DIR
    if not (root / "all_data_info.csv").exists():
        config = SynthConfig(
            seed=SEED % 10_000,
            artists=4,
            test_artists=2,
            paintings=3,
            test_fraction=0.0,
            min_size=1800,
            max_size=2000,
        )
        generate(root, config, force=True)
    # load_image turns the synthetic CMYK and greyscale files into RGB like any client would.
    return [load_image(path) for path in find_images(root)]


def _cover(image: Image.Image, width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """A ``width`` x ``height`` cut of ``image``, scaled (Lanczos) just enough to cover it."""
    scale = max(width / image.width, height / image.height)
    if abs(scale - 1.0) > 1e-3:
        size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    left = int(rng.integers(0, image.width - width + 1))
    top = int(rng.integers(0, image.height - height + 1))
    return image.crop((left, top, left + width, top + height))


def _compose(sources: list[Image.Image], size_class: str, index: int) -> Image.Image:
    width, height = SIZES[size_class]
    rng = np.random.default_rng([SEED, list(SIZES).index(size_class), index])
    if width <= 2000:
        image = _cover(sources[index % len(sources)], width, height, rng)
    else:
        # 2 x 2 tiles from four different paintings, each at its own native detail.
        image = Image.new("RGB", (width, height))
        tile_w, tile_h = width // 2, height // 2
        for k in range(4):
            tile = _cover(sources[(4 * index + k) % len(sources)], tile_w, tile_h, rng)
            image.paste(tile, ((k % 2) * tile_w, (k // 2) * tile_h))
    if index % 2:
        image = image.transpose(Image.Transpose.ROTATE_90)  # half portrait, as paintings are
    return image


def realistic_images(workdir: Path, per_size: int) -> dict[str, list[Path]]:
    """``per_size`` JPEGs of each size class under ``WORKDIR/images-v1/CLASS/``, made if missing.

    Returns:
        The files of each class, in order (the first ``per_size`` of the folder).
    """
    root = workdir / _IMAGES_DIR
    files = {c: [root / c / f"{i:04d}.jpg" for i in range(per_size)] for c in SIZES}
    missing = [(c, i) for c, paths in files.items() for i, p in enumerate(paths) if not p.exists()]
    if missing:
        sources = _sources(workdir)
        for size_class, index in missing:
            path = files[size_class][index]
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            _compose(sources, size_class, index).save(tmp, "JPEG", quality=JPEG_QUALITY)
            tmp.replace(path)
    return files


def image_folder(workdir: Path, per_size: int) -> Path:
    """A folder holding exactly ``per_size`` images of each class (hard links into the image cache).

    `painter-match embed` and ``ImageFolder`` both read a whole folder, so a run with fewer
    images than the cache holds gets a folder of its own. Hard links, not symbolic ones:
    `painter-match embed` rightly skips symbolic links that lead out of the folder.
    """
    files = realistic_images(workdir, per_size)
    root = workdir / f"folder-{per_size}"
    for size_class, paths in files.items():
        (root / size_class).mkdir(parents=True, exist_ok=True)
        for path in paths:
            link = root / size_class / path.name
            if not link.exists():
                try:
                    os.link(path, link)
                except OSError:  # another file system, or no hard links there
                    shutil.copyfile(path, link)
    return root


def kaggle_pairs(workdir: Path, pairs: int, images: int, dim: int) -> dict[str, str]:
    """A Kaggle-shaped pairs file of ``pairs`` rows over ``images`` names, and their embeddings.

    The file comes from `bench.pairs_synth.make_kaggle_scale_pairs` (grouped order, as
    Kaggle's file is); the embeddings are random unit vectors (scoring speed does not depend on
    their values), float32 ``[images, dim]``.

    Returns:
        Paths: ``pairs_csv``, ``names_json`` and ``vectors_npy``.
    """
    from bench.pairs_synth import make_kaggle_scale_pairs

    root = workdir / "pairs"
    root.mkdir(parents=True, exist_ok=True)
    csv_path = root / f"pairs-{pairs}-{images}.csv"
    names_path = root / f"names-{pairs}-{images}.json"
    vectors_path = root / f"vectors-{images}-{dim}.npy"
    if not (csv_path.exists() and names_path.exists()):
        tmp = csv_path.with_name(f".{csv_path.name}.tmp")
        names = make_kaggle_scale_pairs(tmp, pairs=pairs, images=images, seed=0)
        tmp.replace(csv_path)
        names_path.write_text(json.dumps(names))
    if not vectors_path.exists():
        rng = np.random.default_rng(SEED)
        vectors = rng.standard_normal((images, dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        np.save(vectors_path, vectors)
    return {"pairs_csv": str(csv_path), "names_json": str(names_path), "vectors_npy": str(vectors_path)}
