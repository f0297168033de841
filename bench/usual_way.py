"""The usual way: what a PyTorch user writes to embed a folder of paintings, timed on the same images.

torchvision's ``ImageFolder`` (its default loader: a full-size Pillow decode and ``convert("RGB")``),
the standard transforms (``Resize`` of the shorter side, ``CenterCrop``, ``ToTensor``), a
``DataLoader`` with one worker process per core and the default batch size painter-match uses, and
the eager encoder under ``torch.inference_mode()`` with torch's default threads. The encoder
normalises its own input, which is the ``Normalize`` transform a user would add. Nothing here is
tuned: that is the point of the comparison.
"""

from __future__ import annotations

import time
from typing import Any

from bench.runner import peak_rss_mb


def usual_transform(size: int) -> Any:
    """``Resize(size)`` (shorter side, bilinear with antialias), ``CenterCrop(size)``, ``ToTensor()``."""
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()])


def measure(
    root: str,
    eager: str,
    size: int,
    batch_size: int,
    workers: int,
    warmup: int,
    repeats: int,
) -> dict[str, Any]:
    """Embed every image under ``root`` the usual way; median seconds per pass over the folder.

    Each pass builds the ``DataLoader`` anew (its worker processes start each time, as they do for
    a script run once per folder); the model is built once, outside the timing. The peak RSS is
    the main process's; each worker process holds its own decoded batches on top of it.
    """
    import statistics

    import torch
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    from bench.networks import load_eager

    model = load_eager(eager)
    dataset = ImageFolder(root, transform=usual_transform(size))
    count = len(dataset)

    def one_pass() -> int:
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, shuffle=False)
        seen = 0
        with torch.inference_mode():
            for images, _ in loader:
                model(images)
                seen += len(images)
        return seen

    for _ in range(warmup):
        one_pass()
    times = []
    for _ in range(max(1, repeats)):
        begin = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - begin)
    median = statistics.median(times)
    return {
        "stage": "usual",
        "name": f"usual way fp32 eager (DataLoader x{workers})",
        "value": count / median,
        "unit": "images/s",
        "images": count,
        "median_s": median,
        "times_s": times,
        "torch_threads": torch.get_num_threads(),
        "workers": workers,
        "batch_size": batch_size,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
