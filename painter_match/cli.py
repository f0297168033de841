"""The `painter-match` command line: registers the commands and calls the library.

Each command's work lives in its own module, imported only when that command runs, so that
`--help` is instant and the inference commands never import torch. Exit codes: 0 success,
1 a known error (one line on stderr), 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from painter_match import __version__
from painter_match.errors import PainterMatchError

if TYPE_CHECKING:
    from painter_match.data.views import Views

PROG = "painter-match"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default and keeps the descriptions' line breaks.

    A default of None means "decided at run time", which the option's help text explains, so
    "(default: None)" is left out.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1], got {text}")
    return value


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_data_dir(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    if several:
        parser.add_argument(
            "data_dir",
            metavar="DATA_DIR",
            type=Path,
            nargs="+",
            help="Kaggle-layout or folder-per-artist folders, read as one (an artist named in two is one artist)",
        )
        return
    parser.add_argument(
        "data_dir", metavar="DATA_DIR", type=Path, help="Kaggle-layout or folder-per-artist folder"
    )


def _add_pairs_options(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    _add_data_dir(parser, several=several)
    parser.add_argument(
        "--pairs", type=Path, default=None, help="pairs CSV (index,image1,image2) to score instead"
    )
    parser.add_argument(
        "--solution", type=Path, default=None, help="ground truth for --pairs (index,sameArtist)"
    )
    parser.add_argument(
        "--max-per-artist",
        type=_positive_int,
        default=60,
        help="with all-pairs scoring: at most this many paintings per artist, so no painter dominates",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for choosing the capped paintings")


def _add_thread_workers(parser: argparse.ArgumentParser, what: str = "") -> None:
    from painter_match.workers import HELP

    parser.add_argument("--workers", type=_positive_int, default=None, help=HELP)


def get_parser() -> argparse.ArgumentParser:
    """The full argument parser (also what `make man` turns into the manual page)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Decide whether two paintings were painted by the same artist.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    synth = commands.add_parser(
        "synth",
        help="write synthetic painters in the Kaggle layout",
        description="Write a deterministic set of synthetic painters in exactly the Kaggle layout "
        "(train/, test/, train_info.csv, all_data_info.csv, submission_info.csv, solution.csv).",
        formatter_class=_HelpFormatter,
    )
    synth.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="folder to create")
    synth.add_argument("--seed", type=int, default=0, help="the same seed gives byte-identical output")
    synth.add_argument("--artists", type=_positive_int, default=24, help="artists with paintings in train/")
    synth.add_argument(
        "--test-artists", type=_non_negative_int, default=8, help="artists found only in test/ (never seen)"
    )
    synth.add_argument("--paintings", type=_positive_int, default=14, help="mean paintings per artist")
    synth.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of each training artist's paintings put in test/",
    )
    synth.add_argument(
        "--group-size",
        type=_positive_int,
        default=40,
        help="test images per group; every pair within a group is listed",
    )
    synth.add_argument(
        "--balanced-pairs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="list N pairs, half same-artist, instead",
    )
    synth.add_argument(
        "--corrupt", type=_non_negative_int, default=0, help="extra corrupt files, as the real data has"
    )
    synth.add_argument("--min-size", type=_positive_int, default=300, help="smallest long side, pixels")
    synth.add_argument("--max-size", type=_positive_int, default=2000, help="largest long side, pixels")
    _add_thread_workers(synth)
    synth.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")
    _add_output_options(synth)
    synth.set_defaults(run=_run_synth)

    scan = commands.add_parser(
        "scan",
        help="check a data folder before training",
        description="Report a data folder's layout, images listed / present / missing / unreadable "
        "(with causes), artists, and paintings per artist.",
        formatter_class=_HelpFormatter,
    )
    _add_data_dir(scan, several=True)
    scan.add_argument("--no-decode", action="store_true", help="only check presence; do not decode images")
    _add_thread_workers(scan, "decoding threads")
    _add_output_options(scan)
    scan.set_defaults(run=_run_scan)

    baseline = commands.add_parser(
        "baseline",
        help="score labelled pairs with colour histograms (the floor a model must beat)",
        description="ROC AUC of colour-histogram similarity on the same pairs `evaluate` uses: --pairs with "
        "--solution, else the folder's submission_info.csv + solution.csv, else every pair of its labelled "
        "paintings (capped per artist).",
        formatter_class=_HelpFormatter,
    )
    _add_pairs_options(baseline)
    baseline.add_argument(
        "--size", type=_positive_int, default=128, help="image side the histogram is taken at"
    )
    _add_thread_workers(baseline, "decoding threads")
    _add_output_options(baseline)
    baseline.set_defaults(run=_run_baseline)
    _add_train_parser(commands)

    prepare = commands.add_parser(
        "prepare",
        help="write a resized copy of a data folder so training skips huge decodes",
        description="Copy DATA_DIR's layout and CSVs into OUT_DIR with every image decoded once and saved "
        "with its shorter side at most --size pixels. Train on OUT_DIR afterwards. A rerun only does what is missing.",
        formatter_class=_HelpFormatter,
    )
    _add_data_dir(prepare)
    prepare.add_argument("-o", "--out", dest="out_dir", metavar="OUT_DIR", type=Path, required=True)
    prepare.add_argument("--size", type=_positive_int, default=256, help="largest shorter side, pixels")
    _add_thread_workers(prepare, "threads")
    _add_output_options(prepare)
    prepare.set_defaults(run=_run_prepare)

    evaluate = commands.add_parser(
        "evaluate",
        help="ROC AUC, accuracy, confusion matrix and ROC curve of a checkpoint on labelled pairs",
        description="Score labelled pairs with a trained checkpoint: --pairs with --solution, else the "
        "folder's submission_info.csv + solution.csv, else every pair of its labelled paintings (capped per "
        "artist). AUC is also given for pairs of artists seen in training and never seen, beside two "
        "baselines on the same pairs: colour histograms, and ImageNet features with no training "
        "(EfficientNet-Lite0 pooled at 224 px, standardised per dimension, cosine). MODEL may be an "
        "exported .onnx file, embedded as `embed` does (with its views policy, or --views).",
        formatter_class=_HelpFormatter,
    )
    evaluate.add_argument(
        "model", metavar="MODEL", type=Path, help="a trainer checkpoint (best.pt) or an exported .onnx model"
    )
    _add_pairs_options(evaluate, several=True)
    evaluate.add_argument(
        "--artists",
        metavar="FILE",
        type=Path,
        default=None,
        help="score only pairs of the artists in FILE (one a line), e.g. a fold held out with train --exclude-artists",
    )
    evaluate.add_argument(
        "--fold",
        metavar="K/N",
        default=None,
        help="score only pairs of fold K of N artist-disjoint folds (the artists train --hold-out-fold K/N left out)",
    )
    evaluate.add_argument("--roc", type=Path, default=None, help="write the ROC curve PNG here")
    evaluate.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the colour-histogram and ImageNet baselines",
    )
    evaluate.add_argument(
        "--views",
        type=_non_negative_int,
        default=None,
        help="an .onnx model's views: a global view plus this many crops (default: the model's own)",
    )
    evaluate.add_argument(
        "--view-scale", type=float, default=2.0, help="with --views: crops' scale (x the input size)"
    )
    _add_thread_workers(evaluate, "")
    _add_output_options(evaluate)
    evaluate.set_defaults(run=_run_evaluate)
    _add_inference_parsers(commands)
    return parser


