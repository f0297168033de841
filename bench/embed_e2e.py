"""End to end: ``painter-match embed FOLDER`` as a user runs it, images per second over the whole folder.

The child calls `painter_match.cli.main` with ``embed DIR -o OUT.npz -m MODEL --force`` and the
CLI's defaults (a decode thread per core overlapping onnxruntime on half the cores, batches of 32),
so the figure includes finding the files, opening the model, every decode, every batch, and writing
the ``.npz``; only the interpreter's start and imports are left out (the first, untimed run pays
them). The stage bound it is compared with is computed by `stage_bound`.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.runner import peak_rss_mb


def stage_bound(decode_per_core: float, model_rate: float, cores: float) -> float:
    """Images/s a pipeline of decode and model sharing ``cores`` cores can reach at best.

    Decoding one image costs ``1 / decode_per_core`` core-seconds and embedding it costs
    ``cores / model_rate`` core-seconds (the model rate is measured on all cores). If the cores are
    shared with no loss, an image costs the sum, so the rate is
    ``cores / (1/d + cores/m) = 1 / (1/(d * cores) + 1/m)``. Overlap cannot beat this: it hides
    one stage's latency behind the other's, not its core-seconds.
    """
    if decode_per_core <= 0 or model_rate <= 0:
        return 0.0
    return 1.0 / (1.0 / (decode_per_core * cores) + 1.0 / model_rate)


def measure(
    root: str,
    model: str,
    variant: str,
    provider: str,
    warmup: int,
    repeats: int,
    extra_args: list[str] | None = None,
) -> dict[str, Any]:
    """Median seconds of ``painter-match embed root`` with ``model``; images/s over the folder."""
    from painter_match.cli import main

    with tempfile.TemporaryDirectory(prefix="painter-match-bench-embed-") as tmp:
        out = Path(tmp) / "embeddings.npz"
        argv = ["embed", root, "-o", str(out), "-m", model, "--force", "--json", "--provider", provider]
        argv += extra_args or []

        def run() -> dict[str, Any]:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                code = main(argv)
            if code != 0:
                raise RuntimeError(f"painter-match {' '.join(argv)} exited {code}")
            return json.loads(buffer.getvalue())

        for _ in range(warmup):
            run()
        times, summaries = [], []
        for _ in range(max(1, repeats)):
            begin = time.perf_counter()
            summaries.append(run())
            times.append(time.perf_counter() - begin)
    median = statistics.median(times)
    images = int(summaries[-1]["embedded"])
    cli_rates = [s["images_per_second"] for s in summaries if s.get("images_per_second")]
    return {
        "stage": "embed",
        "name": f"painter-match embed {variant} {provider}",
        "variant": variant,
        "provider": provider,
        "value": images / median,
        "unit": "images/s",
        "images": images,
        "median_s": median,
        "times_s": times,
        "cli_images_per_second": statistics.median(cli_rates) if cli_rates else None,
        "extra_args": extra_args or [],
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
