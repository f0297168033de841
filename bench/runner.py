"""Run one comparison in a child process of its own, and time things the way timm's benchmark does.

`run_child` starts ``python -m bench.runner TARGET ARGS.json OUT.json``; the child imports only the
module that ``TARGET`` (``module:function``) names, calls the function with the arguments, and
writes its result rows to ``OUT.json``, each with the child's peak RSS. The peak is the child's
``VmHWM`` (the high-water mark of its own address space), not ``ru_maxrss``: Linux carries
``ru_maxrss`` across ``execve`` from the process that forked, so a child of a 500 MB parent
would report at least 500 MB whatever it did (and ``RUSAGE_CHILDREN`` of the parent is a running
maximum over every child, not one comparison's). `timed` is the measuring loop every stage uses:
warm-up calls, then fixed timed repeats, median.
"""

from __future__ import annotations

import cProfile
import importlib
import io
import json
import os
import pstats
import resource
import site
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# The folder that holds the `bench` package: the repository in a clone, site-packages when
# painter-match is installed. Nothing else of the repository is assumed to be there.
IMPORT_ROOT = Path(__file__).resolve().parent.parent


class BenchError(RuntimeError):
    """A comparison that could not be measured (its child failed, or timed out)."""


def timed(
    fn: Callable[[], object], *, warmup: int, repeats: int, min_seconds: float = 0.0
) -> dict[str, float | int]:
    """Median wall time of one call to ``fn`` after ``warmup`` untimed calls.

    With ``min_seconds`` > 0, each timed repeat calls ``fn`` as many times as it takes to last at
    least that long (counted from the warm-up), so that a call of microseconds is not timed alone.

    Returns:
        ``median_s`` (seconds per call), ``min_s``, ``max_s``, ``repeats`` and ``calls`` per repeat.
    """
    started = time.perf_counter()
    for _ in range(warmup):
        fn()
    calls = 1
    if min_seconds > 0:
        per_call = (time.perf_counter() - started) / warmup if warmup else 0.0
        if per_call <= 0:
            begin = time.perf_counter()
            fn()
            per_call = time.perf_counter() - begin
        calls = max(1, int(min_seconds / max(per_call, 1e-9)))
    times = []
    for _ in range(max(1, repeats)):
        begin = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - begin) / calls)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": len(times),
        "calls": calls,
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB: ``VmHWM``, else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _installed() -> bool:
    """Whether `bench` was imported from an installed copy (a site-packages folder)."""
    folders = [*site.getsitepackages(), site.getusersitepackages()]
    return any(Path(folder).resolve() == IMPORT_ROOT for folder in folders if folder)


def child_env(threads: int | None = None) -> dict[str, str]:
    """The environment of a child: `bench` importable, and optionally the BLAS/OpenMP threads."""
    env = dict(os.environ)
    if not _installed():
        # Run from a clone: the child's `python -m bench.runner` must find the repository's copy
        # whatever folder the bench was started in. An installed copy is found as it is (putting
        # site-packages on PYTHONPATH would move it ahead of the standard library).
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(IMPORT_ROOT), env.get("PYTHONPATH", "")) if p)
    if threads is not None:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    return env


def run_child(
    target: str,
    kwargs: Mapping[str, Any],
    *,
    threads: int | None = None,
    timeout: float | None = None,
    profile_dir: Path | None = None,
    label: str = "",
) -> list[dict[str, Any]]:
    """Run ``target`` (``"module:function"``) with ``kwargs`` in a fresh Python process.

    Args:
        target: the function to call; it returns one result dict or a list of them.
        kwargs: its keyword arguments, JSON-serialisable.
        threads: sets OMP/OpenBLAS/MKL threads in the child's environment.
        timeout: seconds before the child is killed and `BenchError` raised.
        profile_dir: when given, the child runs under cProfile and leaves ``LABEL.prof`` and
            ``LABEL.txt`` (the top functions) there; only the child's main thread is profiled.
        label: names the profile files and appears in errors.

    Returns:
        The rows, each with ``peak_rss_mb`` (the child's own peak, imports included, unless the
        row set its own) and ``child_seconds`` (its wall time, start-up and imports included).

    Raises:
        BenchError: the child failed (its last output lines are in the message) or timed out.
    """
    with tempfile.TemporaryDirectory(prefix="painter-match-bench-") as tmp:
        args_path = Path(tmp) / "args.json"
        out_path = Path(tmp) / "out.json"
        log_path = Path(tmp) / "log.txt"
        args_path.write_text(json.dumps(dict(kwargs)))
        command = [sys.executable, "-m", "bench.runner", target, str(args_path), str(out_path)]
        if profile_dir is not None:
            profile_dir.mkdir(parents=True, exist_ok=True)
            command.append(str(profile_dir / (label or target.replace(":", "-"))))
        started = time.perf_counter()
        why = ""
        with open(log_path, "wb") as log:
            try:
                done = subprocess.run(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=child_env(threads),
                    timeout=timeout,
                    check=False,
                )
                if done.returncode != 0:
                    why = f"exit {done.returncode}"
            except subprocess.TimeoutExpired:
                why = f"timed out after {timeout:g} s"
        seconds = time.perf_counter() - started
        if why or not out_path.exists():
            tail = log_path.read_text(errors="replace").strip().splitlines()[-15:]
            raise BenchError(f"{label or target}: child {why or 'wrote no result'}:\n  " + "\n  ".join(tail))
        result = json.loads(out_path.read_text())
    rows: list[dict[str, Any]] = result if isinstance(result, list) else [result]
    for row in rows:
        row["child_seconds"] = round(seconds, 2)
    return rows


def _child_main(argv: list[str]) -> int:
    """``python -m bench.runner TARGET ARGS.json OUT.json [PROFILE_STEM]``: the child's side."""
    target, args_path, out_path = argv[:3]
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    kwargs = json.loads(Path(args_path).read_text())
    if len(argv) > 3:
        stem = Path(argv[3])
        profiler = cProfile.Profile()
        result = profiler.runcall(function, **kwargs)
        profiler.dump_stats(str(stem.with_suffix(".prof")))
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
        stem.with_suffix(".txt").write_text(text.getvalue())
    else:
        result = function(**kwargs)
    peak = round(peak_rss_mb(), 1)
    for row in result if isinstance(result, list) else [result]:
        row.setdefault("peak_rss_mb", peak)
    Path(out_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(_child_main(sys.argv[1:]))
