"""What a run writes into its folder after every epoch (the main process only).

``last.pt`` (a `painter_match.train.checkpoint.Checkpoint` of everything a resume and export
need), ``best.pt`` when the validation AUC improved, ``metrics.jsonl`` (one row per epoch),
``skipped_images.csv`` (the paintings that could not be read, and why) and ``curves.png``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from painter_match import atomic
from painter_match.train.backbones import encoder_config
from painter_match.train.checkpoint import Checkpoint

if TYPE_CHECKING:  # for annotations only: run_setup imports LAST from here
    from painter_match.train.run_setup import Run
    from painter_match.train.validation import _Validation

LAST, BEST, METRICS, CURVES, SKIPPED = (
    "last.pt",
    "best.pt",
    "metrics.jsonl",
    "curves.png",
    "skipped_images.csv",
)


def save_epoch(run: Run, validation: _Validation, epoch: int, *, improved: bool) -> None:
    """Write the run folder's files as they stand after ``epoch`` (``best.pt`` when ``improved``)."""
    config, model, data, out_dir = run.config, run.model, run.data, run.out_dir
    checkpoint = Checkpoint(
        config=config.to_dict(),
        encoder_config=encoder_config(model.encoder),
        encoder=model.encoder.state_dict(),
        calibration=validation.calibration,
        collection_calibration=validation.centred_calibration,
        collection_units="collection",
        collection_centre_weights=[[count, weight] for count, weight in validation.centre_weights],
        val_auc=validation.auc,
        train_artists=data.train_artists,
        val_artists=sorted(set(data.val["artist"])),
        data_fingerprint=run.fingerprint,
        validation=data.val_pairs,
        epoch=epoch,
        best_auc=run.best_auc,
        best_epoch=run.best_epoch,
        bad_epochs=run.bad_epochs,
        history=run.history,
        skipped=run.skipped,
        loss_state=model.loss.state_dict(),
        optimizer=run.optimizer.state_dict(),
        scheduler=run.scheduler.state_dict(),
        scaler=run.scaler.state_dict(),
    )
    checkpoint.save(out_dir / LAST)
    if improved:
        checkpoint.save(out_dir / BEST)
    _write_metrics(run.history, out_dir)
    _write_skipped(run.skipped, out_dir)
    _plot(run.history, out_dir)


def _write_metrics(history: list[dict[str, float]], out_dir: Path) -> None:
    atomic.write_bytes(out_dir / METRICS, "".join(json.dumps(row) + "\n" for row in history).encode("utf-8"))


def _write_skipped(skipped: dict[str, str], out_dir: Path) -> None:
    if not skipped:
        return
    frame = pd.DataFrame(sorted(skipped.items()), columns=["path", "cause"])
    atomic.write_bytes(out_dir / SKIPPED, frame.to_csv(index=False).encode("utf-8"))


def _plot(history: list[dict[str, float]], out_dir: Path) -> None:
    from painter_match.train.plots import plot_history

    plot_history(history, out_dir / CURVES)
