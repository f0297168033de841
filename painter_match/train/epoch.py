"""One training epoch: the sampler's batches through the model, one optimizer step each.

The batches come from the `DataLoader` over the training images, or, with the whole backbone
frozen, from the stored backbone features (`_cached_batches`: one stored view drawn at random per
painting). Each step runs under autocast when AMP is on, clips the gradient norm, and steps the
schedule; paintings that fail to decode are noted as skipped and left out of later batches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from painter_match.train.data import ArtistBatchSampler, Batch, PaintingDataset, collate
from painter_match.train.run_data import _Cached
from painter_match.train.run_setup import Run
from painter_match.workers import loader_processes


def run_epoch(run: Run, epoch: int, progress: Callable[[str, int], Any] | None) -> list[float]:
    """Train one epoch; the losses of its steps (a batch of under two paintings takes none)."""
    config, data, sampler, cached, device = run.config, run.data, run.sampler, run.cached, run.device
    model, optimizer, scheduler, scaler = run.model, run.optimizer, run.scheduler, run.scaler
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
        progress(f"epoch {epoch}/{config.epochs}", run.steps_per_epoch)
        if (progress and run.ddp.main)
        else None
    )
    bar = bar_context.__enter__() if bar_context else None
    try:
        for batch in batches:
            if cached is None:
                _note_failures(batch, data.train_set, sampler, run.skipped)
            if len(batch.labels) >= 2:
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device_type=device.type, enabled=run.use_amp):
                    if cached is not None:
                        value = model.forward_features(batch.images, batch.labels.to(device))
                    else:
                        value = run.trained(
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
    return losses


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
