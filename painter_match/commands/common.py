"""What the commands share: option types and groups, the one model-opening helper, printing.

Light at import (argparse and the standard library): the heavy modules a helper needs are
imported inside it, so that building the parser stays instant.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from painter_match.errors import PainterMatchError, UsageError
from painter_match.workers import HELP as WORKERS_HELP

if TYPE_CHECKING:
    from painter_match.data.views import Views
    from painter_match.inference.encoder import OnnxEncoder
    from painter_match.inference.model import LoadedModel

PROG = "painter-match"
# --views: more crops than this add nothing a grid of 8 x 8 does not already see, and each one
# costs a full model row (1000 asked onnxruntime for 37 GB).
MAX_CROPS = 64


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default and keeps the descriptions' line breaks.

    A default of None means "decided at run time", which the option's help text explains, so
    "(default: None)" is left out.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def add_command(
    commands: argparse._SubParsersAction, name: str, *, help: str, description: str
) -> argparse.ArgumentParser:
    """A subcommand parser with the project's formatter."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help, description=description, formatter_class=HelpFormatter
    )
    return parser


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1], got {text}")
    return value


def prior_share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(
            f"must be between 0 and 1 (exclusive), got {text}; e.g. 0.013 for Kaggle's test pairs"
        )
    return value


def add_prior_option(parser: argparse.ArgumentParser) -> None:
    """``--prior SHARE``: the share of same-artist pairs the probabilities should assume."""
    parser.add_argument(
        "--prior",
        type=prior_share,
        default=None,
        metavar="SHARE",
        help="the share of same-artist pairs among the pairs you score (e.g. 0.013 for Kaggle's test pairs, "
        "about 1/artists for all pairs of a collection): probabilities and verdicts are moved to it by "
        "Bayes' rule (default: the share the model was calibrated on, usually one half). The ranking "
        "and AUC do not change",
    )


def check_prior_can_move(what: object, fitted_share: float, prior: float | None, remedy: str) -> None:
    """Refuse ``--prior`` for probabilities whose fit recorded no share of same-artist pairs.

    Args:
        what: the file the probabilities come from (a reference, a model, an embeddings file).
        fitted_share: the share its fit recorded.
        prior: the ``--prior`` given, or None.
        remedy: how to get a file that records it.

    Raises:
        DataError: naming the file and what to do.
    """
    if prior is not None and not 0.0 < fitted_share < 1.0:
        from painter_match.errors import DataError

        raise DataError(
            f"{what} records no share of same-artist pairs for its calibration ({fitted_share}), so its "
            f"probabilities cannot be moved to --prior; {remedy}, or leave out --prior"
        )


def crops(text: str) -> int:
    value = non_negative_int(text)
    if value > MAX_CROPS:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_CROPS}, got {value}")
    return value


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_workers(parser: argparse.ArgumentParser | Any, default: int | None = None, note: str = "") -> None:
    """``--workers``, with its one meaning (`painter_match.workers`)."""
    text = WORKERS_HELP if default is None else WORKERS_HELP.replace("(default: one per core)", note)
    parser.add_argument("--workers", type=positive_int, default=default, help=text)


