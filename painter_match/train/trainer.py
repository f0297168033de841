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

`train` below is the run from end to end; each of its steps is a module of its own:

- `painter_match.train.run_setup`: the options (``last.pt``'s on resume), seeds, encoder and loss,
  sampler, optimizer, schedule and their restored states, gathered in a `Run`; it builds on
  `painter_match.train.distributed` (the process group and each process's device) and
  `painter_match.train.run_data` (the paintings, the validation split and pairs, and the stored
  backbone features);
- `painter_match.train.epoch`: one training epoch;
- `painter_match.train.validation`: the held-out artists' pair AUC, the calibrations, collapse;
- `painter_match.train.run_outputs`: the run folder's files after each epoch.

The names other code imports from here (`train`, `TrainConfig`, `TrainResult`, `embed_dataset`,
`CENTRING_TOLERANCE`, the file names ``LAST``, ``BEST``, ...) stay importable from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from painter_match.train.config import TrainConfig
from painter_match.train.epoch import run_epoch
from painter_match.train.run_data import _prepare_data, data_fingerprint
from painter_match.train.run_outputs import BEST, CURVES, LAST, METRICS, SKIPPED, save_epoch
from painter_match.train.run_setup import set_up
from painter_match.train.validation import (
    CENTRING_TOLERANCE,
    COLLAPSE_AFTER_EPOCH,
    COLLAPSE_AUC,
    COLLAPSE_COSINE,
    COLLAPSE_SCORE_STD,
    CollapseError,
    _validate,
    _Validation,
    embed_dataset,
    is_collapsed,
    mean_pairwise_cosine,
    stop_if_collapsed,
)
from painter_match.workers import loader_processes

# What other code imports from here, wherever it now lives.
__all__ = [
    "BEST",
    "CENTRING_TOLERANCE",
    "COLLAPSE_AFTER_EPOCH",
    "COLLAPSE_AUC",
    "COLLAPSE_COSINE",
    "COLLAPSE_SCORE_STD",
    "CURVES",
    "LAST",
    "METRICS",
    "SKIPPED",
    "CollapseError",
    "TrainConfig",
    "TrainResult",
    "_Validation",
    "_prepare_data",
    "_validate",
    "data_fingerprint",
    "embed_dataset",
    "is_collapsed",
    "mean_pairwise_cosine",
    "train",
]


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
    run = set_up(config, resume=resume, progress=progress, log=log)
    config, data, say, history, skipped = run.config, run.data, run.say, run.history, run.skipped
    started = time.perf_counter()
    elapsed_before = float(history[-1]["elapsed_seconds"]) if history else 0.0
    stopped_early = False
    epoch = run.start_epoch - 1
    for epoch in range(run.start_epoch, config.epochs + 1):
        epoch_started = time.perf_counter()
        losses = run_epoch(run, epoch, progress)

        validation = _validate(
            run.model.encoder, data, run.device, loader_processes(config.workers), run.cached
        )
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
            "lr": float(run.scheduler.get_last_lr()[0]),
            "seconds": time.perf_counter() - epoch_started,
            "elapsed_seconds": elapsed_before + time.perf_counter() - started,
        }
        if validation.centred_threshold_raised_from is not None:
            # The centred fit's own threshold, below the floor it was raised to (collection_fit).
            row["val_centred_threshold_raised_from"] = validation.centred_threshold_raised_from
        history.append(row)
        improved = validation.auc > run.best_auc
        if improved:
            run.best_auc, run.best_epoch, run.bad_epochs = validation.auc, epoch, 0
        else:
            run.bad_epochs += 1
        say(
            f"epoch {epoch:3d}  loss {train_loss:.4f}  val AUC {validation.auc:.4f}  "
            f"acc {validation.accuracy:.4f}  {row['seconds']:.1f}s" + ("  *best*" if improved else "")
        )
        if run.ddp.main:
            save_epoch(run, validation, epoch, improved=improved)
        stop_if_collapsed(validation, epoch)
        if run.bad_epochs >= config.patience:
            stopped_early = True
            say(f"stopping early: no better val AUC for {config.patience} epochs")
            break

    run.ddp.barrier()
    best_row = next((r for r in history if r["epoch"] == run.best_epoch), {"val_accuracy": float("nan")})
    return TrainResult(
        out_dir=str(run.out_dir),
        epochs_run=epoch,
        best_epoch=run.best_epoch,
        best_val_auc=run.best_auc,
        best_val_accuracy=float(best_row["val_accuracy"]),
        seconds=elapsed_before + time.perf_counter() - started,
        stopped_early=stopped_early,
        skipped_images=len(skipped),
        world_size=run.ddp.world_size,
        history=history,
    )
