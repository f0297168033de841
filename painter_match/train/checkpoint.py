"""The training checkpoint: one typed record, saved atomically and loaded with `weights_only`.

A `Checkpoint` holds only tensors and plain JSON-like values on disk, so it loads with
``torch.load(weights_only=True)`` (no pickled code runs). It carries everything needed to resume
a run exactly (model, loss, optimiser and schedule state, epoch, history), everything export
needs (the encoder's architecture and preprocessing, the calibration, the data fingerprint, the
training artists) and the validation pairs themselves, so that export measures a variant on the
very pairs the run validated on without re-running the split. Files are written through
`painter_match.atomic` (a temporary file beside the target, renamed into place, with the
permissions ``open()`` would give).
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from painter_match import atomic
from painter_match.data.catalogue import DataDirs, catalogue_root
from painter_match.data.pairs import Pairs
from painter_match.errors import PainterMatchError
from painter_match.inference.calibration import Calibration
from painter_match.inference.collection import MIN_COLLECTION, UNITS, CollectionPolicy
from painter_match.train.config import TrainConfig

if TYPE_CHECKING:
    from painter_match.train.backbones import Encoder

FORMAT = "painter-match-checkpoint"
# 2: the typed record, with the validation pairs; 1 (read too): the same keys without them.
VERSION = 2


class CheckpointError(PainterMatchError):
    """A checkpoint that is missing, corrupt, or does not fit what it is loaded into."""


@dataclass
class Checkpoint:
    """One saved state of a training run.

    Attributes:
        config: the run's `TrainConfig`, as `TrainConfig.to_dict` gives it.
        encoder_config: the encoder's architecture and preprocessing (`encoder_config`).
        encoder: the encoder's weights (a state dict).
        calibration: similarity -> probability, fitted on this epoch's validation pairs.
        val_auc: this epoch's validation pair ROC AUC.
        train_artists: the artists trained on (label order).
        val_artists: the held-out artists validated on.
        data_fingerprint: a hash of the paintings trained on.
        validation: the validation pairs (paths relative to the training catalogue's root, which
            is not stored: the data folders may move); None for a checkpoint saved before they
            were stored.
        epoch, best_auc, best_epoch, bad_epochs, history, skipped: where the run stands.
        loss_state, optimizer, scheduler, scaler: the state a resumed run continues from.
    """

    config: dict[str, Any]
    encoder_config: dict[str, Any]
    encoder: dict[str, torch.Tensor]
    calibration: Calibration
    val_auc: float
    train_artists: list[str]
    val_artists: list[str]
    data_fingerprint: str
    validation: Pairs | None = None
    epoch: int = 0
    best_auc: float = -1.0
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    loss_state: dict[str, Any] = field(default_factory=dict)
    optimizer: dict[str, Any] = field(default_factory=dict)
    scheduler: dict[str, Any] = field(default_factory=dict)
    scaler: dict[str, Any] = field(default_factory=dict)
    # Validation pairs' calibration on centred embeddings (the model's collection adaptation);
    # None in checkpoints saved before it was fitted. ``collection_units`` says what it reads
    # (`painter_match.inference.collection.UNITS`): "cosine" in checkpoints saved before the
    # collection's own units.
    collection_calibration: Calibration | None = None
    collection_units: str = "cosine"
    # How much of a collection's mean each run of dimensions has subtracted ([[count, weight], ...];
    # `painter_match.inference.collection.CentreWeights`); empty, all of it, before it existed.
    # Stored, not derived from the encoder: the calibration was fitted centred by these shares.
    collection_centre_weights: list[list[float]] = field(default_factory=list)

    def collection_policy(self) -> CollectionPolicy | None:
        """The collection adaptation this checkpoint's model states (what export writes and
        evaluation applies), or None when it carries no centred calibration."""
        if self.collection_calibration is None:
            return None
        weights = tuple((int(count), float(weight)) for count, weight in self.collection_centre_weights)
        return CollectionPolicy(
            "centre", MIN_COLLECTION, self.collection_calibration, self.collection_units, weights
        )

    def train_config(self) -> TrainConfig:
        """The run's options."""
        return TrainConfig.from_dict(self.config)

    def data_folders(self) -> list[Path]:
        """The folders the run trained on, as its config records them."""
        recorded = self.config.get("data_dirs") or (
            [self.config["data_dir"]] if self.config.get("data_dir") else []
        )
        return [Path(folder) for folder in recorded]

    def validation_pairs(self, data_dir: DataDirs | None = None) -> Pairs | None:
        """The stored validation pairs, rooted at ``data_dir`` (default: the recorded folders)."""
        if self.validation is None:
            return None
        folders = data_dir if data_dir is not None else self.data_folders()
        root = catalogue_root(folders)
        v = self.validation
        return Pairs(root, v.paths, v.first, v.second, v.same, v.artists, v.source)

    def restore_encoder(self, source: str | Path = "checkpoint") -> Encoder:
        """The encoder rebuilt from ``encoder_config`` with the saved weights, in eval mode.

        Raises:
            CheckpointError: the description is unusable or the weights do not fit it.
        """
        from painter_match.train.backbones import encoder_from_config

        try:
            encoder = encoder_from_config(self.encoder_config)
        except (KeyError, ValueError) as err:
            raise CheckpointError(
                f"{source}: the checkpoint's encoder description is unusable ({err})"
            ) from None
        load_state_strict(encoder, self.encoder, "encoder", Path(source))
        return encoder.eval()

    def to_state(self) -> dict[str, Any]:
        """The plain dict written to disk."""
        state: dict[str, Any] = {"format": FORMAT, "version": VERSION}
        for item in fields(self):
            state[item.name] = getattr(self, item.name)
        state["calibration"] = self.calibration.to_dict()
        if self.collection_calibration is not None:
            state["collection_calibration"] = self.collection_calibration.to_dict()
        if self.validation is not None:
            v = self.validation
            state["validation"] = {
                "paths": list(v.paths),
                "first": [int(i) for i in v.first],
                "second": [int(j) for j in v.second],
                "same": [bool(s) for s in v.same],
            }
        return state

    def save(self, path: str | Path) -> None:
        """Write the checkpoint atomically: a crash mid-write leaves the previous file intact.

        Through the one output writer (`painter_match.atomic.atomic_file`: links followed, special
        files refused, the output's lock held while writing). Replacing the previous epoch's file
        is the point, so there is no overwrite check; the folder (the run's, which the trainer
        makes) must exist.
        """
        path = Path(path)
        with atomic.atomic_file(path) as handle:
            torch.save(self.to_state(), handle)

    @classmethod
    def load(cls, path: str | Path) -> Checkpoint:
        """Read a painter-match checkpoint safely.

        Raises:
            CheckpointError: naming the file when it is missing, not a torch file, truncated, not
                a painter-match checkpoint, newer than this version reads, or lacking a field.
        """
        path = Path(path)
        state = _read_state(path)
        try:
            validation = state.get("validation")
            pairs = None
            if validation is not None:
                pairs = Pairs(
                    root=Path("."),
                    paths=[str(p) for p in validation["paths"]],
                    first=np.asarray(validation["first"], np.int64),
                    second=np.asarray(validation["second"], np.int64),
                    same=np.asarray(validation["same"], bool),
                    source="the run's validation pairs",
                )
            known = {item.name for item in fields(cls)}
            values = {k: v for k, v in state.items() if k in known}
            _check_types(path, values)
            if not isinstance(state["calibration"], dict):
                raise TypeError(f"calibration is a {type(state['calibration']).__name__}, not a mapping")
            values["calibration"] = Calibration.from_dict(state["calibration"])
            if state.get("collection_calibration") is not None:
                values["collection_calibration"] = Calibration.from_dict(state["collection_calibration"])
            if values.get("collection_units", "cosine") not in UNITS:
                raise ValueError(f"collection_units is {values['collection_units']!r}, not one of {UNITS}")
            values["validation"] = pairs
            return cls(**values)
        except KeyError as err:
            raise CheckpointError(f"{path}: the checkpoint lacks {err}") from None
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{path}: the checkpoint's {err}") from None


