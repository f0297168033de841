"""Decode + preprocess: images per second on one core, painter-match's loader against the usual one.

painter-match's loader is `painter_match.views.view_pixels` with the model's default view policy,
the very function the embed workers call (open, JPEG DCT-domain reduction to the smallest scale that
keeps the shorter side at least the input size, EXIF orientation, RGB, bicubic resize of the shorter
side, centre crop, uint8 array). The usual one is torchvision's: a full-size Pillow decode
(``ImageFolder``'s ``pil_loader``) and the usual transforms, ending in the float tensor a model
takes. One size class per child process, on one thread (this is a per-core rate); with
``profile`` the same files are decoded once more step by step, to say where the time goes.
"""

from __future__ import annotations

import time
from typing import Any

from bench.runner import timed

LOADERS = ("painter-match", "usual")


def _profile_painter_match(paths: list[str], size: int) -> dict[str, float]:
    import numpy as np

    from painter_match.data.images import center_crop, load_image, resize_shorter_side

    steps = {"decode (drafted)": 0.0, "resize": 0.0, "crop + array": 0.0}
    for path in paths:
        t0 = time.perf_counter()
        image = load_image(path, min_side=size)
        t1 = time.perf_counter()
        image = resize_shorter_side(image, size)
        t2 = time.perf_counter()
        np.array(center_crop(image, size), dtype=np.uint8)
        t3 = time.perf_counter()
        steps["decode (drafted)"] += t1 - t0
        steps["resize"] += t2 - t1
        steps["crop + array"] += t3 - t2
    return {k: 1000 * v / len(paths) for k, v in steps.items()}


def _profile_usual(paths: list[str], size: int) -> dict[str, float]:
    from torchvision import transforms
    from torchvision.datasets.folder import pil_loader

    resize, crop, tensor = transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()
    steps = {"decode (full size)": 0.0, "resize": 0.0, "crop + tensor": 0.0}
    for path in paths:
        t0 = time.perf_counter()
        image = pil_loader(path)
        t1 = time.perf_counter()
        image = resize(image)
        t2 = time.perf_counter()
        tensor(crop(image))
        t3 = time.perf_counter()
        steps["decode (full size)"] += t1 - t0
        steps["resize"] += t2 - t1
        steps["crop + tensor"] += t3 - t2
    return {k: 1000 * v / len(paths) for k, v in steps.items()}


def measure(
    paths: list[str],
    loader: str,
    size: int,
    size_class: str,
    warmup: int,
    repeats: int,
    profile: bool,
    crops: int = 0,
    crop_scale: float = 2.0,
) -> dict[str, Any]:
    """Images per second decoding ``paths`` with ``loader`` on this (single) thread.

    Args:
        paths: JPEGs of one size class.
        loader: ``painter-match`` or ``usual``.
        size: the model's input size.
        size_class: names the row.
        warmup: untimed passes over ``paths`` (the files are then in the page cache).
        repeats: timed passes; the median is reported.
        profile: add the mean milliseconds per step (``profile_ms``).
        crops, crop_scale: painter-match's view policy (`painter_match.data.views.Views`); the
            usual loader makes the global view only.
    """
    if loader == "painter-match":
        from painter_match.data.views import Views, view_pixels

        views = Views(crops=crops, crop_scale=crop_scale)

        def one(path: str) -> object:
            return view_pixels(path, size, views)

    elif loader == "usual":
        import torch
        from torchvision.datasets.folder import pil_loader

        from bench.usual_way import usual_transform

        torch.set_num_threads(1)  # a per-core figure, like the Pillow side
        transform = usual_transform(size)

        def one(path: str) -> object:
            return transform(pil_loader(path))

    else:
        raise ValueError(f"loader must be one of {LOADERS}, got {loader!r}")

    def one_pass() -> None:
        for path in paths:
            one(path)

    timing = timed(one_pass, warmup=warmup, repeats=repeats)
    row: dict[str, Any] = {
        "stage": "decode",
        "name": f"{loader} {size_class}",
        "loader": loader,
        "size_class": size_class,
        "value": len(paths) / timing["median_s"],
        "unit": "images/s/core",
        "images": len(paths),
        "views": 1 + crops if loader == "painter-match" else 1,
        "ms_per_image": 1000 * timing["median_s"] / len(paths),
        **timing,
    }
    if profile:
        row["profile_ms"] = (_profile_painter_match if loader == "painter-match" else _profile_usual)(
            paths, size
        )
    return row