def _lazy(module: str) -> Callable[[argparse.Namespace], int]:
    """A command runner that imports ``painter_match.commands.<module>`` only when it runs."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        from painter_match.errors import UsageError

        handler: Callable[[argparse.Namespace], int] = importlib.import_module(
            f"painter_match.commands.{module}"
        ).run
        try:
            return handler(args)
        except UsageError as err:  # options the parser could not judge without the model
            print(f"{PROG} {module}: error: {err}", file=sys.stderr)
            return 2

    return run


# --views: more crops than this add nothing a grid of 8 x 8 does not already see, and each one
# costs a full model row (1000 asked onnxruntime for 37 GB).
MAX_CROPS = 64


def _crops(text: str) -> int:
    value = _non_negative_int(text)
    if value > MAX_CROPS:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_CROPS}, got {value}")
    return value


def _add_model_options(parser: argparse.ArgumentParser, *, encode: bool = True) -> None:
    group = parser.add_argument_group("model and runtime")
    group.add_argument(
        "-m",
        "--model",
        type=Path,
        default=None,
        help="painter-match ONNX model (default: $PAINTER_MATCH_MODEL, else models/painter-match.onnx)",
    )
    group.add_argument(
        "--provider",
        default="auto",
        choices=("auto", "cpu", "cuda", "tensorrt"),
        help="onnxruntime execution provider; auto takes CUDA when onnxruntime-gpu and a GPU are there",
    )
    group.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="onnxruntime threads (default: half the cores; the decode threads use the rest)",
    )
    group.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=None,
        metavar="N",
        help="largest image to decode, in pixels after JPEG reduction (default: 300 million); larger ones "
        "are skipped as unreadable. Each decode thread holds about 8 bytes a pixel",
    )
    if encode:
        group.add_argument(
            "--workers",
            type=_positive_int,
            default=None,
            help="image decoding threads (default: one per core)",
        )
        group.add_argument("--batch-size", type=_positive_int, default=32, help="images per model call")
        group.add_argument(
            "--views",
            type=_crops,
            default=None,
            metavar="CROPS",
            help=f"crops averaged with the whole painting, 0 to {MAX_CROPS} (default: the model's own choice)",
        )


def _add_inference_parsers(commands: argparse._SubParsersAction) -> None:
    embed = commands.add_parser(
        "embed",
        help="embed every image under a folder with the ONNX model",
        description="Embed every image under DIR (recursively) into an .npz holding the relative paths, "
        "the L2-normalised vectors and the model's identity. Unreadable images are skipped and listed in "
        "OUT.errors.csv. Progress is saved to OUT.partial.npz as it goes: after Ctrl-C or kill, rerun with "
        "--resume to embed only the rest.",
        formatter_class=_HelpFormatter,
    )
    embed.add_argument("dir", metavar="DIR", type=Path, help="folder of images")
    embed.add_argument(
        "-o", "--output", type=Path, default=Path("embeddings.npz"), help="embeddings file to write"
    )
    again = embed.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT.partial.npz or OUT, embedding only the images not in it (same model only)",
    )
    again.add_argument("--force", action="store_true", help="start over, replacing OUT when done")
    embed.add_argument("--strict", action="store_true", help="stop at the first unreadable image")
    _add_model_options(embed)
    _add_output_options(embed)
    embed.set_defaults(run=_lazy("embed"))

    score = commands.add_parser(
        "score",
        help="score a Kaggle pairs file (index,image1,image2) into a submission",
        description="Write index,sameArtist (a calibrated probability per pair, every index once, in input "
        "order) for a pairs file such as Kaggle's submission_info.csv. Images come from --images DIR (each "
        "distinct image embedded once) or from an embeddings file made by `embed` (no decoding at all).",
        formatter_class=_HelpFormatter,
    )
    score.add_argument("pairs", metavar="PAIRS_CSV", type=Path, help="index,image1,image2")
    score.add_argument("-o", "--output", type=Path, required=True, help="submission CSV to write")
    score.add_argument(
        "--force", action="store_true", help="replace OUTPUT if it exists (never one of the run's inputs)"
    )
    source = score.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", type=Path, help="folder the image names are relative to")
    source.add_argument("--embeddings", type=Path, help="embeddings file from `painter-match embed`")
    score.add_argument(
        "--missing",
        default="fill",
        choices=("fill", "error"),
        help="an image missing or unreadable: fill its pairs with --fill-value (Kaggle wants every row), "
        "or stop",
    )
    score.add_argument(
        "--fill-value", type=_probability, default=0.5, help="probability given to unscorable pairs"
    )
    score.add_argument(
        "--solution", type=Path, default=None, help="ground truth (index,sameArtist): print AUC"
    )
    _add_model_options(score)
    _add_output_options(score)
    score.set_defaults(run=_lazy("score"))

    verify = commands.add_parser(
        "verify",
        help="the probability that two paintings share an artist",
        description="Embed two paintings and print P(same artist) and the verdict at the model's threshold.",
        formatter_class=_HelpFormatter,
    )
    verify.add_argument("first", metavar="A", type=Path, help="first painting")
    verify.add_argument("second", metavar="B", type=Path, help="second painting")
    _add_model_options(verify)
    _add_output_options(verify)
    verify.set_defaults(run=_lazy("verify"))

    similar = commands.add_parser(
        "similar",
        help="the paintings most like one, and the most likely artists",
        description="The k paintings of an embeddings file most similar to QUERY (a path in the file, or an "
        "image embedded with the model). With --labels (train_info.csv, all_data_info.csv, or a Kaggle or "
        "folder-per-artist folder) the neighbours' artists are ranked by a similarity-weighted vote.",
        formatter_class=_HelpFormatter,
    )
    similar.add_argument("query", metavar="QUERY", help="an image file, or a path stored in the embeddings")
    similar.add_argument("--embeddings", type=Path, required=True, help="embeddings file from `embed`")
    similar.add_argument("-k", type=_positive_int, default=10, help="neighbours to list")
    similar.add_argument("--labels", type=Path, default=None, help="artist labels: a CSV or a data folder")
    _add_model_options(similar, encode=False)
    _add_output_options(similar)
    similar.set_defaults(run=_lazy("similar"))


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    # The defaults and choices come from the torch-free config module, so `--help` never imports torch.
    from painter_match.train.config import BACKBONES, FEATURES, LOSSES, PRESETS, TrainConfig

    d = TrainConfig(data_dir="", out_dir="")
    presets = "; ".join(
        f"{name}: " + ", ".join(f"{key}={_preset_text(value)}" for key, value in values.items())
        for name, values in PRESETS.items()
    )
    train = commands.add_parser(
        "train",
        help="train a Siamese encoder on paintings labelled by artist (needs the [train] extra)",
        description="Train the Siamese embedding encoder on a Kaggle-layout or folder-per-artist folder, "
        "holding out whole artists for validation. Writes last.pt, best.pt, metrics.jsonl and curves.png "
        "into RUN_DIR. Under torchrun it trains with DistributedDataParallel. With --freeze all (the "
        "EfficientNet-Lites) the backbone runs once per painting and view and only the head trains. "
        f"Presets (options given explicitly still win): {presets}.",
        formatter_class=_HelpFormatter,
    )
    _remember_explicit_options(train)
    _add_data_dir(train, several=True)
    train.add_argument(
        "-o", "--out", dest="out_dir", metavar="RUN_DIR", type=Path, required=True, help="run folder"
    )
    train.add_argument(
        "--preset",
        default=None,
        choices=tuple(PRESETS),
        help="a named set of defaults (real: real paintings, frozen ImageNet EfficientNet-Lite0 style "
        "statistics and a trained head); options given explicitly override it",
    )
    model = train.add_argument_group("model")
    model.add_argument("--backbone", default=d.backbone, choices=BACKBONES)
    model.add_argument(
        "--pretrained", action="store_true", help="start from ImageNet weights (ResNets, EfficientNet-Lites)"
    )
    model.add_argument(
        "--features",
        default=d.features,
        choices=FEATURES,
        help="what the EfficientNet-Lites feed the head: pooled (last layer averaged) or style (channel "
        "mean and std of stages 2-7 and the head); auto is the backbone's own (style for them)",
    )
    model.add_argument(
        "--freeze",
        default=d.freeze,
        metavar="{none,all,stages:N}",
        help="keep pretrained backbone weights fixed: none, all (only the embedding head trains), or "
        "stages:N (EfficientNet-Lites: the last N of stem, stages 1-7, head conv train); needs --pretrained",
    )
    model.add_argument(
        "--embedding-dim", type=_positive_int, default=d.embedding_dim, help="embedding length"
    )
    model.add_argument(
        "--input-size", type=_positive_int, default=d.input_size, help="square input side, pixels"
    )
    model.add_argument(
        "--head-hidden",
        type=_non_negative_int,
        default=d.head_hidden,
        help="EfficientNet-Lites: the head's hidden width; 0 for a linear head (BatchNorm, dropout, Linear)",
    )
    model.add_argument("--dropout", type=float, default=d.dropout, help="dropout before the embedding layer")
    model.add_argument(
        "--views",
        dest="view_crops",
        type=_non_negative_int,
        default=d.view_crops,
        help="the model's default view policy for embed: a global view plus this many grid crops "
        "(stored in the exported model; with crop augmentation and --freeze all the head trains on them)",
    )
    model.add_argument(
        "--view-scale",
        dest="view_crop_scale",
        type=float,
        default=d.view_crop_scale,
        help="crops are cut from the painting resized to this x the input size (shorter side)",
    )
    objective = train.add_argument_group("loss")
    objective.add_argument("--loss", default=d.loss, choices=LOSSES)
    objective.add_argument(
        "--margin",
        type=float,
        default=None,
        help="triplet/contrastive margin or proxy angular margin (default: the loss's own)",
    )
    schedule = train.add_argument_group("optimisation")
    schedule.add_argument("--epochs", type=_positive_int, default=d.epochs, help="maximum epochs")
    schedule.add_argument(
        "--artists-per-batch",
        type=_positive_int,
        default=d.artists_per_batch,
        help="P: artists in each batch",
    )
    schedule.add_argument(
        "--paintings-per-artist",
        type=_positive_int,
        default=d.paintings_per_artist,
        help="K: paintings per artist in a batch",
    )
    schedule.add_argument("--optimizer", default=d.optimizer, choices=("adamw", "adam"))
    schedule.add_argument(
        "--lr", type=float, default=d.lr, help="peak learning rate (warm-up, then cosine decay)"
    )
    schedule.add_argument("--weight-decay", type=float, default=d.weight_decay)
    schedule.add_argument("--warmup-epochs", type=_non_negative_int, default=d.warmup_epochs)
    schedule.add_argument("--grad-clip", type=float, default=d.grad_clip, help="gradient norm clip")
    schedule.add_argument(
        "--patience",
        type=_positive_int,
        default=d.patience,
        help="early stop after this many epochs without a better val AUC",
    )
    schedule.add_argument("--no-amp", dest="amp", action="store_false", help="no mixed precision on CUDA")
    data = train.add_argument_group("data")
    data.add_argument(
        "--val-fraction",
        type=float,
        default=d.val_fraction,
        help="share of paintings (whole artists) held out",
    )
    data.add_argument(
        "--val-pairs", type=_positive_int, default=d.val_pairs, help="balanced validation pairs"
    )
    data.add_argument(
        "--min-paintings",
        type=_positive_int,
        default=d.min_paintings,
        help="drop artists with fewer paintings",
    )
    data.add_argument("--max-per-artist", type=_positive_int, default=None, help="cap paintings per artist")
    data.add_argument(
        "--exclude-artists",
        metavar="FILE",
        default=None,
        help="artists (one a line) kept out of training and validation, to evaluate them as unseen later",
    )
    data.add_argument(
        "--hold-out-fold",
        metavar="K/N",
        default=None,
        help="keep fold K of N artist-disjoint folds out of training and validation (evaluate --fold K/N "
        "scores it)",
    )
    data.add_argument(
        "--augment",
        default=",".join(d.augment),
        help="comma list from crop,flip,affine,color,grey,perspective,blur, or none",
    )
    run = train.add_argument_group("run")
    from painter_match.workers import HELP as WORKERS_HELP

    run.add_argument(
        "--workers",
        type=_positive_int,
        default=d.workers,
        help=WORKERS_HELP.replace("(default: one per core)", "")
        + "(default: 2 on every machine, since the augmentations a run draws depend on it)",
    )
    run.add_argument("--seed", type=int, default=d.seed, help="seed for the split, batches and augmentation")
    run.add_argument("--device", default=d.device, choices=("auto", "cpu", "cuda"))
    run.add_argument(
        "--feature-cache",
        metavar="DIR",
        default=None,
        help="with --freeze all: keep the backbone features here and reuse them in later runs",
    )
    run.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from last.pt")
    _add_output_options(train)
    train.set_defaults(run=_run_train)


def _views_option(crops: int | None, scale: float) -> Views | None:
    if crops is None:
        return None
    from painter_match.data.views import Views

    try:
        return Views(crops=crops, crop_scale=scale)
    except ValueError as err:
        raise PainterMatchError(f"--views/--view-scale: {err}") from None


def _preset_text(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "none"
    return str(value)


def _remember_explicit_options(parser: argparse.ArgumentParser) -> None:
    """Make the parser record, in ``args.explicit``, the dest of every option given on the command line.

    A preset fills in only the options the user did not give; comparing a value with its default
    cannot tell ``--input-size 96`` (given) from 96 (the default).
    """

    def remembering(base: type[argparse.Action]) -> type[argparse.Action]:
        class Remembering(base):  # type: ignore[valid-type,misc]
            def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
                super().__call__(parser, namespace, values, option_string)
                namespace.explicit = set(getattr(namespace, "explicit", set())) | {self.dest}

        return Remembering

    for name, base in (
        (None, argparse._StoreAction),
        ("store", argparse._StoreAction),
        ("store_true", argparse._StoreTrueAction),
        ("store_false", argparse._StoreFalseAction),
    ):
        parser.register("action", name, remembering(base))
    parser.set_defaults(explicit=set())


def _print_json(payload: dict[str, object]) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def _run_synth(args: argparse.Namespace) -> int:
    from painter_match.data.synth import SynthConfig, generate
    from painter_match.progress import progress_bar

    config = SynthConfig(
        seed=args.seed,
        artists=args.artists,
        test_artists=args.test_artists,
        paintings=args.paintings,
        test_fraction=args.test_fraction,
        group_size=args.group_size,
        balanced_pairs=args.balanced_pairs,
        corrupt=args.corrupt,
        min_size=args.min_size,
        max_size=args.max_size,
        workers=args.workers,
    )
    with progress_bar("painting", config.total_paintings(), quiet=args.quiet, unit="paintings") as bar:
        summary = generate(args.out_dir, config, advance=bar.advance, force=args.force)
    if args.json:
        _print_json(summary.to_dict())
    else:
        print(summary.describe())
    return 0


def _run_scan(args: argparse.Namespace) -> int:
    from painter_match.data.scan import combined_artists, format_report, scan
    from painter_match.progress import progress_bar

    reports = []
    for folder in args.data_dir:
        with progress_bar(f"checking {folder}", quiet=args.quiet, unit="images") as bar:
            reports.append(
                scan(
                    folder,
                    decode=not args.no_decode,
                    workers=args.workers,
                    advance=bar.advance,
                    on_total=bar.set_total,
                )
            )
    combined = combined_artists(args.data_dir) if len(reports) > 1 else {}
    if args.json:
        # One folder keeps the report it always had; several give one report each and the total.
        _print_json(
            reports[0].to_dict()
            if len(reports) == 1
            else {"folders": [r.to_dict() for r in reports], **combined}
        )
    else:
        print("\n\n".join(format_report(report) for report in reports))
        if len(reports) > 1:
            print(
                f"\n{len(reports)} folders read together: {combined['artists']:,} artists, "
                f"{combined['shared_artists']:,} of them in more than one folder (one artist each)"
            )
    return 0


def _run_baseline(args: argparse.Namespace) -> int:
    from painter_match.evaluation.baselines import evaluate_colour_histogram
    from painter_match.progress import progress_bar

    with progress_bar("colour histograms", quiet=args.quiet, unit="images") as bar:
        report = evaluate_colour_histogram(
            args.data_dir,
            size=args.size,
            max_per_artist=args.max_per_artist,
            pairs_file=args.pairs,
            solution_file=args.solution,
            seed=args.seed,
            workers=args.workers,
            advance=bar.advance,
            on_total=bar.set_total,
        )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(
            f"colour-histogram baseline on {report.pairs_scored:,} of {report.pairs:,} pairs "
            f"({report.pairs_source}; {report.same_artist_share:.1%} same-artist, "
            f"{report.unreadable_images} unreadable images)\n"
            f"ROC AUC {report.roc_auc:.4f}   accuracy {report.accuracy:.4f} at similarity >= {report.threshold:.4f}"
        )
    return 0


def _run_prepare(args: argparse.Namespace) -> int:
    from painter_match.data.prepare import prepare
    from painter_match.progress import progress_bar

    with progress_bar("resizing", quiet=args.quiet, unit="images") as bar:
        report = prepare(
            args.data_dir,
            args.out_dir,
            size=args.size,
            workers=args.workers,
            advance=bar.advance,
            on_total=bar.set_total,
        )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(
            f"prepared {report.out_dir}: {report.written:,} written, {report.already_there:,} already there, "
            f"{len(report.unreadable):,} unreadable (shorter side <= {report.size} px)"
        )
        for entry in report.unreadable:
            print(f"  unreadable {entry['path']}: {entry['cause']}")
    return 0


def _import_training(module: str) -> object:
    """Import a training module, or say which extra to install when torch is missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name in {"torch", "torchvision", "matplotlib"}:
            raise PainterMatchError(
                f'this command needs {err.name}, which is not installed: pip install "painter-match[train]"'
            ) from None
        raise


