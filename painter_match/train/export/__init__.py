"""Export: a trainer checkpoint becomes one self-describing, verified ONNX model file (a library).

`export_model` restores the encoder (`painter_match.train.checkpoint.Checkpoint`), exports it
behind a wrapper that takes decoded uint8 NHWC pixels (`painter_match.train.export.graph`), writes the
model contract into its metadata (`painter_match.train.export.metadata`), and proves the result before
it is moved into place: ``onnx.checker``, the contract re-read by
`painter_match.inference.model.open_model`, and ONNX Runtime vs PyTorch on real paintings at
batch sizes 1 and 7 (`painter_match.train.export.parity`). The int8 and fp16 variants are made from the
checked fp32 model (`painter_match.train.export.variants`), and what each costs in validation AUC is
measured on the validation pairs stored in the checkpoint (`painter_match.train.export.auc`) and
stored in the model. All work happens in a temporary folder beside the target
(`painter_match.atomic.scratch_folder`, removed by the next export of the same target if this
one is killed), so a failed export never leaves a file, whole or broken, at the target path.
Torch and onnx are needed (the ``train`` extra); ``painter-match export`` and the repository's
``python -m export`` are the command over it (`painter_match.commands.export`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from painter_match import atomic
from painter_match.data.pairs import Pairs
from painter_match.errors import DataError, PainterMatchError
from painter_match.inference.model import VARIANTS, LoadedModel, open_model
from painter_match.train.checkpoint import Checkpoint
from painter_match.train.export import metadata
from painter_match.train.export.auc import pair_auc
from painter_match.train.export.data import folder_images, load_images, training_images, validation_pairs
from painter_match.train.export.graph import OPSET, check, export_onnx
from painter_match.train.export.parity import FP32_TOLERANCE, PARITY_BATCHES, compare
from painter_match.train.export.variants import convert_fp16, quantize_int8

# A variant that loses more validation AUC than this against fp32 is reported as such.
AUC_DROP_LIMIT = 0.005
CALIBRATION_IMAGES = 200


class ExportError(PainterMatchError):
    """An export that failed a check; nothing was written to the target path."""


@dataclass
class ExportReport:
    """What an export did and measured (``python -m export --json`` prints it)."""

    output: str
    checkpoint: str
    variant: str
    opset: int
    backbone: str
    input_size: int
    embedding_dim: int
    size_bytes: int
    parity: dict[str, Any]
    parity_tolerance: float
    checkpoint_val_auc: float | None
    fp32_auc: float | None = None
    variant_auc: float | None = None
    auc_change: float | None = None
    auc_drop_limit: float = AUC_DROP_LIMIT
    auc_drop_exceeded: bool = False
    variant_parity: dict[str, Any] | None = None
    calibration_images: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _say(log: Callable[[str], None] | None, line: str) -> None:
    if log is not None:
        log(line)


def _data_dir(state: Checkpoint, override: str | Path | None) -> list[Path] | None:
    """The folders the model was trained on: ``override``, else every folder the checkpoint records."""
    if override is not None:
        return [Path(override)]
    return state.data_folders() or None


def _present(folders: list[Path] | None) -> bool:
    return folders is not None and all(folder.is_dir() for folder in folders)


def _named(folders: list[Path] | None) -> str:
    return ", ".join(str(folder) for folder in folders) if folders else "None"


def _parity_pixels(
    state: Checkpoint, data_dir: list[Path] | None, parity_data: Path | None, size: int, quiet: bool
) -> np.ndarray:
    needed = max(PARITY_BATCHES)
    if parity_data is not None:
        files = folder_images(parity_data, 3 * needed)
    elif _present(data_dir):
        assert data_dir is not None
        pairs = validation_pairs(state, data_dir)
        files = [pairs.root / p for p in pairs.paths[: 3 * needed]]
    else:
        raise ExportError(
            f"the checkpoint's data folder {_named(data_dir)} is gone, and parity needs real paintings; "
            "pass --parity-data DIR (any folder of images) or --data DIR"
        )
    pixels, _ = load_images(files, size, description="parity images", quiet=quiet)
    if len(pixels) < needed:
        where = parity_data if parity_data is not None else _named(data_dir)
        raise ExportError(f"{where}: parity needs {needed} readable images, found {len(pixels)}")
    return pixels[:needed]


def _write(model: onnx.ModelProto, info: Any, path: Path) -> LoadedModel:
    """Attach the contract, save, and open the file the way the CLI will (proving it accepts it)."""
    metadata.attach(model, info)
    onnx.save(model, str(path))
    return open_model(path, provider="cpu")


def export_model(
    checkpoint: str | Path,
    out: str | Path,
    *,
    variant: str = "fp32",
    data_dir: str | Path | None = None,
    calibration_data: str | Path | None = None,
    parity_data: str | Path | None = None,
    calibration_images: int = CALIBRATION_IMAGES,
    opset: int = OPSET,
    tolerance: float = FP32_TOLERANCE,
    quiet: bool = True,
    log: Callable[[str], None] | None = None,
) -> ExportReport:
    """Export a checkpoint to a verified, self-describing ONNX model at ``out``.

    Args:
        checkpoint: a trainer checkpoint (``best.pt``).
        out: the ``.onnx`` file to write; replaced only once every check has passed (never the
            checkpoint itself).
        variant: ``fp32``, ``int8`` (CPU) or ``fp16`` (GPU).
        data_dir: the folder the model was trained on; None means the one the checkpoint records.
            Its validation artists give the parity images, the pairs a variant's AUC is measured
            on, and (from the training artists) the default int8 calibration images.
        calibration_data: a folder of images to calibrate int8 on instead.
        parity_data: a folder of images to check parity on instead.
        calibration_images: how many images int8 calibration reads.
        opset: the ONNX opset.
        tolerance: the largest absolute embedding difference fp32 ONNX Runtime may show against
            PyTorch; the export fails above it.
        quiet: no progress bars.
        log: receives one line per step and every warning.

    Returns:
        What was written and measured.

    Raises:
        CheckpointError: a missing or unreadable checkpoint, or one without what the contract needs.
        DataError: data folders that are missing or unusable.
        ExportError: a failed check (checker, parity, contract); nothing is written at ``out``.
        OutputError: ``out`` is the checkpoint or a folder, or the disk refuses it.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    started = time.perf_counter()
    checkpoint, out = Path(checkpoint), Path(out)
    # The one output rule (docs/reliability.md): the model's folder must exist (the `export`
    # command makes `models/` itself, and says so).
    atomic.check_output(out, force=True, inputs=[("checkpoint", checkpoint)], what="export")
    state = Checkpoint.load(checkpoint)
    encoder = state.restore_encoder(checkpoint)
    info = metadata.model_info(state, source=str(checkpoint))
    size = info.input_size
    data = _data_dir(state, data_dir)
    pixels = _parity_pixels(state, data, Path(parity_data) if parity_data else None, size, quiet)

    with atomic.scratch_folder(out) as scratch:
        _say(log, f"exporting {checkpoint} ({info.backbone}, {size} px, opset {opset})")
        fp32_path = scratch / "fp32.onnx"
        fp32 = _write(export_onnx(encoder, fp32_path, opset=opset), info, fp32_path)
        parity = compare(encoder, fp32.run, pixels)
        _say(log, f"parity fp32: max abs error {parity.max_abs_error:.2e} (tolerance {tolerance:g})")
        if not parity.max_abs_error <= tolerance:  # `not <=` also catches NaN
            raise ExportError(
                f"ONNX Runtime and PyTorch embeddings differ by up to {parity.max_abs_error:.3g} "
                f"(tolerance {tolerance:g}, batch sizes {PARITY_BATCHES}); nothing was written to {out}"
            )
        report = ExportReport(
            output=str(out),
            checkpoint=str(checkpoint),
            variant=variant,
            opset=opset,
            backbone=info.backbone,
            input_size=size,
            embedding_dim=info.embedding_dim,
            size_bytes=0,
            parity=parity.to_dict(),
            parity_tolerance=tolerance,
            checkpoint_val_auc=info.val_auc,
        )
        final = fp32_path
        if variant != "fp32":
            final = _make_variant(
                variant, state, fp32, scratch, report, data, calibration_data, calibration_images, quiet, log
            )
            report.variant_parity = compare(encoder, open_model(final, provider="cpu").run, pixels).to_dict()
        report.size_bytes = final.stat().st_size
        atomic.publish(final, out)
    report.seconds = time.perf_counter() - started
    _say(log, f"wrote {out} ({report.size_bytes / 1e6:.1f} MB, {variant})")
    return report


