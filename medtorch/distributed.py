"""Which process am I? Rank detection before Lightning starts, for DDP and SLURM.

Under DDP every process runs train.py from the top. Only global rank 0 writes evidence;
the other ranks load and preprocess the same data (deterministically), take part in
training, and write nothing into the run directory.
"""

from __future__ import annotations

import os

import torch


_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def is_rank_zero() -> bool:
    """True unless a launcher marked this process as another rank.

    Read from the environment before Lightning starts: torchrun and Lightning's launchers set
    RANK/LOCAL_RANK/NODE_RANK, srun sets SLURM_PROCID. Rank zero is the process whose every
    rank variable is 0 or unset.
    """
    return all(int(os.environ.get(key) or 0) == 0 for key in _RANK_VARIABLES)


def shard() -> tuple[int, int]:
    """(rank, world size) of the initialised process group, or (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1
