"""The real thing: the model `painter-match embed` uses when given none, and its fp32 twin.

The packaged default (``painter_match/models/painter-match.onnx``, found as the CLI finds it, with
`painter_match.inference.model.packaged_model_path`) is the int8 variant; its fp32 twin is
``models/painter-match-real.onnx`` in the current folder when ``make real-model`` has made it
(the repository's root, where ``make bench`` runs). Without the twin the bench exports one itself:
a freshly initialised encoder of the same backbone, input size and embedding size
(`bench.networks.prepare`), which runs the same graph with other weights, so its speed is the
twin's. The usual way runs the eager network of that architecture. On an inference-only install
(no torch, no onnx) there is neither: the default model's own rows run, and `prepare` says why the
others do not.

`prepare` (a child: it imports torch when it is there) says which files the rows run; `auc_drift`
says what int8 costs in held-out AUC, read from ``make real-folds``' results when they are here and
the shared data is present, otherwise the figure the model card states, labelled as such.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

TWIN = Path("models/painter-match-real.onnx")  # `make real-model`'s REAL_MODEL, not committed
SHARED_DATA = ("wikiart-224", "real-paintings-128")  # `make real-model`'s REAL_DATA
TRAIN_MODULES = ("torch", "onnx")  # what a fresh export and the eager network need
NO_TRAIN = 'the fp32 twin and the usual way need torch and onnx: pip install "painter-match[train]"'


def missing(modules: tuple[str, ...]) -> list[str]:
    """The ``modules`` this install cannot import (found without importing them)."""
    absent = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a finder that refuses it counts as absent
            found = False
        if not found:
            absent.append(name)
    return absent


def prepare(
    workdir: str,
    calibration_images: list[str],
    model: str | None = None,
    twin: str | None = None,
) -> dict[str, Any]:
    """The files of the real rows; runs in a child.

    Args:
        workdir: the bench's cache folder (a fresh fp32 twin is exported there).
        calibration_images: unused by fp32 exports; passed on to `bench.networks.prepare`.
        model: the default model; None means the packaged one.
        twin: its fp32 twin; None means ``models/painter-match-real.onnx`` in the current folder,
            and a fresh export of the same architecture when that is absent.

    Returns:
        ``skip`` (why there is nothing to run) or: ``name``, ``input_size``, ``crops``,
        ``crop_scale``, ``flops_per_image``, ``variants`` (variant -> ONNX path), ``eager``,
        ``sources`` (variant -> where the file came from) and ``is_default`` (whether the CLI,
        given no model, would run it from this folder). Without torch and onnx, ``variants`` holds
        the default model alone, ``eager`` and ``flops_per_image`` are None, and ``partial`` says
        what was left out and why.
    """
    from painter_match.inference.model import ModelError, open_model, packaged_model_path, resolve_model

    path = Path(model) if model is not None else packaged_model_path()
    if path is None or not path.is_file():
        return {
            "skip": "no packaged default model (painter_match/models/painter-match.onnx): `make real-model`"
        }
    info = open_model(path, provider="cpu").info
    try:
        is_default = resolve_model(None).path.resolve() == path.resolve()
    except ModelError:
        is_default = False
    if missing(TRAIN_MODULES):
        return {
            "name": f"{info.backbone}-{info.input_size}",
            "input_size": info.input_size,
            "crops": info.views.crops,
            "crop_scale": info.views.crop_scale,
            "flops_per_image": None,
            "variants": {info.variant: str(path.resolve())},
            "eager": None,
            "sources": {info.variant: "packaged default" if model is None else "given"},
            "is_default": is_default,
            "partial": NO_TRAIN,
        }
    from bench.networks import prepare as prepare_network

    twin_path = Path(twin) if twin is not None else TWIN.resolve()
    twin_source = ""
    if info.variant == "fp32":
        twin_path, twin_source = path, "the default model itself"
    elif twin_path.is_file():
        twin_info = open_model(twin_path, provider="cpu").info
        same = (twin_info.backbone, twin_info.input_size, twin_info.embedding_dim) == (
            info.backbone,
            info.input_size,
            info.embedding_dim,
        )
        if same and twin_info.variant == "fp32":
            twin_source = "fp32 twin (make real-model)" if twin is None else f"fp32 twin {twin_path.name}"
    prepared = prepare_network(
        workdir,
        info.backbone,
        info.input_size,
        info.embedding_dim,
        calibration_images,
        model=str(twin_path) if twin_source else None,
        int8=False,
    )
    sources = {"fp32": twin_source or "fresh (untrained) export of the same architecture; no twin found"}
    variants = {"fp32": prepared["variants"]["fp32"]}
    if info.variant != "fp32":
        variants[info.variant] = str(path.resolve())
        sources[info.variant] = "packaged default" if model is None else "given"
    return {
        "name": f"{info.backbone}-{info.input_size}",
        "input_size": info.input_size,
        "crops": info.views.crops,
        "crop_scale": info.views.crop_scale,
        "flops_per_image": prepared["flops_per_image"],
        "variants": variants,
        "eager": prepared["eager"],
        "sources": sources,
        "is_default": is_default,
    }


def _card_drift(card: Path) -> float | None:
    """The int8 - fp32 mean held-out AUC the model card states ("-0.0011 mean"), or None."""
    if not card.is_file():
        return None
    found = re.search(r"differs from the fp32 model by ([-+]?\d*\.\d+) mean", card.read_text())
    return float(found.group(1)) if found else None


def auc_drift(repo: Path | None = None, shared: Path | None = None) -> dict[str, Any]:
    """int8's held-out AUC minus fp32's, mean over the folds, and where the figure comes from.

    Measured (``make real-folds``' ``runs/real-fold*/evaluate.json`` and ``evaluate-int8.json``)
    when the shared data is present and the fold runs are here; otherwise the model card's stated
    figure, with ``source`` saying so. ``value`` is None when neither exists.

    Args:
        repo: the folder with ``runs/`` and the card at ``painter_match/models/MODEL_CARD.md``;
            None means the current folder (a clone's root, where ``make bench`` runs) and the
            installed package's card, so that an installed bench needs no repository files.
        shared: the shared data folder; None means ``../shared/data`` beside ``repo``.
    """
    card = _installed_card() if repo is None else repo / "painter_match" / "models" / "MODEL_CARD.md"
    repo = repo if repo is not None else Path.cwd()
    shared = shared if shared is not None else repo.parent / "shared" / "data"
    have_data = all((shared / name).is_dir() for name in SHARED_DATA)
    pairs = []
    for fold in sorted(repo.glob("runs/real-fold*")):
        fp32, int8 = fold / "evaluate.json", fold / "evaluate-int8.json"
        if fp32.is_file() and int8.is_file():
            pairs.append((json.loads(fp32.read_text())["roc_auc"], json.loads(int8.read_text())["roc_auc"]))
    row: dict[str, Any] = {"stage": "real", "name": "int8 AUC drift, held-out artists", "unit": "AUC"}
    if have_data and pairs:
        drifts = [b - a for a, b in pairs]
        return {
            **row,
            "value": sum(drifts) / len(drifts),
            "folds": len(drifts),
            "per_fold": drifts,
            "source": f"measured: runs/real-fold*/evaluate*.json ({len(drifts)} folds)",
        }
    why = "shared data absent" if not have_data else "no runs/real-fold*/evaluate*.json (make real-folds)"
    value = _card_drift(card)
    source = f"model card's measured figure (4 folds), not re-measured here: {why}"
    return {**row, "value": value, "source": source if value is not None else f"not available: {why}"}


def _installed_card() -> Path:
    """The packaged model's card, wherever painter-match is installed (a wheel, or a clone)."""
    from importlib import resources

    return Path(str(resources.files("painter_match") / "models" / "MODEL_CARD.md"))