def _run_evaluate(args: argparse.Namespace) -> int:
    from painter_match.data.catalogue import read_artist_list, read_catalogue
    from painter_match.data.selection import fold_artists
    from painter_match.evaluation.evaluate import evaluate

    artists = read_artist_list(args.artists) if args.artists else None
    if args.fold:
        try:
            fold = fold_artists(read_catalogue(args.data_dir).paintings, args.fold)
        except ValueError as err:
            raise PainterMatchError(f"--fold: {err}") from None
        artists = fold if artists is None else artists & fold
    embedder = imagenet = None
    if args.model.suffix.lower() != ".onnx":
        training = _import_training("painter_match.train.embedding")
        embedder = training.checkpoint_embedder(args.model, workers=args.workers)  # type: ignore[attr-defined]
    if args.baseline:
        try:
            import painter_match.train.embedding as training_side
        except ModuleNotFoundError:
            pass  # an inference-only install: the ImageNet baseline is skipped, with the reason
        else:
            imagenet = training_side.imagenet_features
    report = evaluate(
        args.model,
        args.data_dir,
        embedder=embedder,
        imagenet_features=imagenet,
        artists=artists,
        pairs_file=args.pairs,
        solution_file=args.solution,
        max_per_artist=args.max_per_artist,
        roc_png=args.roc,
        baseline=args.baseline,
        seed=args.seed,
        workers=args.workers,
        views=_views_option(args.views, args.view_scale),
    )
    if args.json:
        _print_json(report.to_dict())
        return 0

    def auc(value: float | None, pairs: int) -> str:
        return f"{value:.4f} ({pairs:,} pairs)" if value is not None else f"n/a ({pairs:,} pairs)"

    c = report.confusion
    lines = [
        f"pairs         {report.pairs_scored:,} of {report.pairs:,} scored ({report.pairs_source}); "
        f"{report.same_artist_share:.2%} same-artist"
        + (
            f"; at most {report.max_per_artist} paintings per artist"
            if report.max_per_artist and "per artist" not in report.pairs_source
            else ""
        ),
        f"ROC AUC       {report.roc_auc:.4f}"
        + (
            f"  (views: global + {report.views['crops']} crops at {report.views['crop_scale']}x)"
            if report.views
            else ""
        ),
        *(
            [
                f"seen artists  {auc(report.auc_seen_artists, report.pairs_seen_artists)}",
                f"unseen        {auc(report.auc_unseen_artists, report.pairs_unseen_artists)}",
            ]
            if report.training_artists_known
            else ["seen/unseen   n/a: the model does not record its training artists (re-export it)"]
        ),
        f"accuracy      {report.accuracy:.4f} at the calibrated threshold {report.threshold:.4f}",
        f"confusion     same->same {c['true_same']:,}  different->same {c['false_same']:,}  "
        f"same->different {c['false_different']:,}  different->different {c['true_different']:,}",
    ]
    if report.colour_histogram_auc is not None:
        lines.append(
            f"baseline      colour histogram ROC AUC {report.colour_histogram_auc:.4f} on the same pairs"
        )
    if report.imagenet_auc is not None:
        lines.append(
            f"baseline      ImageNet features, no training, ROC AUC {report.imagenet_auc:.4f} on the same pairs"
        )
    elif args.baseline:
        lines.append(f"baseline      ImageNet features skipped: {report.imagenet_skipped}")
    if report.unreadable_images:
        lines.append(f"unreadable    {len(report.unreadable_images)} images skipped with their pairs")
    if report.roc_png:
        lines.append(f"ROC curve     {report.roc_png}")
    print("\n".join(lines))
    return 0


