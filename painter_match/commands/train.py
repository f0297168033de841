"""``painter-match train DATA_DIR... -o RUN_DIR``: fit the Siamese encoder (`painter_match.train.trainer`; needs torch).

The parser's defaults and choices come from the torch-free `painter_match.train.config`, so
``--help`` never imports torch; ``run`` imports the trainer, or names the extra to install.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from painter_match.commands.common import (
    add_command,
    add_data_dir,
    add_output_options,
    add_workers,
    import_training,
    non_negative_float,
    non_negative_int,
    positive_int,
    print_json,
)
from painter_match.errors import PainterMatchError


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    # The defaults and choices come from the torch-free config module, so `--help` never imports torch.
    from painter_match.train.config import BACKBONES, FEATURES, LOSSES, PRESETS, TrainConfig

    d = TrainConfig(data_dir="", out_dir="")
    presets = "; ".join(
        f"{name}: " + ", ".join(f"{key}={_preset_text(value)}" for key, value in values.items())
        for name, values in PRESETS.items()
    )
    train = add_command(
        commands,
        "train",
        help="train a Siamese encoder on paintings labelled by artist (needs the [train] extra)",
        description="Train the Siamese embedding encoder on a Kaggle-layout or folder-per-artist folder, "
        "holding out whole artists for validation. Writes last.pt, best.pt, metrics.jsonl and curves.png "
        "into RUN_DIR. Under torchrun it trains with DistributedDataParallel. With --freeze all (the "
        "EfficientNet-Lites) the backbone runs once per painting and view and only the head trains. "
        f"Presets (options given explicitly still win): {presets}.",
    )
    _remember_explicit_options(train)
    add_data_dir(train, several=True)
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
    model.add_argument("--embedding-dim", type=positive_int, default=d.embedding_dim, help="embedding length")
    model.add_argument(
        "--input-size", type=positive_int, default=d.input_size, help="square input side, pixels"
    )
    model.add_argument(
        "--head-hidden",
        type=non_negative_int,
        default=d.head_hidden,
        help="EfficientNet-Lites: the head's hidden width; 0 for a linear head (BatchNorm, dropout, Linear)",
    )
    model.add_argument(
        "--imagenet-weight",
        type=non_negative_float,
        default=d.imagenet_weight,
        help="EfficientNet-Lites with --freeze all: carry the standardised, untrained ImageNet features "
        "beside the trained embedding at this weight (0: none); they travel better to other sources "
        "(docs/real-photographs.md)",
    )
    model.add_argument("--dropout", type=float, default=d.dropout, help="dropout before the embedding layer")
    model.add_argument(
        "--views",
        dest="view_crops",
        type=non_negative_int,
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
    schedule.add_argument("--epochs", type=positive_int, default=d.epochs, help="maximum epochs")
    schedule.add_argument(
        "--artists-per-batch",
        type=positive_int,
        default=d.artists_per_batch,
        help="P: artists in each batch",
    )
    schedule.add_argument(
        "--paintings-per-artist",
        type=positive_int,
        default=d.paintings_per_artist,
        help="K: paintings per artist in a batch",
    )
    schedule.add_argument("--optimizer", default=d.optimizer, choices=("adamw", "adam"))
    schedule.add_argument(
        "--lr", type=float, default=d.lr, help="peak learning rate (warm-up, then cosine decay)"
    )
    schedule.add_argument(
        "--backbone-lr-scale",
        type=float,
        default=d.backbone_lr_scale,
        help="the backbone's learning rate as a share of --lr (a pretrained backbone fine-tuned under "
        "a fresh head usually wants 0.01-0.1)",
    )
    schedule.add_argument(
        "--freeze-batchnorm",
        action="store_true",
        help="keep every BatchNorm of the backbone at its pretrained statistics and scale, even where "
        "the backbone trains (small batches of one kind of picture would otherwise drag them away)",
    )
    schedule.add_argument("--weight-decay", type=float, default=d.weight_decay)
    schedule.add_argument("--warmup-epochs", type=non_negative_int, default=d.warmup_epochs)
    schedule.add_argument("--grad-clip", type=float, default=d.grad_clip, help="gradient norm clip")
    schedule.add_argument(
        "--patience",
        type=positive_int,
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
    data.add_argument("--val-pairs", type=positive_int, default=d.val_pairs, help="balanced validation pairs")
    data.add_argument(
        "--min-paintings",
        type=positive_int,
        default=d.min_paintings,
        help="drop artists with fewer paintings",
    )
    data.add_argument("--max-per-artist", type=positive_int, default=None, help="cap paintings per artist")
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
    add_workers(
        run,
        default=d.workers,
        note="(default: 2 on every machine, since the augmentations a run draws depend on it)",
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
    add_output_options(train)
    return train


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


def run(args: argparse.Namespace) -> int:
    import_training("painter_match.train.trainer")
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
        imagenet_weight=args.imagenet_weight,
        input_size=args.input_size,
        dropout=args.dropout,
        loss=args.loss,
        margin=args.margin,
        epochs=args.epochs,
        artists_per_batch=args.artists_per_batch,
        paintings_per_artist=args.paintings_per_artist,
        optimizer=args.optimizer,
        lr=args.lr,
        backbone_lr_scale=args.backbone_lr_scale,
        freeze_batchnorm=args.freeze_batchnorm,
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
        print_json(result.to_dict())
    else:
        print(
            f"best val AUC {result.best_val_auc:.4f} (accuracy {result.best_val_accuracy:.4f}) at epoch "
            f"{result.best_epoch}; {result.epochs_run} epochs in {result.seconds:.0f}s; "
            f"{result.skipped_images} images skipped; run in {result.out_dir}"
        )
    return 0
