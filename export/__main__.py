"""``python -m export CHECKPOINT -o OUT.onnx [--int8 | --fp16]``: the command line over `export_model`.

Known failures (a bad checkpoint, missing data, a failed check, an existing output without
``--force``, an output that is the checkpoint) print one line and exit 1; usage errors exit 2,
Ctrl-C and SIGTERM 130; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from painter_match.errors import PainterMatchError
from painter_match.inference.model import DEFAULT_MODEL_PATH


def get_parser() -> argparse.ArgumentParser:
    """The argument parser (no side effects, nothing heavy imported)."""
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Turn a painter-match training checkpoint into a verified, self-describing ONNX model.",
    )
    parser.add_argument("checkpoint", help="a trainer checkpoint, e.g. runs/synth/best.pt")
    parser.add_argument(
        "-o",
        "--output",
        default=str(DEFAULT_MODEL_PATH),
        help="the .onnx file to write (default: %(default)s)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace the output if it exists (never the checkpoint)"
    )
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--int8", action="store_true", help="static int8 quantization for CPUs, calibrated on real paintings"
    )
    kind.add_argument("--fp16", action="store_true", help="float16 weights and activations, for GPUs")
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="the folder the model was trained on (default: the one the checkpoint records); its "
        "validation artists give the parity images and the pairs a variant's AUC is measured on",
    )
    parser.add_argument(
        "--calibration-data",
        metavar="DIR",
        help="a folder of images to calibrate --int8 on (default: training artists' paintings from --data)",
    )
    parser.add_argument(
        "--calibration-images",
        type=int,
        default=200,
        metavar="N",
        help="how many images int8 calibration reads (default: %(default)s)",
    )
    parser.add_argument(
        "--parity-data",
        metavar="DIR",
        help="a folder of images to compare ONNX Runtime with PyTorch on (default: validation paintings)",
    )
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 18)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress or step lines on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the exporter; returns the exit status."""
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.calibration_data and not args.int8:
        parser.error("--calibration-data is only used with --int8")
    if args.calibration_images < 1:
        parser.error(f"--calibration-images must be at least 1, got {args.calibration_images}")
    variant = "int8" if args.int8 else "fp16" if args.fp16 else "fp32"

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    try:
        from painter_match.atomic import check_output
        from painter_match.commands.common import sigterm_as_interrupt

        with sigterm_as_interrupt():  # `kill` cleans up as Ctrl-C does
            # Before the checkpoint is read: an existing model is replaced only when asked.
            check_output(
                Path(args.output),
                force=args.force,
                inputs=[("checkpoint", args.checkpoint)],
                make_folder=True,
            )
            from export import export_model
            from export.graph import OPSET

            report = export_model(
                args.checkpoint,
                args.output,
                variant=variant,
                data_dir=args.data,
                calibration_data=args.calibration_data,
                parity_data=args.parity_data,
                calibration_images=args.calibration_images,
                opset=args.opset or OPSET,
                quiet=args.quiet,
                log=None if args.quiet else log,
            )
    except PainterMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted; nothing was written to {args.output}", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        parity = report.parity
        line = (
            f"{report.output}: {report.variant}, {report.backbone} {report.input_size} px -> "
            f"{report.embedding_dim}-d, fp32 parity with PyTorch {parity['max_abs_error']:.2e} max abs"
        )
        if report.variant_auc is not None and report.fp32_auc is not None:
            line += f", validation AUC {report.variant_auc:.4f} (fp32 {report.fp32_auc:.4f}, {report.auc_change:+.4f})"
        print(line)
    if args.quiet:  # otherwise the log already showed them
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