def add_data_dir(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
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


def add_pairs_options(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    add_data_dir(parser, several=several)
    parser.add_argument(
        "--pairs", type=Path, default=None, help="pairs CSV (index,image1,image2) to score instead"
    )
    parser.add_argument(
        "--solution", type=Path, default=None, help="ground truth for --pairs (index,sameArtist)"
    )
    parser.add_argument(
        "--max-per-artist",
        type=positive_int,
        default=60,
        help="with all-pairs scoring: at most this many paintings per artist, so no painter dominates",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for choosing the capped paintings")


def add_model_options(parser: argparse.ArgumentParser, *, encode: bool = True) -> None:
    group = parser.add_argument_group("model and runtime")
    group.add_argument(
        "-m",
        "--model",
        type=Path,
        default=None,
        help="painter-match ONNX model (default: $PAINTER_MATCH_MODEL, else ./models/painter-match.onnx, "
        "else the model installed with the package)",
    )
    group.add_argument(
        "--provider",
        default="auto",
        choices=("auto", "cpu", "cuda", "tensorrt"),
        help="onnxruntime execution provider; auto takes CUDA when onnxruntime-gpu and a GPU are there",
    )
    group.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="onnxruntime threads (default: half the cores; the decode threads use the rest)",
    )
    group.add_argument(
        "--max-pixels",
        type=positive_int,
        default=None,
        metavar="N",
        help="largest image to decode, in pixels after JPEG reduction (default: 300 million); larger ones "
        "are skipped as unreadable. Each decode thread holds about 8 bytes a pixel",
    )
    if encode:
        add_workers(group)
        group.add_argument("--batch-size", type=positive_int, default=32, help="images per model call")
        group.add_argument(
            "--views",
            type=crops,
            default=None,
            metavar="CROPS",
            help=f"crops averaged with the whole painting, 0 to {MAX_CROPS} (default: the model's own choice)",
        )


def say(args: argparse.Namespace, message: str) -> None:
    """A note for the user on stderr, silenced by --quiet and by --json."""
    if not (getattr(args, "quiet", False) or getattr(args, "json", False)):
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def print_json(payload: dict[str, object]) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def import_training(module: str) -> Any:
    """Import a module behind the torch wall, or say which extra to install when torch is missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name in {"torch", "torchvision", "matplotlib", "onnx", "onnxscript"}:
            raise PainterMatchError(
                f'this command needs {err.name}, which is not installed: pip install "painter-match[train]"'
            ) from None
        raise


def views_option(crop_count: int | None, scale: float) -> Views | None:
    """``--views N --view-scale S`` as a view policy, or None when ``--views`` is not given."""
    if crop_count is None:
        return None
    from painter_match.data.views import Views

    try:
        return Views(crops=crop_count, crop_scale=scale)
    except ValueError as err:
        raise PainterMatchError(f"--views/--view-scale: {err}") from None


def default_threads() -> int:
    """onnxruntime's intra-op threads when --threads is not given: half the cores.

    The decode threads (one per core) run at the same time; on the 2-core machine the project is
    measured on, 2 decode threads + 1 onnxruntime thread embedded 45 images/s against 35 with 2 + 2
    (compact 96 px model; 109 against 79 with a tiny one), as the two pools stop fighting for cores.
    """
    return max(1, (os.cpu_count() or 1) // 2)


def open_command_model(args: argparse.Namespace) -> LoadedModel:
    """Open the model a command uses (`painter_match.inference.model.resolve_model`: ``-m``, else
    ``$PAINTER_MATCH_MODEL``, else ``./models/painter-match.onnx``, else the packaged default) once
    for the run on ``--provider``, and say on stderr which one, by which rule, and where it runs."""
    from painter_match.inference.model import open_model, resolve_model

    choice = resolve_model(args.model)
    model = open_model(choice.path, provider=args.provider, threads=args.threads or default_threads())
    model.choice = choice
    wanted = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}.get(args.provider)
    if wanted and model.provider != wanted:
        # onnxruntime falls back silently when a GPU provider fails to start; the user asked for it.
        print(
            f"{PROG}: warning: --provider {args.provider} was asked for but {model.provider} runs the model",
            file=sys.stderr,
        )
    info = model.info
    if not getattr(args, "quiet", False):
        print(
            f"{PROG}: model {model.path} ({choice.rule_text}; {info.backbone}, {info.variant}, "
            f"{info.input_size} px, {info.embedding_dim}-d) on {model.provider}",
            file=sys.stderr,
            flush=True,
        )
    return model


def views_for(args: argparse.Namespace, model: LoadedModel) -> Views:
    """The model's view policy, with ``--views N`` overriding its number of crops."""
    from painter_match.data.views import Views

    default = model.info.views
    crop_count = getattr(args, "views", None)
    return default if crop_count is None else Views(crops=crop_count, crop_scale=default.crop_scale)


# What one view (one row of a model call) costs beyond its uint8 pixels, as a multiple of them:
# the float input, the activations and the output. Measured 42x for the compact 96 px model
# (`--views 1000` at batch 32 asked onnxruntime for 37 GB); rounded up.
MODEL_CALL_FACTOR = 48


def machine_memory() -> int | None:
    """The machine's physical memory in bytes, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(
    args: argparse.Namespace, model: LoadedModel, views: Views, most_images: int | None = None
) -> None:
    """Refuse --views/--batch-size that would need more memory than the machine has.

    One model call takes ``batch_size * (1 + crops)`` views of ``S x S x 3`` bytes, each costing
    about `MODEL_CALL_FACTOR` times that inside onnxruntime; the decode threads hold
    ``prefetch + 1`` batches of views besides. ``most_images`` caps the batch when the run embeds
    fewer images than a batch holds.

    Raises:
        UsageError: naming the options, the estimate and the largest batch size that fits.
    """
    total = machine_memory()
    if total is None:
        return
    rows_per_image = 1 + views.crops
    view_bytes = model.info.input_size**2 * 3
    per_image = rows_per_image * view_bytes * (MODEL_CALL_FACTOR + 3)  # a call, and 3 batches decoded
    batch = int(getattr(args, "batch_size", 1))
    if most_images is not None:
        batch = max(1, min(batch, most_images))
    need = batch * per_image
    if need <= total:
        return
    fits = total // per_image
    advice = (
        f"lower --batch-size to {fits} or less"
        if fits >= 1
        else "lower --views (a global view alone is --views 0)"
    )
    raise UsageError(
        f"--views {views.crops} with --batch-size {batch} on this {model.info.input_size} px model needs about "
        f"{need / 2**30:,.1f} GiB for one model call, more than this machine's {total / 2**30:,.1f} GiB; {advice}"
    )


def make_encoder(args: argparse.Namespace, model: LoadedModel, most_images: int | None = None) -> OnnxEncoder:
    """The encoder for ``--views``, ``--batch-size``, ``--workers`` and ``--max-pixels``, memory checked
    (`check_memory`; ``most_images``: how many images the run embeds at most, when known)."""
    from painter_match.data.images import DEFAULT_MAX_PIXELS
    from painter_match.inference.encoder import OnnxEncoder

    views = views_for(args, model)
    check_memory(args, model, views, most_images)
    return OnnxEncoder(
        model,
        views=views,
        batch_size=args.batch_size,
        workers=args.workers,
        max_pixels=getattr(args, "max_pixels", None) or DEFAULT_MAX_PIXELS,
    )


def add_html_option(parser: argparse.ArgumentParser, shows: str) -> None:
    """``--html OUT.html``: a self-contained page of the result (`painter_match.evaluation.html_report`)."""
    parser.add_argument(
        "--html", metavar="OUT.html", type=Path, default=None, help=f"write a self-contained page: {shows}"
    )


def check_html_output(args: argparse.Namespace, inputs: list[tuple[str, str | Path | None]]) -> None:
    """Refuse ``--html`` before any work when it cannot be written or is one of ``inputs``.

    A report is made again at will, so an existing one is replaced (no ``--force`` needed); an
    input never is.
    """
    if args.html is None:
        return
    from painter_match.atomic import check_output

    check_output(args.html, force=True, inputs=inputs, option="--html", make_folder=True)


def model_record(model: LoadedModel) -> dict[str, object]:
    """The model facts every --json result carries: which file, by which rule, what it is."""
    return model.record()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Let `kill` (SIGTERM) stop the run the way Ctrl-C does, so it cleans up and says so (exit 130)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted(note: str) -> int:
    """Say, in one line that is printed even with --json or --quiet, what an interruption left; 130."""
    print(f"{PROG}: interrupted; {note}", file=sys.stderr, flush=True)
    return 130
