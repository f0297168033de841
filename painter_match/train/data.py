"""Training data: paintings as tensors, batches of P artists x K paintings, bad images skipped.

Images are decoded by the project's one loader (`painter_match.data.images`), so training sees the
same orientation, colour conversion and crop as inference. A file that cannot be decoded does
not stop a run: the dataset returns a failure marker, the collate function drops it and passes
the cause on, and the trainer excludes that painting from later batches and reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from painter_match.data.images import load_image
from painter_match.errors import ImageLoadError

Transform = Callable[[Image.Image], torch.Tensor]


@dataclass(frozen=True)
class Sample:
    """One painting as the dataset returns it; ``image`` is None when it could not be decoded."""

    image: torch.Tensor | None
    label: int
    index: int
    error: str


@dataclass(frozen=True)
class Batch:
    """Decoded images of one batch, and the paintings that failed to decode."""

    images: torch.Tensor  # [n, 3, H, W] float in [0, 1]
    labels: torch.Tensor  # [n] int64
    indices: torch.Tensor  # [n] int64, positions in the dataset
    failures: list[tuple[int, str]]


class PaintingDataset(Dataset[Sample]):
    """Paintings under one root, decoded with their shorter side at least ``load_side``."""

    def __init__(
        self, root: Path, paths: Sequence[str], labels: Sequence[int], transform: Transform, *, load_side: int
    ) -> None:
        if len(paths) != len(labels):
            raise ValueError(f"paths and labels differ in length: {len(paths)} vs {len(labels)}")
        self.root = root
        self.paths = list(paths)
        self.labels = [int(label) for label in labels]
        self.transform = transform
        self.load_side = load_side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Sample:
        try:
            image = load_image(self.root / self.paths[index], min_side=self.load_side)
        except ImageLoadError as err:
            return Sample(None, self.labels[index], index, err.cause)
        return Sample(self.transform(image), self.labels[index], index, "")


def collate(samples: list[Sample]) -> Batch:
    """Stack the decoded samples; failed ones are listed instead of stacked."""
    good = [s for s in samples if s.image is not None]
    failures = [(s.index, s.error) for s in samples if s.image is None]
    if good:
        images = torch.stack([s.image for s in good])  # type: ignore[misc]
    else:
        images = torch.empty(0)
    return Batch(
        images=images,
        labels=torch.tensor([s.label for s in good], dtype=torch.int64),
        indices=torch.tensor([s.index for s in good], dtype=torch.int64),
        failures=failures,
    )


class ArtistBatchSampler(Sampler[list[int]]):
    """Batches of ``artists_per_batch`` artists x ``paintings_per_artist`` paintings.

    Every batch holds several paintings of each artist in it, so triplet mining and contrastive
    losses always have positives. Artists are dealt from a reshuffled deck, so each is seen about
    equally often whatever its number of paintings. The batches of an epoch depend only on
    ``(seed, epoch)``: a resumed run sees exactly the batches it would have seen, and in a
    distributed run every process computes the same list and takes its own share.
    """

    def __init__(
        self,
        labels: Sequence[int],
        *,
        artists_per_batch: int,
        paintings_per_artist: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if artists_per_batch < 2 or paintings_per_artist < 2:
            raise ValueError(
                "a batch needs at least 2 artists x 2 paintings, got "
                f"{artists_per_batch} x {paintings_per_artist}"
            )
        self.labels = np.asarray(labels, dtype=np.int64)
        self.artists_per_batch = artists_per_batch
        self.paintings_per_artist = paintings_per_artist
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.excluded: set[int] = set()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def exclude(self, indices: Sequence[int]) -> None:
        """Leave these paintings (undecodable ones) out of every later batch."""
        self.excluded.update(int(i) for i in indices)

    def _members(self) -> list[np.ndarray]:
        """Each artist's usable paintings (artists with fewer than two left out), by label order."""
        keep = np.ones(len(self.labels), dtype=bool)
        if self.excluded:
            keep[list(self.excluded)] = False
        kept = np.flatnonzero(keep)
        # One stable sort instead of a scan per artist: the real data has ~1,600 artists.
        by_artist = kept[np.argsort(self.labels[kept], kind="stable")]
        starts = np.flatnonzero(np.r_[True, np.diff(self.labels[by_artist]) != 0])
        return [group for group in np.split(by_artist, starts[1:]) if len(group) >= 2]

    def _batches_per_process(self, members: list[np.ndarray]) -> int:
        usable = sum(len(m) for m in members)
        per_batch = self.artists_per_batch * self.paintings_per_artist
        return max(1, usable // per_batch) // self.world_size or 1

    def __len__(self) -> int:
        return self._batches_per_process(self._members())

    def __iter__(self) -> Iterator[list[int]]:
        members = self._members()
        if len(members) < 2:
            raise ValueError("training needs at least 2 artists with 2 or more readable paintings each")
        rng = np.random.default_rng([self.seed, self.epoch])
        per_process = self._batches_per_process(members)
        p = min(self.artists_per_batch, len(members))
        deck: list[int] = []
        batches: list[list[int]] = []
        for _ in range(per_process * self.world_size):
            chosen: list[int] = []
            while len(chosen) < p:
                if not deck:
                    deck = list(rng.permutation(len(members)))
                artist = deck.pop()
                if artist not in chosen:
                    chosen.append(artist)
            batch: list[int] = []
            for artist in chosen:
                pool = members[artist]
                replace = len(pool) < self.paintings_per_artist
                batch.extend(int(i) for i in rng.choice(pool, self.paintings_per_artist, replace=replace))
            batches.append(batch)
        yield from batches[self.rank :: self.world_size]


def label_codes(artists: Sequence[str]) -> tuple[list[int], list[str]]:
    """Artist names -> dense integer labels, with the sorted names they stand for."""
    names = sorted(set(artists))
    code = {name: i for i, name in enumerate(names)}
    return [code[a] for a in artists], names