def _read_state(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; train one with `painter-match train`")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({_first_line(err)})") from None
    except Exception as err:  # noqa: BLE001
        # Any other bytes reach the unpickler, which raises whatever its opcodes lead to: `echo hi
        # > x.pt` gave KeyError: 105 (the opcode 'i'). Whatever it is, the file is no checkpoint.
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(err).__name__}: {_first_line(err)}); give a "
            "painter-match checkpoint (best.pt or last.pt of a `painter-match train` run)"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a painter-match checkpoint (no '{FORMAT}' marker)")
    version = state.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{path}: the checkpoint's format version is {version!r}, not a number")
    if version > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {state.get('version')} is newer than this painter-match reads "
            f"({VERSION}); upgrade painter-match"
        )
    return state


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    # torch's weights-only refusal is a page of advice; its one useful line names the class.
    return next((line for line in lines if line.startswith("WeightsUnpickler error")), lines[0])[:200]


# The type each stored field must have (`Checkpoint.load` refuses others in one line).
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "config": dict,
    "encoder_config": dict,
    "encoder": dict,
    "val_auc": (int, float),
    "train_artists": list,
    "val_artists": list,
    "data_fingerprint": str,
    "epoch": int,
    "best_auc": (int, float),
    "best_epoch": int,
    "bad_epochs": int,
    "history": list,
    "skipped": dict,
    "loss_state": dict,
    "optimizer": dict,
    "scheduler": dict,
    "scaler": dict,
    "collection_units": str,
    "collection_centre_weights": list,
}


def _check_types(path: Path, values: dict[str, Any]) -> None:
    """Refuse a checkpoint whose fields have other types than a saved one's (hand-made or damaged)."""
    for name, kind in _FIELD_TYPES.items():
        if name in values and (not isinstance(values[name], kind) or isinstance(values[name], bool)):
            raise CheckpointError(
                f"{path}: the checkpoint's {name} is a {type(values[name]).__name__}, not what a saved "
                "painter-match checkpoint holds; train again or give another checkpoint"
            )
    for key, tensor in values.get("encoder", {}).items():
        if not isinstance(key, str) or not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"{path}: the checkpoint's encoder weights are not named tensors ({key!r})")
    for name in ("train_artists", "val_artists"):
        if not all(isinstance(artist, str) for artist in values.get(name, [])):
            raise CheckpointError(f"{path}: the checkpoint's {name} are not all names")


def load_state_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str, path: Path) -> None:
    """``load_state_dict(strict=True)`` with a one-line error instead of a page of key names."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: the {what} weights do not fit this architecture ({first[:160]}); was it trained "
            "with another --backbone or --embedding-dim?"
        ) from None
