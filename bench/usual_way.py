"""The usual way: what a PyTorch user writes to embed a folder of paintings, timed on the same images.

torchvision's ``ImageFolder`` (its default loader: a full-size Pillow decode and ``convert("RGB")``),
the standard transforms (``Resize`` of the shorter side, ``CenterCrop``, ``ToTensor``), a
``DataLoader`` with one worker process per core and the default batch size painter-match uses, and
the eager encoder under ``torch.inference_mode()`` with torch's default threads. The encoder
normalises its own input, which is the ``Normalize`` transform a user would add. Nothing here is
tuned: that is the point of the comparison. With ``crops`` (a model whose view policy has crops)
the transform also makes painter-match's crops the usual way (a second ``Resize`` of the full-size
image to the crop scale, then a crop per grid cell) and the painting's embedding is the mean of
its views', as painter-match computes it.
"""

from __future__ import annotations

import time
from typing import Any

from bench.runner import peak_rss_mb


def usual_transform(size: int) -> Any:
    """``Resize(size)`` (shorter side, bilinear with antialias), ``CenterCrop(size)``, ``ToTensor()``."""
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()])


class ViewsTransform:
    """The global view and ``crops`` crops of one painting, as a float tensor ``[1 + crops, 3, S, S]``.

    A class, not a closure, so DataLoader worker processes can pickle it.
    """

    def __init__(self, size: int, crops: int, crop_scale: float) -> None:
        self.size, self.crops, self.crop_scale = size, crops, crop_scale
        self.global_view = usual_transform(size)

    def __call__(self, image: Any) -> Any:
        import torch
        from torchvision.transforms import functional

        from painter_match.data.views import Views, crop_boxes, crop_side

        side = crop_side(self.size, Views(crops=self.crops, crop_scale=self.crop_scale))
        large = functional.resize(image, side)
        views = [self.global_view(image)]
        for left, top, right, bottom in crop_boxes(self.crops, large.width, large.height, self.size):
            views.append(functional.to_tensor(functional.crop(large, top, left, bottom - top, right - left)))
        return torch.stack(views)


def measure(
    root: str,
    eager: str,
    size: int,
    batch_size: int,
    workers: int,
    warmup: int,
    repeats: int,
    crops: int = 0,
    crop_scale: float = 2.0,
) -> dict[str, Any]:
    """Embed every image under ``root`` the usual way; median seconds per pass over the folder.

    Each pass builds the ``DataLoader`` anew (its worker processes start each time, as they do for
    a script run once per folder); the model is built once, outside the timing. The peak RSS is
    the main process's; each worker process holds its own decoded batches on top of it. With
    ``crops`` every painting is ``1 + crops`` views (`ViewsTransform`), all of a batch in one
    forward pass, and its embedding the mean of its views'.
    """
    import statistics

    import torch
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    from bench.networks import load_eager

    model = load_eager(eager)
    transform = usual_transform(size) if crops == 0 else ViewsTransform(size, crops, crop_scale)
    dataset = ImageFolder(root, transform=transform)
    count = len(dataset)

    def one_pass() -> int:
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, shuffle=False)
        seen = 0
        with torch.inference_mode():
            for images, _ in loader:
                if crops:
                    count_views = images.shape[1]
                    out = model(images.flatten(0, 1))
                    out.view(len(images), count_views, -1).mean(dim=1)
                else:
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
        "views": 1 + crops,
        "views_per_s": count * (1 + crops) / median,
        "images": count,
        "median_s": median,
        "times_s": times,
        "torch_threads": torch.get_num_threads(),
        "workers": workers,
        "batch_size": batch_size,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
