"""Where a run's processes run: the process group under ``torchrun``, and each one's device.

Run by ``torchrun`` (``WORLD_SIZE`` > 1) a run trains with DistributedDataParallel, over gloo on
CPU and NCCL on CUDA; each process takes its own share of every epoch's batches and only the main
one (rank 0) logs and writes the run folder. Otherwise it is the one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from painter_match.errors import PainterMatchError


@dataclass
class _Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Wait until every process gets here (a lone process goes straight on)."""
        if self.world_size > 1:
            dist.barrier()


def _start_distributed(device_kind: str) -> _Distributed:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return _Distributed()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return _Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def _pick_device(requested: str, local_rank: int) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise PainterMatchError(
                "--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu"
            )
        return torch.device("cuda", local_rank)
    if requested != "cpu":
        raise PainterMatchError(f"--device must be auto, cpu or cuda, got {requested!r}")
    return torch.device("cpu")