def _make_variant(
    variant: str,
    state: Checkpoint,
    fp32: LoadedModel,
    scratch: Path,
    report: ExportReport,
    data_dir: list[Path] | None,
    calibration_data: str | Path | None,
    calibration_images: int,
    quiet: bool,
    log: Callable[[str], None] | None,
) -> Path:
    """Build the variant beside the fp32 model, measure its AUC against fp32, store it; its path."""
    size = fp32.info.input_size
    if data_dir is None or not _present(data_dir):
        raise DataError(
            f"the checkpoint's data folder {_named(data_dir)} is gone; measuring the {variant} variant's AUC needs "
            "the validation artists: pass --data DIR (the folder the model was trained on)"
        )
    pairs: Pairs = validation_pairs(state, data_dir)
    path = scratch / f"{variant}.onnx"
    if variant == "int8":
        if calibration_data is not None:
            files = folder_images(Path(calibration_data), calibration_images)
        else:
            files = training_images(state, data_dir, calibration_images)
        calibration, _ = load_images(files, size, description="int8 calibration images", quiet=quiet)
        report.calibration_images = len(calibration)
        _say(log, f"quantizing to int8, calibrated on {len(calibration)} images")
        model = quantize_int8(scratch / "fp32.onnx", path, calibration)
    else:
        _say(log, "converting to fp16")
        model = convert_fp16(scratch / "fp32.onnx", path)
    check(model)
    provisional = _write(model, fp32.info, path)  # fp32's contract until the variant's is known

    val_pixels, kept = load_images(
        [pairs.root / p for p in pairs.paths], size, description="validation paintings", quiet=quiet
    )
    report.fp32_auc = pair_auc(fp32.run, val_pixels, kept, pairs)
    report.variant_auc = pair_auc(provisional.run, val_pixels, kept, pairs)
    report.auc_change = report.variant_auc - report.fp32_auc
    report.auc_drop_exceeded = -report.auc_change > AUC_DROP_LIMIT
    _say(
        log,
        f"validation AUC: fp32 {report.fp32_auc:.4f}, {variant} {report.variant_auc:.4f} "
        f"(change {report.auc_change:+.4f})",
    )
    if report.auc_drop_exceeded:
        warning = (
            f"the {variant} variant loses {-report.auc_change:.4f} validation AUC against fp32 "
            f"(more than {AUC_DROP_LIMIT}); prefer the fp32 model where accuracy matters"
        )
        report.warnings.append(warning)
        _say(log, f"warning: {warning}")
    info = metadata.model_info(
        state, source=report.checkpoint, variant=variant, variant_auc=report.variant_auc
    )
    _write(onnx.load(str(path)), info, path)
    return path
