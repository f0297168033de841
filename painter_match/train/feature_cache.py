"""Backbone features computed once, for training only the embedding head of a frozen backbone.

With ``--freeze all`` the backbone's output for a given view of a painting never changes, yet
the plain training loop runs the whole network on every painting every epoch, which on a CPU is
nearly all of the time (an EfficientNet-Lite0 does ~8-25 images a second on two cores). Here
every painting's views are run through the frozen backbone once; the head then trains on the
stored vectors for as many epochs as needed in seconds, and validation reads them too.

Which views are stored: the evaluation view (exactly the pixels validation and inference use),
its mirror image when ``flip`` augmentation is on, and when ``crop`` augmentation is on the
``views.crops`` grid crops at ``views.crop_scale`` that `painter_match.data.views` cuts at inference,
so the head is trained on the very crops a multi-view embedding averages. Random crops and
colour jitter are not cached: each would need a forward per epoch, which is what this avoids.
Each training step draws one stored view per painting at random.

For the EfficientNet-Lites the cache holds the style statistics of every tap (and the pooled
head features are the head's channel means among them), so runs that differ only in taps or
features share one cache file. With ``cache_dir`` the statistics are saved in one file per
backbone, input size and set of views, one row per image file (named by its resolved path, size
and modification time), and any later run reuses the rows of the files it needs. Each row also
keeps the SHA-1 of the file's bytes: a painting whose path or modification time changed (a
copied data folder) is found by content and re-keyed instead of recomputed.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from painter_match import atomic
from painter_match.data.images import center_crop, load_image, load_pixels, resize_shorter_side
from painter_match.data.photographed import TRAINING_RANGES, photograph, seed_for
from painter_match.data.views import Views, view_pixels
from painter_match.errors import ImageLoadError
from painter_match.inference.reference.set import content_digests
from painter_match.train.backbones import Encoder
from painter_match.train.efficientnet_lite import TAPS, LiteFeatures, channel_statistics

# Bump when what is stored changes, so old cache files are not read as new ones.
CACHE_VERSION = 1
# Paintings computed between two saves of the cache files: a killed build loses at most this many
# (about a minute of a CPU's work at 224 px), and the files are rewritten a few times, not often.
SAVE_EVERY = 4096
# Photographed views stored per painting with the ``photo`` augmentation: each a fresh draw of
# `painter_match.data.photographed.photograph` at training's ranges and a strength of 0.25 to 1.
PHOTO_VIEWS = 2


def cached_view_names(augment: Sequence[str], views: Views) -> tuple[str, ...]:
    """The stored views of each painting: ``global``, then ``flip`` and ``crop1..N`` as augment asks."""
    names = ["global"]
    if "flip" in augment:
        names.append("flip")
    if "crop" in augment:
        names += [f"crop{i}" for i in range(1, views.crops + 1)]
    if "photo" in augment:
        names += [f"photo{i}" for i in range(1, PHOTO_VIEWS + 1)]
    return tuple(names)


def supports_cache(encoder: Encoder) -> bool:
    """Whether the encoder's backbone can be served from the cache (the EfficientNet-Lites)."""
    return isinstance(encoder.backbone, LiteFeatures)


def _all_tap_columns(lite: LiteFeatures) -> dict[str, tuple[int, int]]:
    """Column range of each tap's [mean, std] block in the every-tap feature vector."""
    columns, start = {}, 0
    for tap in TAPS:
        width = 2 * lite.net.tap_channels[tap]
        columns[tap] = (start, start + width)
        start += width
    return columns


def feature_columns(lite: LiteFeatures) -> np.ndarray:
    """Indices into the every-tap statistics that make up ``lite``'s own features, in its order."""
    columns = _all_tap_columns(lite)
    if lite.features == "pooled":
        start, _ = columns["head"]
        return np.arange(start, start + lite.net.tap_channels["head"])  # the head's channel means
    return np.concatenate([np.arange(*columns[tap]) for tap in lite.taps])


@torch.no_grad()
def all_tap_statistics(lite: LiteFeatures, images: torch.Tensor) -> torch.Tensor:
    """Channel mean and std of every tap, concatenated in `TAPS` order: [N, 3, H, W] -> [N, D_all]."""
    maps = lite.net.forward_taps(images, TAPS)
    return torch.cat([channel_statistics(m) for m in maps], dim=1)


class _AllTaps(torch.nn.Module):
    """`all_tap_statistics` as a module, so that it can be handed to ONNX Runtime."""

    def __init__(self, lite: LiteFeatures) -> None:
        super().__init__()
        self.lite = lite

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return all_tap_statistics(self.lite, images)


