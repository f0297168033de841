"""What the inference commands share: opening the model once, saying where it runs, bounding the
memory a model call takes, stopping cleanly on SIGTERM, printing results."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from painter_match.data.images import DEFAULT_MAX_PIXELS
from painter_match.data.views import Views
from painter_match.encoder import Encoder
from painter_match.errors import UsageError
from painter_match.model import LoadedModel, open_model

PROG = "painter-match"


def say(args: argparse.Namespace, message: str) -> None:
    """A note for the user on stderr, silenced by --quiet and by --json."""
    if not (getattr(args, "quiet", False) or getattr(args, "json", False)):
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def print_json(payload: dict[str, object]) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def default_threads() -> int:
    """onnxruntime's intra-op threads when --threads is not given: half the cores.

    The decode threads (one per core) run at the same time; on the 2-core machine the project is
    measured on, 2 decode threads + 1 onnxruntime thread embedded 45 images/s against 35 with 2 + 2
    (compact 96 px model; 109 against 79 with a tiny one), as the two pools stop fighting for cores.
    """
    return max(1, (os.cpu_count() or 1) // 2)


def load_model(args: argparse.Namespace) -> LoadedModel:
    """Open ``-m/--model`` once for the run on ``--provider``, and say which provider runs it."""
    model = open_model(args.model, provider=args.provider, threads=args.threads or default_threads())
    wanted = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}.get(args.provider)
    if wanted and model.provider != wanted:
        # onnxruntime falls back silently when a GPU provider fails to start; the user asked for it.
        print(
            f"{PROG}: warning: --provider {args.provider} was asked for but {model.provider} runs the model",
            file=sys.stderr,
        )
    info = model.info
    say(
        args,
        f"model {model.path} ({info.backbone}, {info.variant}, {info.input_size} px, "
        f"{info.embedding_dim}-d) on {model.provider}",
    )
    return model


def views_for(args: argparse.Namespace, model: LoadedModel) -> Views:
    """The model's view policy, with ``--views N`` overriding its number of crops."""
    default = model.info.views
    crops = getattr(args, "views", None)
    return default if crops is None else Views(crops=crops, crop_scale=default.crop_scale)


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


def make_encoder(args: argparse.Namespace, model: LoadedModel, most_images: int | None = None) -> Encoder:
    """The encoder for ``--views``, ``--batch-size``, ``--workers`` and ``--max-pixels``, memory checked
    (`check_memory`; ``most_images``: how many images the run embeds at most, when known)."""
    views = views_for(args, model)
    check_memory(args, model, views, most_images)
    return Encoder(
        model,
        views=views,
        batch_size=args.batch_size,
        workers=args.workers,
        max_pixels=getattr(args, "max_pixels", None) or DEFAULT_MAX_PIXELS,
    )


def model_record(model: LoadedModel) -> dict[str, object]:
    """The model facts every --json result carries."""
    return {
        "path": str(model.path),
        "identity": model.info.identity,
        "provider": model.provider,
        "backbone": model.info.backbone,
        "variant": model.info.variant,
    }


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
