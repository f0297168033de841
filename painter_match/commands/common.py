"""What the inference commands share: opening the model once, saying where it runs, stopping
cleanly on SIGTERM, printing results."""

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

from painter_match.encoder import Encoder
from painter_match.model import LoadedModel, Views, open_model

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


def make_encoder(args: argparse.Namespace, model: LoadedModel) -> Encoder:
    return Encoder(model, views=views_for(args, model), batch_size=args.batch_size, workers=args.workers)


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
