"""The one meaning of ``--workers``: how many images are decoded (or, for ``synth``, painted) at once.

Every command and library function that takes ``workers`` reads it this way: ``N`` images at
once, in threads (decoding releases the GIL) or, where the work is PyTorch's data loader
(``train``, and ``evaluate`` of a checkpoint) or rendering (``synth``), in processes; ``1`` is
one at a time, in the calling thread or process; None (the option left out) is one per
available core. A process pool of one would only add a process beside an idle caller, so
`loader_processes` maps 1 to PyTorch's "in the main process".
"""

from __future__ import annotations

import os

HELP = (
    "images decoded at once (threads; processes for PyTorch's loader and synth's painting); "
    "1 = one at a time in the main thread (default: one per core)"
)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(workers: int | None) -> int:
    """``workers`` itself, or one per available core for None.

    Raises:
        ValueError: for a count below 1.
    """
    if workers is None:
        return available_cores()
    if workers < 1:
        raise ValueError(f"workers must be at least 1 (or None for one per core), got {workers}")
    return workers


def loader_processes(workers: int | None) -> int:
    """PyTorch ``DataLoader(num_workers=...)`` for ``workers``: 0 (the main process) for one."""
    count = worker_count(workers)
    return 0 if count == 1 else count
