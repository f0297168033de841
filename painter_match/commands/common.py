"""What the commands share: option types and groups, opening the model for a command, printing.

Light at import (argparse and the standard library): the heavy modules a helper needs are
imported inside it, so that building the parser stays instant.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from painter_match.errors import PainterMatchError
from painter_match.workers import HELP as WORKERS_HELP

if TYPE_CHECKING:
    from painter_match.inference.api import Model

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


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
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
    from painter_match.inference.calibration import check_prior

    try:
        return check_prior(value)  # the shares whose probabilities can be written
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


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


def add_collection_option(parser: argparse.ArgumentParser, collection: str) -> None:
    """``--collection {auto,centre,none}``: the collection adaptation (`painter_match.inference.collection`)."""
    parser.add_argument(
        "--collection",
        choices=("auto", "centre", "none"),
        default="auto",
        help=f"compare the embeddings centred on the mean of {collection} (centre), as they are (none), "
        "or as the model states (auto: centred when the model carries a centred calibration and there "
        "are at least 20 paintings). Centring removes what a source's pictures share (lighting, camera, "
        "scan) so that it does not pass for a shared hand; the probabilities take the matching calibration",
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
        add_find_painting_options(group)


def find_painting(args: argparse.Namespace) -> str:
    """``--find-painting`` as given, else its default for commands that embed on this machine."""
    return getattr(args, "find_painting", None) or "auto"


def add_find_painting_options(
    parser: argparse.ArgumentParser | Any, *, default: str | None = None, edge_default: str | None = None
) -> None:
    """``--find-painting`` and ``--painting-edge``: embed only the painting in a photo of it
    (`painter_match.data.painting_finder`); their values go to the API's ``find_painting=`` and
    ``painting_edge=`` (`find_painting` gives the first, its default resolved).

    Args:
        parser: the parser or argument group.
        default: for a command whose ``--find-painting`` does not default to ``auto``, what it
            defaults to, as the help says it (the option's value is None then too; the command
            resolves it).
        edge_default: the same for ``--painting-edge`` (None: ``frame``; else the option defaults
            to None, which the command resolves).
    """
    mode_default = "auto (default; off for embed --engine ray)" if default is None else "auto"
    parser.add_argument(
        "--find-painting",
        choices=("auto", "on", "off"),
        default=None,
        help=f"look for the painting in each image and embed only it, straightened: {mode_default} when it "
        "hangs on a wall in a photo (catalogue images and photos cropped to the painting stay whole), on "
        "whenever an outline is found, off never" + (f" (default: {default})" if default is not None else ""),
    )
    parser.add_argument(
        "--painting-edge",
        choices=("frame", "canvas"),
        default="frame" if edge_default is None else None,
        help="crop to the frame's outer edge (default; for references that show frames) or to the canvas "
        "inside it (for canvas-only references)"
        if edge_default is None
        else "crop to the frame's outer edge (for references that show frames) or to the canvas inside it "
        f"(for canvas-only references) (default: {edge_default})",
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


def output_folder_writable(output: str | Path) -> None:
    """Before the model is opened: the output's folder exists and takes a new file.

    The API makes the full output check (inputs, --force, locks) when it is called; this one only
    spares the user opening a model, and a first look at the data, for an output that can never
    be written.

    Raises:
        OutputError: the folder is missing or refuses new files, in one line naming the output.
    """
    from painter_match import atomic

    atomic.check_folder_writable(atomic.output_target(output, option="-o"), shown=output)


def load_model(args: argparse.Namespace) -> Model:
    """The model a command uses, opened once for the run by `painter_match.load` (``-m``, else
    ``$PAINTER_MATCH_MODEL``, else ``./models/painter-match.onnx``, else the packaged default, on
    ``--provider`` with ``--threads``); says on stderr which file, by which rule, and where it runs
    (unless ``--quiet``), and turns the API's provider warning into one naming ``--provider``."""
    import warnings

    import painter_match
    from painter_match.inference.api import ProviderFallbackWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ProviderFallbackWarning)
        model = painter_match.load(args.model, args.provider, threads=args.threads)
    for warning in caught:
        message = warning.message
        if isinstance(message, ProviderFallbackWarning):
            print(
                f"{PROG}: warning: --provider {message.requested} was asked for but {message.running} runs "
                "the model",
                file=sys.stderr,
            )
        else:  # not ours to translate: shown as Python would have
            warnings.showwarning(message, warning.category, warning.filename, warning.lineno)
    if args.provider == "auto":
        # onnxruntime-gpu installed but the CPU build's files on top: auto would quietly run on the CPU.
        from painter_match.inference.ort_builds import overwritten_warning

        overwritten = overwritten_warning()
        if overwritten:
            print(f"{PROG}: {overwritten}", file=sys.stderr)
    if not getattr(args, "quiet", False):
        info, choice = model.info, model.choice
        rule = f"{choice.rule_text}; " if choice is not None else ""
        print(
            f"{PROG}: model {model.path} ({rule}{info.backbone}, {info.variant}, {info.input_size} px, "
            f"{info.embedding_dim}-d) on {model.provider}",
            file=sys.stderr,
            flush=True,
        )
    return model


def log_to(args: argparse.Namespace) -> Callable[[str], None]:
    """A ``log`` callback for the API that notes on stderr as `say` does."""
    return lambda line: say(args, line)


def add_html_option(parser: argparse.ArgumentParser, shows: str) -> None:
    """``--html OUT.html``: a self-contained page of the result (`painter_match.evaluation.html_report`),
    and ``--force`` (to replace an existing page) where the command has none yet."""
    parser.add_argument(
        "--html", metavar="OUT.html", type=Path, default=None, help=f"write a self-contained page: {shows}"
    )
    if "--force" not in parser._option_string_actions:
        parser.add_argument(
            "--force", action="store_true", help="replace the --html page (or other output) if it exists"
        )


def check_html_output(args: argparse.Namespace, inputs: list[tuple[str, str | Path | None]]) -> None:
    """Refuse ``--html`` before any work when it cannot be written or is one of ``inputs``: the one
    output rule (`painter_match.atomic.check_output`), so an existing page is replaced only with
    ``--force``, an input never, and its folder must exist."""
    if args.html is None:
        return
    from painter_match.atomic import check_output

    check_output(args.html, force=getattr(args, "force", False), inputs=inputs, option="--html")


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
