"""``painter-match export CHECKPOINT -o OUT.onnx [--int8 | --fp16]``: the command over `painter_match.train.export`.

The same options are the repository's ``python -m export`` (`main`, with its own program name),
which `make export` runs. Known failures (a bad checkpoint, missing data, a failed check, an
existing output without ``--force``, an output that is the checkpoint) print one line and exit 1;
usage errors exit 2, Ctrl-C and SIGTERM 130; anything else is a bug and keeps its traceback.
Needs the ``[train]`` extra (torch, onnx); the parser does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from painter_match.commands.common import add_command, import_training, sigterm_as_interrupt
from painter_match.errors import PainterMatchError

DEFAULT_OUTPUT = Path("models") / "painter-match.onnx"


def add_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The export options (nothing heavy imported)."""
    parser.add_argument("checkpoint", help="a trainer checkpoint, e.g. runs/synth/best.pt")
    parser.add_argument(
        "-o",
        "--output",
        default=str(DEFAULT_OUTPUT),
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


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(
        commands,
        "export",
        help="turn a training checkpoint into a verified ONNX model (needs the [train] extra)",
        description="Turn a painter-match training checkpoint into a verified, self-describing ONNX model: "
        "the contract in its metadata, onnx.checker, and ONNX Runtime against PyTorch on real paintings.",
    )
    return add_options(parser)


def get_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m export`` (no side effects, nothing heavy imported)."""
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Turn a painter-match training checkpoint into a verified, self-describing ONNX model.",
    )
    return add_options(parser)


def _usage(args: argparse.Namespace) -> str | None:
    if args.calibration_data and not args.int8:
        return "--calibration-data is only used with --int8"
    if args.calibration_images < 1:
        return f"--calibration-images must be at least 1, got {args.calibration_images}"
    return None


def run(args: argparse.Namespace) -> int:
    """Export as the options say; known failures are raised (the caller prints them)."""
    from painter_match.atomic import check_output

    problem = _usage(args)
    if problem is not None:
        print(f"painter-match export: error: {problem}", file=sys.stderr)
        return 2
    variant = "int8" if args.int8 else "fp16" if args.fp16 else "fp32"

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    try:
        with sigterm_as_interrupt():  # `kill` cleans up as Ctrl-C does
            # Before the checkpoint is read: an existing model is replaced only when asked. The
            # model's folder is made if missing (`models/` in a fresh clone, for `make export`),
            # and said: no folder is ever made without a word (docs/reliability.md).
            folder = Path(args.output).parent
            if not folder.exists() and not args.quiet:
                print(
                    f"painter-match export: creating the folder {folder} for {args.output}", file=sys.stderr
                )
            check_output(
                Path(args.output),
                force=args.force,
                inputs=[("checkpoint", args.checkpoint)],
                make_folder=True,
                what="export",
            )
            library = import_training("painter_match.train.export")
            graph = import_training("painter_match.train.export.graph")
            report = library.export_model(
                args.checkpoint,
                args.output,
                variant=variant,
                data_dir=args.data,
                calibration_data=args.calibration_data,
                parity_data=args.parity_data,
                calibration_images=args.calibration_images,
                opset=args.opset or graph.OPSET,
                quiet=args.quiet,
                log=None if args.quiet else log,
            )
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m export``: run the exporter; returns the exit status."""
    parser = get_parser()
    args = parser.parse_args(argv)
    problem = _usage(args)
    if problem is not None:
        parser.error(problem)
    try:
        return run(args)
    except PainterMatchError as exc:
        print(f"error: {exc.for_cli()}", file=sys.stderr)
        return 1