class _OnnxTaps:
    """The frozen backbone's statistics on ONNX Runtime: on a CPU about six times eager PyTorch.

    Measured on this project's 2-core machine, EfficientNet-Lite0's every-tap statistics ran at
    36 (128 px) and 13 (224 px) images/s in eager PyTorch and at 208 and 94 in ONNX Runtime, with
    the same numbers to 3e-5 (values up to 25). The graph is traced once per cache build.
    """

    def __init__(self, lite: LiteFeatures, input_size: int) -> None:
        import onnxruntime as ort

        buffer = io.BytesIO()
        example = torch.zeros(2, 3, input_size, input_size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the SAME padding arithmetic
            torch.onnx.export(
                _AllTaps(lite).eval(),
                (example,),
                buffer,  # type: ignore[arg-type]  # the TorchScript exporter writes to file objects too
                input_names=["images"],
                output_names=["statistics"],
                dynamic_axes={"images": {0: "batch"}, "statistics": {0: "batch"}},
                dynamo=False,
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        (out,) = self.session.run(None, {"images": images.numpy()})
        return torch.from_numpy(out)


def _statistics_runner(
    lite: LiteFeatures, input_size: int, device: torch.device
) -> Callable[[torch.Tensor], torch.Tensor]:
    """ONNX Runtime on a CPU, where it is several times faster; PyTorch on a GPU (or if export fails)."""
    if device.type == "cpu":
        try:
            return _OnnxTaps(lite, input_size)
        except Exception as err:  # noqa: BLE001 - an exporter gap only costs speed, so say it and go on
            warnings.warn(f"feature cache: ONNX Runtime unavailable ({err}); using PyTorch", stacklevel=2)
    return lambda images: all_tap_statistics(lite, images)


def _views_of(path: Path, input_size: int, names: Sequence[str], views: Views) -> np.ndarray:
    """uint8 [len(names), S, S, 3]: the named views of one painting, in the order asked for."""
    out: dict[str, np.ndarray] = {}
    if "global" in names or "flip" in names:
        global_view = load_pixels(path, input_size)  # what validation and `embed` (no crops) see
        out["global"], out["flip"] = global_view, global_view[:, ::-1]
    crops = [name for name in names if name.startswith("crop")]
    if crops:
        grid = view_pixels(path, input_size, Views(crops=views.crops, crop_scale=views.crop_scale))
        out.update({f"crop{i}": grid[i] for i in range(1, views.crops + 1)})
    photos = [name for name in names if name.startswith("photo")]
    if photos:
        image = load_image(path, min_side=input_size)
        for name in photos:
            out[name] = photographed_view(image, f"{path.parent.name}/{path.name}", name, input_size)
    return np.stack([out[name] for name in names])


def photographed_view(image: Image.Image, key: str, view: str, input_size: int) -> np.ndarray:
    """One stored photographic view: the painting photographed with training's ranges, then cut as
    `load_pixels` cuts the global view. The seed comes from the painting's folder and file name
    and the view's name, so a rebuilt cache holds the same pixels."""
    seed = seed_for(key, f"train-{view}")
    strength = 0.25 + 0.75 * np.random.default_rng(seed).random()
    shot = photograph(image, float(strength), seed, TRAINING_RANGES)
    return np.array(center_crop(resize_shorter_side(shot, input_size), input_size), dtype=np.uint8)


def cache_file_name(encoder: Encoder, view: str, views: Views) -> str:
    """The cache file of one view (``global``, ``flip`` or ``cropI``) for one backbone and input size."""
    spec = {
        "version": CACHE_VERSION,
        "backbone": encoder.backbone_name,
        "input_size": encoder.input_size,
        "mean": encoder.mean.flatten().tolist(),
        "std": encoder.std.flatten().tolist(),
        # A crop is one cell of a grid: which cell depends on the grid's size and scale.
        "view": view if not view.startswith("crop") else f"{view}/{views.crops}@{views.crop_scale}",
        # A photographed view is one draw of training's ranges: other ranges, other file.
        **({"photo": asdict(TRAINING_RANGES)} if view.startswith("photo") else {}),
    }
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return f"features-{encoder.backbone_name}-{encoder.input_size}px-{view}-{digest}.npz"


def file_id(path: Path) -> str:
    """Identifies one image file's contents: its resolved path, size and modification time."""
    try:
        stat = path.stat()
    except OSError:
        return f"{path.resolve()}\tmissing"
    return f"{path.resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}"


@dataclass
class FeatureCache:
    """Frozen-backbone features of a list of paintings.

    Attributes:
        features: float32 [n, V, D] in the encoder's own feature layout (its taps, or pooled).
        readable: bool [n]; rows of unreadable paintings are zeros.
        failures: ``(index, cause)`` of each painting that could not be decoded.
        view_names: the V stored views, ``global`` first.
    """

    features: np.ndarray
    readable: np.ndarray
    failures: list[tuple[int, str]]
    view_names: tuple[str, ...]


def build_feature_cache(
    encoder: Encoder,
    root: Path,
    paths: Sequence[str],
    *,
    view_names: Sequence[str] = ("global",),
    views: Views | None = None,
    device: torch.device | None = None,
    batch_size: int = 32,
    cache_dir: Path | None = None,
    advance: Callable[[int], Any] | None = None,
) -> FeatureCache:
    """Run every painting's views through the frozen backbone once.

    Args:
        encoder: an encoder whose backbone is a `LiteFeatures` (see `supports_cache`).
        root: the folder the paths are relative to.
        paths: the paintings.
        view_names: from `cached_view_names` (``global`` first), or any of ``global``,
            ``flip`` and ``crop1..cropN``.
        views: the grid the ``crop*`` views are cells of (``crops`` and ``crop_scale``).
        device: where the backbone runs (default CPU).
        batch_size: images per forward pass.
        cache_dir: where to save and look up the every-tap statistics; None keeps them in memory.
        advance: called with the number of paintings done, for a progress bar.

    Raises:
        ValueError: a backbone the cache does not serve, no views, or a crop beyond ``views.crops``.
    """
    if not supports_cache(encoder):
        raise ValueError(
            f"feature caching needs an EfficientNet-Lite backbone, got {encoder.backbone_name!r}"
        )
    if not view_names:
        raise ValueError("no views to cache")
    views = views or Views()
    device = device or torch.device("cpu")
    lite = encoder.backbone
    assert isinstance(lite, LiteFeatures)
    names = tuple(view_names)
    if any(name.startswith("crop") and int(name[4:]) > views.crops for name in names):
        raise ValueError(f"views {list(names)} ask for more crops than views.crops = {views.crops}")
    ids = [file_id(root / rel) for rel in paths]
    width = sum(2 * lite.net.tap_channels[t] for t in TAPS)
    statistics = np.zeros((len(paths), len(names), width), np.float32)
    have = np.zeros((len(paths), len(names)), bool)
    stores: dict[str, _Store] = {}
    for v, name in enumerate(names):
        file = Path(cache_dir) / cache_file_name(encoder, name, views) if cache_dir is not None else None
        if file is None or not file.exists():
            continue
        stores[name] = _Store.load(file)
        row_of = {file_id: row for row, file_id in enumerate(stores[name].ids)}
        hits = [i for i, file_id in enumerate(ids) if file_id in row_of]
        statistics[hits, v] = stores[name].statistics[[row_of[ids[i]] for i in hits]]
        have[hits, v] = True
    _find_by_content(root, paths, ids, names, stores, statistics, have, encoder, views, cache_dir)
    # Views stored for every painting are read; the rest are computed for the paintings lacking them.
    todo_views = [v for v in range(len(names)) if not have[:, v].all()]
    todo = [i for i in range(len(paths)) if not have[i, todo_views].all()] if todo_views else []
    if advance and len(todo) < len(paths):
        advance(len(paths) - len(todo))
    todo_names = tuple(names[v] for v in todo_views)
    readable: np.ndarray = np.asarray(have.any(axis=1))  # only readable paintings are ever stored
    failures: list[tuple[int, str]] = []
    run = _statistics_runner(lite, encoder.input_size, device) if todo else None
    # Saved block by block, so that an interrupted or killed build keeps what it has computed.
    for start in range(0, len(todo), SAVE_EVERY):
        block = todo[start : start + SAVE_EVERY]
        assert run is not None
        fresh, fresh_readable, causes = _compute(
            encoder, root, [paths[i] for i in block], todo_names, views, device, batch_size, advance, run
        )
        statistics[np.ix_(block, todo_views)] = fresh
        readable[block] = fresh_readable
        failures += [(block[i], cause) for i, cause in sorted(causes.items())]
        if cache_dir is None or not fresh_readable.any():
            continue
        # Append the newly read paintings; unreadable ones are not stored, so they are retried.
        new_rows = [row for row, ok in enumerate(fresh_readable) if ok]
        new_digests = content_digests(root, [paths[block[row]] for row in new_rows])
        for column, v in enumerate(todo_views):
            old = stores.get(names[v], _Store([], np.zeros((0, width), np.float32), []))
            stores[names[v]] = _Store(
                old.ids + [ids[block[row]] for row in new_rows],
                np.concatenate([old.statistics, fresh[new_rows, column]]),
                old.digests + [digest or "" for digest in new_digests],
            )
            stores[names[v]].save(Path(cache_dir) / cache_file_name(encoder, names[v], views))
    features = np.ascontiguousarray(statistics[:, :, feature_columns(lite)])
    return FeatureCache(features, readable, failures, names)


@dataclass
class _Store:
    """One cache file: per stored painting its file id, every-tap statistics and content digest
    (``""`` where unknown: rows saved before digests were kept)."""

    ids: list[str]
    statistics: np.ndarray
    digests: list[str]

    @classmethod
    def load(cls, file: Path) -> _Store:
        with np.load(file, allow_pickle=False) as data:
            ids = [str(i) for i in data["ids"]]
            digests = [str(d) for d in data["digests"]] if "digests" in data.files else [""] * len(ids)
            return cls(ids, data["statistics"], digests)

    def save(self, file: Path) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        # A cache: two runs sharing it write the same rows, so the last rename may simply win.
        with atomic.atomic_file(file, lock=False) as handle:
            np.savez(
                handle,
                ids=np.array(self.ids, dtype=str),
                statistics=self.statistics,
                digests=np.array(self.digests, dtype=str),
            )


def _find_by_content(
    root: Path,
    paths: Sequence[str],
    ids: list[str],
    names: tuple[str, ...],
    stores: dict[str, _Store],
    statistics: np.ndarray,
    have: np.ndarray,
    encoder: Encoder,
    views: Views,
    cache_dir: Path | None,
) -> None:
    """Rows the file ids missed, found by the bytes' digest instead, and re-keyed to the new ids.

    A copied or moved data folder (new paths or modification times: `cp -r`, a new disk, a fresh
    checkout of shared data) then costs one read of each file, not a pass of the backbone; the
    next run finds the rows by id again.
    """
    missing = [i for i in range(len(paths)) if not have[i].all()]
    if not missing or not any(any(store.digests) for store in stores.values()):
        return
    digest_of = dict(zip(missing, content_digests(root, [paths[i] for i in missing])))
    for v, name in enumerate(names):
        store = stores.get(name)
        if store is None:
            continue
        row_of = {digest: row for row, digest in enumerate(store.digests) if digest}
        found = [
            (i, row_of[digest])
            for i in missing
            if not have[i, v] and (digest := digest_of[i]) is not None and digest in row_of
        ]
        for i, row in found:
            statistics[i, v] = store.statistics[row]
            have[i, v] = True
            store.ids[row] = ids[i]
        if found and cache_dir is not None:
            store.save(Path(cache_dir) / cache_file_name(encoder, name, views))


def _compute(
    encoder: Encoder,
    root: Path,
    paths: Sequence[str],
    names: tuple[str, ...],
    views: Views,
    device: torch.device,
    batch_size: int,
    advance: Callable[[int], Any] | None,
    run: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    lite = encoder.backbone
    assert isinstance(lite, LiteFeatures)
    width = sum(2 * lite.net.tap_channels[t] for t in TAPS)
    statistics = np.zeros((len(paths), len(names), width), np.float32)
    readable = np.zeros(len(paths), bool)
    causes: dict[int, str] = {}
    was_training = encoder.training
    encoder.eval()
    mean, std = encoder.mean.to(device), encoder.std.to(device)
    try:
        for start in range(0, len(paths), batch_size):
            rows, stacks = [], []
            for index in range(start, min(start + batch_size, len(paths))):
                try:
                    stacks.append(_views_of(root / paths[index], encoder.input_size, names, views))
                    rows.append(index)
                except ImageLoadError as err:
                    causes[index] = err.cause
            if stacks:
                pixels = torch.from_numpy(np.concatenate(stacks)).to(device)
                images = pixels.permute(0, 3, 1, 2).float().div_(255.0)
                # The encoder's own normalisation, as in `Encoder.features`.
                with torch.no_grad():
                    out = run((images - mean) / std).float().cpu().numpy()
                statistics[rows] = out.reshape(len(rows), len(names), width)
                readable[rows] = True
            if advance:
                advance(min(batch_size, len(paths) - start))
    finally:
        encoder.train(was_training)
    return statistics, readable, causes
