"""The Siamese encoder: one network, whichever backbone it was built on, that maps images to unit vectors.

An `Encoder` is a backbone (images -> pooled features) and an embedding head (features ->
embedding), with the input normalisation carried as buffers so that an exported graph takes plain
[0, 1] pixels. Which backbones exist and how one is built is `painter_match.train.backbones`'s
job; its JSON description is `painter_match.train.encoder_config`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from painter_match.train.imagenet_part import ImageNetPart

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The smallest side every backbone still reduces to at least 1x1 (ResNets downsample 32x).
MIN_INPUT_SIZE = 32


class Encoder(nn.Module):
    """The Siamese twin: one set of weights maps a batch of images to L2-normalised embeddings.

    The encoder normalises its input itself, with `mean` and `std` buffers, so an exported graph
    only has to turn decoded pixels into floats in [0, 1]; the buffers travel in the state dict.

    Attributes:
        backbone_name: one of `BACKBONES`.
        embedding_dim: the length of each embedding.
        input_size: the square side, in pixels, the encoder was built (and is trained) for. Any
            side of at least `MIN_INPUT_SIZE` works, since every backbone ends in global pooling.
        feature_dim: the length of the pooled backbone features that feed the head.
        backbone: images [N, 3, H, W] (normalised) -> pooled features [N, feature_dim].
        head: pooled features -> the trained part's unnormalised embeddings [N, trained_dim].
        imagenet: None, or the untrained ImageNet features carried beside the trained part
            (`ImageNetPart`); `embedding_dim` is then ``trained_dim + imagenet.dim``.
        trained_dim: the length of the head's output, the part the loss trains.
        mean: buffer [1, 3, 1, 1], subtracted from the [0, 1] input.
        std: buffer [1, 3, 1, 1], divided into it after.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        backbone: nn.Module,
        head: nn.Module,
        *,
        backbone_name: str,
        embedding_dim: int,
        input_size: int,
        feature_dim: int,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        imagenet: ImageNetPart | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.imagenet = imagenet
        self.backbone_name = backbone_name
        self.trained_dim = embedding_dim
        self.embedding_dim = embedding_dim + (imagenet.dim if imagenet is not None else 0)
        self.input_size = input_size
        self.feature_dim = feature_dim
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled backbone features, before the embedding head.

        Args:
            x: float images [N, 3, H, W], RGB, values in [0, 1].

        Returns:
            A float tensor [N, feature_dim].

        Raises:
            ValueError: when `x` is not a float tensor of shape [N, 3, H, W].
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images of shape [N, 3, H, W], got {list(x.shape)}")
        if not x.is_floating_point():
            # uint8 pixels would silently be treated as values 0..255, 255 times too bright.
            raise ValueError(f"expected float images with values in [0, 1], got dtype {x.dtype}")
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of images.

        Args:
            x: float images [N, 3, H, W], RGB, values in [0, 1].

        Returns:
            Unit-length embeddings [N, embedding_dim].

        Raises:
            ValueError: when `x` is not a float tensor of shape [N, 3, H, W].
        """
        return self.embed_features(self.features(x))

    def embed_features(self, features: torch.Tensor) -> torch.Tensor:
        """Unit-length embeddings [N, embedding_dim] from pooled features [N, feature_dim]."""
        trained = F.normalize(self.head(features), dim=1)
        if self.imagenet is None:
            return trained
        return F.normalize(torch.cat([trained, self.imagenet(features)], dim=1), dim=1)

    def train(self, mode: bool = True) -> Encoder:
        """Set training mode, except that frozen BatchNorm layers of the backbone stay in eval mode.

        A BatchNorm whose weight does not require grad (see `freeze_backbone`) is frozen: in
        training mode it would still normalise with the batch's statistics and overwrite its
        running ones, so the frozen features would drift away from those it was trained with.
        """
        super().train(mode)
        if mode:
            for module in self.backbone.modules():
                if (
                    isinstance(module, BATCH_NORMS)
                    and module.weight is not None
                    and not module.weight.requires_grad
                ):
                    module.eval()
        return self


# Every BatchNorm kind: the layers `Encoder.train` keeps in eval mode once they are frozen.
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
