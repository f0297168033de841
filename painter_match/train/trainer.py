"""`painter-match train`: fit the Siamese encoder on paintings labelled by artist.

One run reads a data folder through the data layer, holds out whole artists for validation,
and trains an encoder with one of the metric losses on batches of P artists x K paintings.
After every epoch it measures pair ROC AUC on the held-out artists, fits the calibration,
checks for embedding collapse, and writes ``last.pt`` (and ``best.pt`` when AUC improved),
``metrics.jsonl`` and ``curves.png`` into the run folder. ``--resume`` continues from
``last.pt`` with the same batches and augmentations the uninterrupted run would have used.
With the whole backbone frozen (``--freeze all``, EfficientNet-Lites) the backbone runs once
per painting and view (`painter_match.train.feature_cache`) and only the head trains, on the
stored features.
Under ``torchrun`` it trains with DistributedDataParallel (gloo on CPU, NCCL on CUDA).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from painter_match import atomic
from painter_match.data.pairs import Pairs, balanced_pairs
from painter_match.data.selection import run_paintings, split_by_artist
from painter_match.data.views import Views, crop_side
from painter_match.errors import DataError, PainterMatchError
from painter_match.inference.calibration import Calibration, fit_calibration
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import best_threshold_accuracy, roc_auc
from painter_match.train.augment import EvalTransform, ViewsTransform, load_side, train_transform
from painter_match.train.backbones import LITE_HIDDEN, Encoder, build_encoder, encoder_config, freeze_backbone
from painter_match.train.checkpoint import Checkpoint, load_state_strict
from painter_match.train.collection_fit import centred_validation
from painter_match.train.config import LITE_BACKBONES, TrainConfig, parse_freeze
from painter_match.train.data import ArtistBatchSampler, Batch, PaintingDataset, collate, label_codes
from painter_match.train.feature_cache import build_feature_cache, cached_view_names, supports_cache
from painter_match.train.losses import build_loss
from painter_match.workers import loader_processes

LAST, BEST, METRICS, CURVES, SKIPPED = (
    "last.pt",
    "best.pt",
    "metrics.jsonl",
    "curves.png",
    "skipped_images.csv",
)

# Collapse: the encoder maps every painting to (nearly) one point, so every pair gets the same
# answer. An untrained network already has mean cosine ~0.99 between paintings (all-positive
# pooled features), so a high mean cosine alone is not collapse; it is when the scores of the
# validation pairs no longer differ, or when after a few epochs they still carry no signal.
COLLAPSE_SCORE_STD = 1e-4
COLLAPSE_COSINE = 0.999
COLLAPSE_AUC = 0.6
COLLAPSE_AFTER_EPOCH = 3


class CollapseError(PainterMatchError):
    """The embeddings collapsed to (nearly) a single point."""


@dataclass
class TrainResult:
    """What a finished run reports."""

    out_dir: str
    epochs_run: int
    best_epoch: int
    best_val_auc: float
    best_val_accuracy: float
    seconds: float
    stopped_early: bool
    skipped_images: int
    world_size: int
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Siamese(nn.Module):
    """Encoder and loss in one module, so DDP synchronises the loss's own parameters too."""

    def __init__(self, encoder: Encoder, loss: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.loss = loss

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.forward_features(self.encoder.features(images), labels)

    def forward_features(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss from backbone features (stored ones: the head alone runs).

        The loss sees the trained part only; the untrained ImageNet part, when the encoder carries
        one, just gathers the training paintings' statistics here.
        """
        if self.encoder.imagenet is not None:
            self.encoder.imagenet.observe(features)
        return self.loss(nn.functional.normalize(self.encoder.head(features), dim=1), labels)


@dataclass
class _Cached:
    """Frozen-backbone features of the training paintings (every stored view) and validation ones."""

    train: torch.Tensor  # [n_train, V, D]
    train_readable: np.ndarray  # [n_train] bool
    val: torch.Tensor  # [n_val, V_val, D]: the global view, and the default view policy's crops if stored
    val_readable: np.ndarray  # [n_val] bool
    val_failures: list[tuple[int, str]]


def _cache_features(
    config: TrainConfig,
    encoder: Encoder,
    data: _Data,
    device: torch.device,
    progress: Callable[[str, int], Any] | None,
    say: Callable[[str], None],
    skipped: dict[str, str],
    sampler: ArtistBatchSampler,
) -> _Cached:
    views = Views(**config.views())
    names = cached_view_names(config.augment, views)
    root = data.train_set.root
    paths = data.train_set.paths + data.val_set.paths
    started = time.perf_counter()
    bar_context = progress("backbone features (once)", len(paths)) if progress else None
    bar = bar_context.__enter__() if bar_context else None
    try:
        cache = build_feature_cache(
            encoder,
            root,
            paths,
            view_names=names,
            views=views,
            device=device,
            cache_dir=Path(config.feature_cache) if config.feature_cache else None,
            advance=bar.advance if bar is not None else None,
        )
    finally:
        if bar_context is not None:
            bar_context.__exit__(None, None, None)
    n_train = len(data.train_set.paths)
    train_failures = [(i, cause) for i, cause in cache.failures if i < n_train]
    for index, cause in train_failures:
        skipped[data.train_set.paths[index]] = cause
    sampler.exclude([i for i, _ in train_failures])
    say(
        f"backbone features of {len(paths)} paintings x {len(names)} views ({', '.join(names)}) "
        f"in {time.perf_counter() - started:.0f}s; the head trains on them"
    )
    # Validation averages the views `embed` will (global + the policy's crops) where they are
    # stored, i.e. with crop augmentation; otherwise the global view stands for them.
    val_views = [0] + [names.index(f"crop{i}") for i in range(1, views.crops + 1) if f"crop{i}" in names]
    return _Cached(
        train=torch.from_numpy(cache.features[:n_train]).to(device),
        train_readable=cache.readable[:n_train],
        val=torch.from_numpy(cache.features[n_train:][:, val_views]).to(device),
        val_readable=cache.readable[n_train:],
        val_failures=[(i - n_train, cause) for i, cause in cache.failures if i >= n_train],
    )


@dataclass
class _Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _start_distributed(device_kind: str) -> _Distributed:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return _Distributed()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return _Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def _pick_device(requested: str, local_rank: int) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise PainterMatchError(
                "--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu"
            )
        return torch.device("cuda", local_rank)
    if requested != "cpu":
        raise PainterMatchError(f"--device must be auto, cpu or cuda, got {requested!r}")
    return torch.device("cpu")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def data_fingerprint(paintings: pd.DataFrame) -> str:
    """A short hash of which paintings (and artists) a model was trained on."""
    digest = hashlib.sha256()
    for path, artist in sorted(zip(paintings["path"], paintings["artist"])):
        digest.update(f"{path}\t{artist}\n".encode())
    return digest.hexdigest()[:16]


@dataclass
class _Data:
    train: pd.DataFrame
    val: pd.DataFrame
    train_artists: list[str]
    train_set: PaintingDataset
    val_set: PaintingDataset
    val_pairs: Pairs  # indices into val
    missing: int  # listed paintings whose files are not on disk (left out)


def _prepare_data(config: TrainConfig) -> _Data:
    catalogue, paintings, missing = run_paintings(
        config.folders(),
        exclude_artists=config.exclude_artists,
        hold_out_fold=config.hold_out_fold,
        min_paintings=config.min_paintings,
        max_per_artist=config.max_per_artist,
        seed=config.seed,
    )
    if paintings["artist"].nunique() < 3:
        raise DataError(
            f"{', '.join(config.folders())}: training needs at least 3 artists with {config.min_paintings}+ paintings "
            f"(2 to train on, 1 to validate); found {paintings['artist'].nunique()}"
        )
    split = split_by_artist(paintings, val_fraction=config.val_fraction, seed=config.seed)
    labels, artists = label_codes(list(split.train["artist"]))
    root = catalogue.root
    side = load_side(config.input_size)
    train_set = PaintingDataset(
        root,
        list(split.train["path"]),
        labels,
        train_transform(config.input_size, config.augment),
        load_side=side,
    )
    val_labels, _ = label_codes(list(split.val["artist"]))
    # Validation sees what `embed` will with the model's default views, so that the AUC that picks
    # the best epoch and the calibration fitted on it hold for the exported model as users run it.
    views = Views(**config.views())
    val_set = PaintingDataset(
        root,
        list(split.val["path"]),
        val_labels,
        ViewsTransform(config.input_size, views) if views.crops else EvalTransform(config.input_size),
        load_side=crop_side(config.input_size, views) if views.crops else config.input_size,
    )
    val_pairs = balanced_pairs(root, split.val, config.val_pairs, seed=config.seed)
    return _Data(split.train, split.val, artists, train_set, val_set, val_pairs, missing)


def _lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up, then a cosine decay to 5% of the base rate."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def embed_dataset(
    encoder: Encoder,
    dataset: PaintingDataset,
    device: torch.device,
    *,
    batch_size: int = 64,
    workers: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Embeddings of every decodable painting: ``(embeddings [n, D], indices [n], failures)``.

    A dataset whose samples are stacks of views (``[V, 3, S, S]``, `ViewsTransform`) gives each
    painting the normalised mean of its views' embeddings, as ``embed`` does.
    """
    was_training = encoder.training
    encoder.eval()
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate
    )
    chunks, indices, failures = [], [], []
    for batch in loader:
        failures.extend(batch.failures)
        if batch.images.numel():
            images = batch.images.to(device)
            if images.ndim == 5:  # [N, views, 3, S, S]: the normalised mean of the views, as `embed`
                n, v = images.shape[:2]
                per_view = encoder(images.flatten(0, 1)).float().view(n, v, -1)
                embedded = nn.functional.normalize(per_view.mean(dim=1), dim=1)
            else:
                embedded = encoder(images).float()
            chunks.append(embedded.cpu().numpy())
            indices.append(batch.indices.numpy())
    encoder.train(was_training)
    if not chunks:
        return np.empty((0, encoder.embedding_dim), np.float32), np.empty(0, np.int64), failures
    return np.concatenate(chunks), np.concatenate(indices), failures


def mean_pairwise_cosine(embeddings: np.ndarray) -> float:
    """Mean cosine between distinct rows of unit vectors (1.0 means total collapse)."""
    n = len(embeddings)
    if n < 2:
        return 0.0
    total = embeddings.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


# Centring on the collection is made a model's default only when it costs its own validation
# pairs at most this much AUC: the selection rule's allowance on the training source
# (docs/real-photographs.md). The real-paintings preset's held-out folds lose nothing (0.9015 either
# way); the synthetic painters of `make demo`, which share no source offset, lose 0.016.
CENTRING_TOLERANCE = 0.005


@dataclass
class _Validation:
    auc: float
    accuracy: float
    mean_cosine: float
    score_std: float
    calibration: Calibration
    failures: list[tuple[int, str]]
    # The same pairs' calibration centred and standardised on the collection of training and
    # validation paintings (`painter_match.train.collection_fit`): what a model's default
    # collection adaptation (`painter_match.inference.collection`) scores with.
    # None when centring costs the validation pairs more than CENTRING_TOLERANCE of AUC: then the
    # model states no collection adaptation and its embeddings are compared as they are.
    centred_calibration: Calibration | None = None
    centred_auc: float = float("nan")


def is_collapsed(validation: _Validation, epoch: int) -> bool:
    """Whether the embeddings have collapsed (see COLLAPSE_* above)."""
    if validation.score_std < COLLAPSE_SCORE_STD:
        return True
    stalled = validation.mean_cosine > COLLAPSE_COSINE and validation.auc < COLLAPSE_AUC
    return epoch >= COLLAPSE_AFTER_EPOCH and stalled


@torch.no_grad()
def _embed_cached(encoder: Encoder, cached: _Cached) -> tuple[np.ndarray, np.ndarray]:
    """Validation embeddings from stored features: ``(embeddings [n, D], indices [n])``."""
    was_training = encoder.training
    encoder.eval()
    indices = np.flatnonzero(cached.val_readable)
    rows = cached.val[torch.from_numpy(indices).to(cached.val.device)]
    n, views = rows.shape[:2]
    per_view = encoder.embed_features(rows.flatten(0, 1)).float().view(n, views, -1)
    embeddings = nn.functional.normalize(per_view.mean(dim=1), dim=1).cpu().numpy()
    encoder.train(was_training)
    return embeddings, indices


@torch.no_grad()
def _embed_cached_training(encoder: Encoder, cached: _Cached, chunk: int = 4096) -> np.ndarray:
    """The readable training paintings' embeddings (global view) from stored features ``[m, D]``."""
    was_training = encoder.training
    encoder.eval()
    rows = torch.from_numpy(np.flatnonzero(cached.train_readable)).to(cached.train.device)
    parts = [
        encoder.embed_features(cached.train[rows[i : i + chunk], 0]).float().cpu().numpy()
        for i in range(0, len(rows), chunk)
    ]
    encoder.train(was_training)
    return np.concatenate(parts) if parts else np.empty((0, encoder.embedding_dim), np.float32)


def _validate(
    encoder: Encoder, data: _Data, device: torch.device, workers: int, cached: _Cached | None = None
) -> _Validation:
    if cached is not None:
        embeddings, indices = _embed_cached(encoder, cached)
        failures = cached.val_failures
    else:
        embeddings, indices, failures = embed_dataset(encoder, data.val_set, device, workers=workers)
    pairs = data.val_pairs
    row_of = np.full(len(pairs.paths), -1, np.int64)  # painting -> its row in embeddings
    row_of[indices] = np.arange(len(indices))
    usable = (row_of[pairs.first] >= 0) & (row_of[pairs.second] >= 0)
    labels = pairs.same[usable]
    if labels.size == 0 or labels.all() or not labels.any():
        raise DataError(
            "validation has no usable same-artist and different-artist pairs; lower --val-fraction?"
        )
    similarity = pairwise_cosine(embeddings, row_of[pairs.first[usable]], row_of[pairs.second[usable]])
    accuracy, _ = best_threshold_accuracy(labels, similarity)
    # With stored features the training paintings complete the collection at little cost; read
    # from images they would take another pass over them every epoch.
    others = _embed_cached_training(encoder, cached) if cached is not None else None
    centred = centred_validation(
        embeddings, row_of[pairs.first[usable]], row_of[pairs.second[usable]], labels, others
    )
    auc = roc_auc(labels, similarity)
    return _Validation(
        auc=auc,
        accuracy=accuracy,
        mean_cosine=mean_pairwise_cosine(embeddings),
        score_std=float(similarity.std()),
        calibration=fit_calibration(similarity, labels),
        failures=failures,
        centred_calibration=(
            centred.calibration if centred.calibration and centred.auc >= auc - CENTRING_TOLERANCE else None
        ),
        centred_auc=centred.auc,
    )


def _write_metrics(history: list[dict[str, float]], out_dir: Path) -> None:
    atomic.write_bytes(out_dir / METRICS, "".join(json.dumps(row) + "\n" for row in history).encode("utf-8"))


def _write_skipped(skipped: dict[str, str], out_dir: Path) -> None:
    if not skipped:
        return
    frame = pd.DataFrame(sorted(skipped.items()), columns=["path", "cause"])
    atomic.write_bytes(out_dir / SKIPPED, frame.to_csv(index=False).encode("utf-8"))


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    progress: Callable[[str, int], Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train (or resume) a run; see the module docstring for what it writes.

    Args:
        config: the options; on resume the saved ones are used, except ``epochs``, ``workers``
            and ``patience``, which may be raised to go on longer.
        resume: continue from ``OUT_DIR/last.pt``.
        progress: ``progress(description, total)`` returning a context manager yielding a bar
            with ``advance(n)``; None for no progress display.
        log: receives one line per epoch (the main process only).

    Raises:
        DataError: unusable data. CheckpointError: a bad ``last.pt`` on resume.
        CollapseError: the embeddings collapsed.
    """
    out_dir = Path(config.out_dir)
    state: Checkpoint | None = None
    if resume:
        state = Checkpoint.load(out_dir / LAST)
        saved = state.train_config()
        saved.epochs, saved.workers, saved.patience = config.epochs, config.workers, config.patience
        saved.data_dir, saved.data_dirs, saved.out_dir = config.data_dir, config.data_dirs, config.out_dir
        config = saved
    elif (out_dir / LAST).exists():
        raise PainterMatchError(
            f"{out_dir} already holds a run ({LAST}); pass --resume to continue it or pick another -o"
        )

    device_kind = "cuda" if config.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    ddp = _start_distributed(device_kind)
    device = _pick_device(config.device, ddp.local_rank)
    _seed_everything(config.seed)
    say = log if (log and ddp.main) else (lambda _line: None)

    data = _prepare_data(config)
    if data.missing:
        say(
            f"{data.missing:,} listed paintings are not on disk and are left out (`painter-match scan` lists them)"
        )
    encoder = build_encoder(
        config.backbone,
        embedding_dim=config.embedding_dim,
        input_size=config.input_size,
        pretrained=config.pretrained and state is None,
        dropout=config.dropout,
        features=config.features,
        head_hidden=config.head_hidden if config.backbone in LITE_BACKBONES else LITE_HIDDEN,
        imagenet_weight=config.imagenet_weight,
    )
    # Frozen parameters stay out of the optimizer below; frozen BatchNorm layers stay in eval
    # mode through every model.train() (Encoder.train), so their running statistics stay put.
    freeze_backbone(encoder, config.freeze, batchnorm=config.freeze_batchnorm)
    loss = build_loss(
        config.loss,
        embedding_dim=config.embedding_dim,
        num_classes=len(data.train_artists),
        margin=config.margin,
    )
    model = _Siamese(encoder, loss).to(device)
    trained: nn.Module = model
    if ddp.world_size > 1:
        trained = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    sampler = ArtistBatchSampler(
        data.train_set.labels,
        artists_per_batch=config.artists_per_batch,
        paintings_per_artist=config.paintings_per_artist,
        seed=config.seed,
        rank=ddp.rank,
        world_size=ddp.world_size,
    )
    steps_per_epoch = len(sampler)
    optimizer_class = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    trainable: list[dict[str, Any]] = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    if config.backbone_lr_scale != 1.0:
        # The pretrained backbone learns slower than the fresh head and loss; the schedule scales
        # both groups alike. (One group otherwise, as runs made before the option resume with.)
        backbone = {id(p) for p in model.encoder.backbone.parameters()}
        trainable = [
            {"params": [p for p in trainable[0]["params"] if id(p) not in backbone]},
            {
                "params": [p for p in trainable[0]["params"] if id(p) in backbone],
                "lr": config.lr * config.backbone_lr_scale,
            },
        ]
    optimizer = optimizer_class(
        [group for group in trainable if group["params"]], lr=config.lr, weight_decay=config.weight_decay
    )
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = steps_per_epoch * config.warmup_epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(step, warmup_steps, total_steps)
    )
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    history: list[dict[str, float]] = []
    skipped: dict[str, str] = {}
    start_epoch, best_auc, best_epoch, bad_epochs = 1, -1.0, 0, 0
    if state is not None:
        load_state_strict(model.encoder, state.encoder, "encoder", out_dir / LAST)
        load_state_strict(model.loss, state.loss_state, "loss", out_dir / LAST)
        optimizer.load_state_dict(state.optimizer)
        scheduler.load_state_dict(state.scheduler)
        scaler.load_state_dict(state.scaler)
        history = list(state.history)
        skipped = dict(state.skipped)
        start_epoch = int(state.epoch) + 1
        best_auc, best_epoch, bad_epochs = float(state.best_auc), int(state.best_epoch), int(state.bad_epochs)
        sampler.exclude([i for i, p in enumerate(data.train_set.paths) if p in skipped])
        say(
            f"resuming {out_dir} at epoch {start_epoch} (best val AUC so far {best_auc:.4f} at epoch {best_epoch})"
        )

    # With the whole (Lite) backbone frozen its features never change: compute them once.
    cached: _Cached | None = None
    if parse_freeze(config.freeze) == 0 and supports_cache(model.encoder) and ddp.world_size == 1:
        cached = _cache_features(config, model.encoder, data, device, progress, say, skipped, sampler)
    fingerprint = data_fingerprint(data.train)
    if ddp.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    elapsed_before = float(history[-1]["elapsed_seconds"]) if history else 0.0
    stopped_early = False
    epoch = start_epoch - 1
    for epoch in range(start_epoch, config.epochs + 1):
        epoch_started = time.perf_counter()
        sampler.set_epoch(epoch)
        # Augmentations depend only on (seed, epoch), so a resumed run repeats them exactly.
        torch.manual_seed(config.seed * 1_000_003 + epoch)
        batches: Any
        if cached is not None:
            batches = _cached_batches(cached, sampler, config.seed * 1_000_003 + epoch)
        else:
            batches = DataLoader(
                data.train_set,
                batch_sampler=sampler,
                num_workers=loader_processes(config.workers),
                collate_fn=collate,
                generator=torch.Generator().manual_seed(config.seed * 1_000_003 + epoch),
                pin_memory=device.type == "cuda",
            )
        model.train()
        losses: list[float] = []
        bar_context = (
            progress(f"epoch {epoch}/{config.epochs}", steps_per_epoch) if (progress and ddp.main) else None
        )
        bar = bar_context.__enter__() if bar_context else None
        try:
            for batch in batches:
                if cached is None:
                    _note_failures(batch, data.train_set, sampler, skipped)
                if len(batch.labels) >= 2:
                    optimizer.zero_grad(set_to_none=True)
                    with torch.autocast(device_type=device.type, enabled=use_amp):
                        if cached is not None:
                            value = model.forward_features(batch.images, batch.labels.to(device))
                        else:
                            value = trained(
                                batch.images.to(device, non_blocking=True), batch.labels.to(device)
                            )
                    scaler.scale(value).backward()
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                    scaler.step(optimizer)
                    scaler.update()
                    losses.append(float(value.detach()))
                scheduler.step()
                if bar is not None:
                    bar.advance(1)
        finally:
            if bar_context is not None:
                bar_context.__exit__(None, None, None)

        validation = _validate(model.encoder, data, device, loader_processes(config.workers), cached)
        for index, cause in validation.failures:
            skipped[data.val_set.paths[index]] = cause
        train_loss = float(np.mean(losses)) if losses else float("nan")
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_auc": validation.auc,
            "val_accuracy": validation.accuracy,
            "val_auc_centred": validation.centred_auc,
            "val_mean_cosine": validation.mean_cosine,
            "lr": float(scheduler.get_last_lr()[0]),
            "seconds": time.perf_counter() - epoch_started,
            "elapsed_seconds": elapsed_before + time.perf_counter() - started,
        }
        history.append(row)
        improved = validation.auc > best_auc
        if improved:
            best_auc, best_epoch, bad_epochs = validation.auc, epoch, 0
        else:
            bad_epochs += 1
        say(
            f"epoch {epoch:3d}  loss {train_loss:.4f}  val AUC {validation.auc:.4f}  "
            f"acc {validation.accuracy:.4f}  {row['seconds']:.1f}s" + ("  *best*" if improved else "")
        )
        if ddp.main:
            checkpoint = Checkpoint(
                config=config.to_dict(),
                encoder_config=encoder_config(model.encoder),
                encoder=model.encoder.state_dict(),
                calibration=validation.calibration,
                collection_calibration=validation.centred_calibration,
                collection_units="collection",
                val_auc=validation.auc,
                train_artists=data.train_artists,
                val_artists=sorted(set(data.val["artist"])),
                data_fingerprint=fingerprint,
                validation=data.val_pairs,
                epoch=epoch,
                best_auc=best_auc,
                best_epoch=best_epoch,
                bad_epochs=bad_epochs,
                history=history,
                skipped=skipped,
                loss_state=model.loss.state_dict(),
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                scaler=scaler.state_dict(),
            )
            checkpoint.save(out_dir / LAST)
            if improved:
                checkpoint.save(out_dir / BEST)
            _write_metrics(history, out_dir)
            _write_skipped(skipped, out_dir)
            _plot(history, out_dir)
        if is_collapsed(validation, epoch):
            raise CollapseError(
                f"embedding collapse at epoch {epoch}: held-out paintings have mean cosine similarity "
                f"{validation.mean_cosine:.4f} and pair scores vary by only {validation.score_std:.2g} "
                f"(val AUC {validation.auc:.3f}), so every pair gets nearly the same answer; lower --lr, "
                "change --margin or try another --loss (the best weights so far are in best.pt)"
            )
        if bad_epochs >= config.patience:
            stopped_early = True
            say(f"stopping early: no better val AUC for {config.patience} epochs")
            break

    if ddp.world_size > 1:
        dist.barrier()
    best_row = next((r for r in history if r["epoch"] == best_epoch), {"val_accuracy": float("nan")})
    return TrainResult(
        out_dir=str(out_dir),
        epochs_run=epoch,
        best_epoch=best_epoch,
        best_val_auc=best_auc,
        best_val_accuracy=float(best_row["val_accuracy"]),
        seconds=elapsed_before + time.perf_counter() - started,
        stopped_early=stopped_early,
        skipped_images=len(skipped),
        world_size=ddp.world_size,
        history=history,
    )


def _cached_batches(cached: _Cached, sampler: ArtistBatchSampler, seed: int) -> Any:
    """The sampler's batches as stored features, one stored view drawn at random per painting."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.from_numpy(sampler.labels)
    views = cached.train.shape[1]
    for indices in sampler:
        index = torch.as_tensor(indices, dtype=torch.int64)
        view = torch.randint(views, (len(indices),), generator=generator)
        features = cached.train[index.to(cached.train.device), view.to(cached.train.device)]
        yield Batch(images=features, labels=labels[index], indices=index, failures=[])


def _note_failures(
    batch: Batch, dataset: PaintingDataset, sampler: ArtistBatchSampler, skipped: dict[str, str]
) -> None:
    if batch.failures:
        sampler.exclude([index for index, _ in batch.failures])
        for index, cause in batch.failures:
            skipped[dataset.paths[index]] = cause


def _plot(history: list[dict[str, float]], out_dir: Path) -> None:
    from painter_match.train.plots import plot_history

    plot_history(history, out_dir / CURVES)
