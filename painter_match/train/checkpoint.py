"""Saving and loading training checkpoints: atomic writes, `weights_only` loads, clear errors.

A checkpoint holds only tensors and plain JSON-like values, so it loads with
``torch.load(weights_only=True)`` (no pickled code runs). It carries everything needed to resume
a run exactly (model, loss, optimiser and schedule state, epoch, history) and everything export
needs (the encoder's architecture, its preprocessing, the calibration, the data fingerprint).
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from painter_match.errors import PainterMatchError

FORMAT = "painter-match-checkpoint"
VERSION = 1


class CheckpointError(PainterMatchError):
    """A checkpoint that is missing, corrupt, or does not fit what it is loaded into."""


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write a checkpoint atomically: a crash mid-write leaves the previous file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **state}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a painter-match checkpoint safely.

    Raises:
        CheckpointError: naming the file when it is missing, not a torch file, truncated, or
            not a painter-match checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; train one with `painter-match train`")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
        # torch's weights-only refusal is a page of advice; its one useful line names the class.
        cause = next((line for line in lines if line.startswith("WeightsUnpickler error")), lines[0])
        raise CheckpointError(f"{path}: not a readable checkpoint ({cause[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a painter-match checkpoint (no '{FORMAT}' marker)")
    if int(state.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {state.get('version')} is newer than this painter-match reads "
            f"({VERSION}); upgrade painter-match"
        )
    return state


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
