"""A run's set-up: from a `TrainConfig` to everything its epochs need, gathered in a `Run`.

`set_up` reads ``last.pt`` on ``--resume`` (whose options then hold), starts the process group
under ``torchrun`` and picks the device (`painter_match.train.distributed`), seeds the generators,
prepares the data (`painter_match.train.run_data`), builds the encoder and loss as one `_Siamese`
module (wrapped in DistributedDataParallel when there are several processes), the artist batch
sampler, the optimizer, the warm-up-then-cosine schedule and the AMP scaler, restores their
states on resume, and with the whole (Lite) backbone frozen computes the backbone features once.
The order of these steps is part of the run: the encoder and loss draw their initial weights from
the generators seeded here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from painter_match.errors import PainterMatchError
from painter_match.train.backbones import LITE_HIDDEN, Encoder, build_encoder, freeze_backbone
from painter_match.train.checkpoint import Checkpoint, load_state_strict
from painter_match.train.config import LITE_BACKBONES, TrainConfig, parse_freeze
from painter_match.train.data import ArtistBatchSampler
from painter_match.train.distributed import _Distributed, _pick_device, _start_distributed
from painter_match.train.feature_cache import supports_cache
from painter_match.train.losses import build_loss
from painter_match.train.run_data import _cache_features, _Cached, _Data, _prepare_data, data_fingerprint
from painter_match.train.run_outputs import LAST


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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


def _lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up, then a cosine decay to 5% of the base rate."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class Run:
    """Everything a run's epochs use, and where the run stands (fresh, or as ``last.pt`` left it)."""

    config: TrainConfig  # on resume the saved options, with the ones `train` lets change
    out_dir: Path
    ddp: _Distributed
    device: torch.device
    say: Callable[[str], None]  # a line for the log (the main process only)
    data: _Data
    model: _Siamese
    trained: nn.Module  # `model`, or its DistributedDataParallel wrapper
    sampler: ArtistBatchSampler
    steps_per_epoch: int  # the sampler's batches before any painting was excluded
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    use_amp: bool
    cached: _Cached | None = None  # the stored backbone features, when the backbone is frozen whole
    fingerprint: str = ""
    history: list[dict[str, float]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # painting path -> why it was skipped
    start_epoch: int = 1
    best_auc: float = -1.0
    best_epoch: int = 0
    bad_epochs: int = 0


def set_up(
    config: TrainConfig,
    *,
    resume: bool,
    progress: Callable[[str, int], Any] | None,
    log: Callable[[str], None] | None,
) -> Run:
    """The run `train` goes on with (see the module docstring); its arguments are `train`'s."""
    out_dir = Path(config.out_dir)
    config, state = _resumed_config(config, out_dir, resume)

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
    model, trained = _build_model(config, data, ddp, device, pretrained=config.pretrained and state is None)

    sampler = ArtistBatchSampler(
        data.train_set.labels,
        artists_per_batch=config.artists_per_batch,
        paintings_per_artist=config.paintings_per_artist,
        seed=config.seed,
        rank=ddp.rank,
        world_size=ddp.world_size,
    )
    steps_per_epoch = len(sampler)
    optimizer = _optimizer(config, model)
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = steps_per_epoch * config.warmup_epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(step, warmup_steps, total_steps)
    )
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    run = Run(
        config=config, out_dir=out_dir, ddp=ddp, device=device, say=say, data=data, model=model,
        trained=trained, sampler=sampler, steps_per_epoch=steps_per_epoch, optimizer=optimizer,
        scheduler=scheduler, scaler=scaler, use_amp=use_amp,
    )  # fmt: skip
    if state is not None:
        _restore(run, state)

    # With the whole (Lite) backbone frozen its features never change: compute them once.
    if parse_freeze(config.freeze) == 0 and supports_cache(model.encoder) and ddp.world_size == 1:
        run.cached = _cache_features(config, model.encoder, data, device, progress, say, run.skipped, sampler)
    run.fingerprint = data_fingerprint(data.train)
    if ddp.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    return run


def _resumed_config(
    config: TrainConfig, out_dir: Path, resume: bool
) -> tuple[TrainConfig, Checkpoint | None]:
    """The options the run goes on with, and on resume the ``last.pt`` it goes on from."""
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
    return config, state


def _build_model(
    config: TrainConfig, data: _Data, ddp: _Distributed, device: torch.device, *, pretrained: bool
) -> tuple[_Siamese, nn.Module]:
    """The encoder and loss as one module on ``device``, and the module the steps run (DDP's, if any)."""
    encoder = build_encoder(
        config.backbone,
        embedding_dim=config.embedding_dim,
        input_size=config.input_size,
        pretrained=pretrained,
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
    return model, trained


def _optimizer(config: TrainConfig, model: _Siamese) -> torch.optim.Optimizer:
    """Adam or AdamW over the trainable parameters (frozen ones stay out)."""
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
    return optimizer_class(
        [group for group in trainable if group["params"]], lr=config.lr, weight_decay=config.weight_decay
    )


def _restore(run: Run, state: Checkpoint) -> None:
    """Put the model, optimizer, schedule, scaler and the run's standing back as ``last.pt`` holds them."""
    load_state_strict(run.model.encoder, state.encoder, "encoder", run.out_dir / LAST)
    load_state_strict(run.model.loss, state.loss_state, "loss", run.out_dir / LAST)
    run.optimizer.load_state_dict(state.optimizer)
    run.scheduler.load_state_dict(state.scheduler)
    run.scaler.load_state_dict(state.scaler)
    run.history = list(state.history)
    run.skipped = dict(state.skipped)
    run.start_epoch = int(state.epoch) + 1
    run.best_auc, run.best_epoch = float(state.best_auc), int(state.best_epoch)
    run.bad_epochs = int(state.bad_epochs)
    run.sampler.exclude([i for i, p in enumerate(run.data.train_set.paths) if p in run.skipped])
    run.say(
        f"resuming {run.out_dir} at epoch {run.start_epoch} "
        f"(best val AUC so far {run.best_auc:.4f} at epoch {run.best_epoch})"
    )
