"""``python -m bench``: measure every stage against the limit and against the usual way.

``--quick`` runs every stage small (under two minutes on the 2-core reference machine; what CI
smoke-tests), ``--smoke`` smaller still (seconds per stage, for the test suite), and the default
the full bench whose figures go into ``bench/RESULTS.md``. Results are a rich table on stdout and,
with ``--json FILE``, a JSON document with the machine and library versions. Exit status: 0 when
every comparison ran, 1 when one failed (the others are still reported), 2 for usage errors. A
comparison this install cannot make (the PyTorch and export rows need the ``[train]`` extra) is
skipped with one line saying why, and is not a failure: on ``pip install painter-match`` alone the
bench measures decoding, the packaged model end to end, and scoring.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import SCHEMA_VERSION
from bench.machine import effective_cores, load_average, machine_info
from bench.report import print_table, write_json
from bench.suite import (
    FULL,
    QUICK,
    SMOKE,
    STAGES,
    Options,
    Settings,
    available_providers,
    parse_stages,
    run_suite,
)
from bench.targets import KAGGLE_PAIRS, evaluate

PROVIDER_CHOICES = ("auto", "cpu", "cuda", "tensorrt")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _batch_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected batch sizes such as 1,32,256, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be >= 1, got {text!r}")
    return sizes


def get_parser() -> argparse.ArgumentParser:
    """The command line (no side effects)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time painter-match stage by stage (decode, model, end-to-end embed, score) against "
        "the machine's limits and a plain PyTorch/pandas way of doing the same job.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="every stage, small: under two minutes (CI smoke)")
    size.add_argument("--smoke", action="store_true", help="every stage, tiny: seconds each (test suite)")
    parser.add_argument(
        "--stage",
        action="append",
        default=None,
        metavar="NAMES",
        help=f"stages to run, comma-separated or repeated: {', '.join(STAGES)} (default: all)",
    )
    parser.add_argument(
        "--provider",
        default="auto",
        choices=PROVIDER_CHOICES,
        help="onnxruntime provider for the model and embed stages; auto = the CPU plus CUDA and "
        "TensorRT when this onnxruntime has them",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a painter-match ONNX model (default: a fresh, untrained encoder)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="the checkpoint --model was exported from (the usual way runs it)",
    )
    parser.add_argument(
        "--real-model",
        type=Path,
        default=None,
        help="the real stage's default model (default: the packaged one, as `painter-match embed` uses)",
    )
    parser.add_argument(
        "--real-twin",
        type=Path,
        default=None,
        help="its fp32 twin (default: models/painter-match-real.onnx, else a fresh export of its architecture)",
    )
    parser.add_argument(
        "--backbone", default="compact", help="backbone of the fresh encoder (default: compact)"
    )
    parser.add_argument(
        "--input-size", type=_positive_int, default=96, help="input size of the fresh encoder"
    )
    parser.add_argument(
        "--pairs",
        type=_positive_int,
        default=None,
        help=f"pairs to score (default: {KAGGLE_PAIRS:,}; quick: 200,000)",
    )
    parser.add_argument("--images", type=_positive_int, default=None, help="end-to-end images per size class")
    parser.add_argument(
        "--embed-views",
        type=int,
        default=None,
        metavar="CROPS",
        help="end-to-end rows embed with `--views CROPS` (crops beside the whole painting; default: the model's)",
    )
    parser.add_argument(
        "--gpu-batches",
        type=_batch_sizes,
        default=None,
        metavar="B,B,...",
        help="batch sizes of the model-only rows on CUDA and TensorRT (default: 1,32,256,1024; quick: 1,256)",
    )
    parser.add_argument(
        "--repeats", type=_positive_int, default=None, help="timed repeats of every measurement"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "painter-match-bench",
        help="cache of generated images, pairs and models (default: %(default)s)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write the results as JSON"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="cProfile every child into DIR and time sub-steps",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed to one comparison")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = SMOKE if args.smoke else QUICK if args.quick else FULL
    changes: dict[str, Any] = {}
    if args.pairs is not None:
        changes["pairs"] = args.pairs
    if args.images is not None:
        changes["embed_images"] = args.images
    if args.gpu_batches is not None:
        changes["gpu_batch_sizes"] = args.gpu_batches
    if args.repeats is not None:
        for name in ("decode_repeats", "model_repeats", "embed_repeats", "score_repeats"):
            changes[name] = args.repeats
    return dataclasses.replace(settings, **changes)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; returns the exit status."""
    parser = get_parser()
    args = parser.parse_args(argv)
    try:
        stages = parse_stages(args.stage or list(STAGES))
    except ValueError as err:
        parser.error(str(err))
    if args.checkpoint is not None and args.model is None:
        parser.error("--checkpoint needs --model (the ONNX file exported from it)")
    for given in (args.model, args.real_model, args.real_twin):
        if given is not None and not given.is_file():
            print(f"bench: error: model {given} not found", file=sys.stderr)
            return 1
    available = available_providers()
    if args.provider == "auto":
        providers = available
    elif args.provider in available:
        providers = (args.provider,)
    else:
        print(
            f"bench: error: provider {args.provider!r} is not in this onnxruntime (it has {', '.join(available)})",
            file=sys.stderr,
        )
        return 1
    settings = _settings(args)
    args.workdir.mkdir(parents=True, exist_ok=True)
    options = Options(
        settings=settings,
        stages=stages,
        providers=providers,
        workdir=args.workdir.resolve(),
        model=str(args.model.resolve()) if args.model else None,
        checkpoint=str(args.checkpoint.resolve()) if args.checkpoint else None,
        backbone=args.backbone,
        input_size=args.input_size,
        embed_views=args.embed_views,
        real_model=str(args.real_model.resolve()) if args.real_model else None,
        real_twin=str(args.real_twin.resolve()) if args.real_twin else None,
        profile_dir=args.profile.resolve() if args.profile else None,
        timeout=args.timeout,
        log=(lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True)),
    )
    machine = machine_info()
    options.effective_cores = machine["effective_cores_start"]
    started = time.perf_counter()
    try:
        rows, errors = run_suite(options)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    machine["load_average_end"] = load_average()
    machine["effective_cores_end"] = effective_cores()
    targets = evaluate(rows)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    document = {
        "schema_version": SCHEMA_VERSION,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "mode": mode,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine,
        "settings": {**dataclasses.asdict(settings), "stages": list(stages), "providers": list(providers)},
        "stages": sorted({r["stage"] for r in rows}, key=lambda s: STAGES.index(s) if s in STAGES else 99),
        "rows": rows,
        "targets": [t.to_dict() for t in targets],
        "errors": errors,
        # Comparisons this install cannot make (no torch or onnx), each with why: not failures.
        "skipped": options.skipped,
    }
    print_table(rows, targets, machine)
    if args.json is not None:
        write_json(args.json, document)
    for line in options.skipped:
        print(f"bench: skipped {line}", file=sys.stderr)
    for error in errors:
        print(f"bench: failed: {error}", file=sys.stderr)
    print(f"bench: {mode} run took {document['seconds']} s", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