def _run_train(args: argparse.Namespace) -> int:
    _import_training("painter_match.train.trainer")
    from painter_match.progress import progress_bar
    from painter_match.train.augment import parse_augment
    from painter_match.train.trainer import TrainConfig, train

    try:
        augment = parse_augment(args.augment)
    except ValueError as err:
        raise PainterMatchError(f"--augment: {err}") from None
    from painter_match.train.config import apply_preset, check_model_options

    folders = [str(folder) for folder in args.data_dir]
    values = dict(
        data_dir=folders[0],
        data_dirs=tuple(folders) if len(folders) > 1 else (),
        out_dir=str(args.out_dir),
        backbone=args.backbone,
        pretrained=args.pretrained,
        features=args.features,
        freeze=args.freeze,
        embedding_dim=args.embedding_dim,
        head_hidden=args.head_hidden,
        input_size=args.input_size,
        dropout=args.dropout,
        loss=args.loss,
        margin=args.margin,
        epochs=args.epochs,
        artists_per_batch=args.artists_per_batch,
        paintings_per_artist=args.paintings_per_artist,
        optimizer=args.optimizer,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs,
        grad_clip=args.grad_clip,
        val_fraction=args.val_fraction,
        val_pairs=args.val_pairs,
        min_paintings=args.min_paintings,
        max_per_artist=args.max_per_artist,
        exclude_artists=args.exclude_artists,
        hold_out_fold=args.hold_out_fold,
        augment=augment,
        patience=args.patience,
        workers=args.workers,
        seed=args.seed,
        amp=args.amp,
        device=args.device,
        view_crops=args.view_crops,
        view_crop_scale=args.view_crop_scale,
        feature_cache=args.feature_cache,
    )
    try:
        values = apply_preset(values, args.preset, set(args.explicit))
        check_model_options(
            values["backbone"],
            pretrained=values["pretrained"],
            features=values["features"],
            freeze=values["freeze"],
        )
        config = TrainConfig(**values)
    except ValueError as err:
        raise PainterMatchError(str(err)) from None

    def progress(description: str, total: int) -> object:
        return progress_bar(description, total, quiet=args.quiet, unit="batches")

    def log(line: str) -> None:
        if not args.json:
            print(line, flush=True)

    result = train(config, resume=args.resume, progress=progress, log=log)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun, the first process speaks for all
    if args.json:
        _print_json(result.to_dict())
    else:
        print(
            f"best val AUC {result.best_val_auc:.4f} (accuracy {result.best_val_accuracy:.4f}) at epoch "
            f"{result.best_epoch}; {result.epochs_run} epochs in {result.seconds:.0f}s; "
            f"{result.skipped_images} images skipped; run in {result.out_dir}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    parser = get_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except PainterMatchError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
