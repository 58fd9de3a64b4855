"""Batches as index slices of tensors that already hold the whole split.

Per-sample ``Dataset.__getitem__`` plus collation costs more than the forward and backward
pass of a small tabular model; here a batch is ``X[idx]`` for a slice of one
``torch.randperm``. Shuffling is seeded by (seed, epoch), so it is reproducible and does not
depend on global RNG state; Lightning calls ``set_epoch`` through the ``sampler`` attribute.

Under DDP (an initialised process group) each process takes a disjoint shard of every
epoch's permutation: training shards are padded to equal size (every rank must take the same
number of optimizer steps), evaluation shards are not (each row is counted exactly once).

Rebalancing (training loaders only): with ``row_weights`` an epoch is ``len(y)`` rows drawn
with replacement in proportion to the weights (``torch.multinomial``, same seeding), so
minority classes and rare subgroups are oversampled without copying any row; with
``noise_std`` > 0 Gaussian noise is added to the first ``noise_columns`` (standardised
numeric) features of each training batch; with ``mixup_alpha`` > 0 each training batch is mixed
with a seeded permutation of itself (mixup, Zhang et al. 2018): lambda ~ Beta(alpha, alpha), folded to
max(lambda, 1 - lambda) so the first label is the dominant one, x = lambda x + (1 - lambda) x[perm],
and the batch is ``(x, y, y[perm], lambda)`` instead of ``(x, y)``. Noise, when on, is added before
mixing. Every draw comes from the loader's generator, so the same seed gives the same batches.

With ``steps_per_execution`` k > 1 the loader yields ``Steps``: k consecutive batches at a time
(the last group may be shorter), the same batches in the same order; the module takes one optimizer
step per batch inside one Lightning step (``trainer.steps_per_execution``). Lightning's loop costs
0.25-0.32 ms a step on a 2-core CPU before any work is done (``scripts/bench_train.py --floor``),
so grouping divides that by k. The k batches of a group are gathered together: k batches' memory.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch

from medtorch.distributed import shard


class Steps(tuple):
    """Consecutive training batches the module steps through in one Lightning step.

    A plain tuple subclass: Lightning's batch hooks rebuild a batch as ``type(batch)(items)``
    (precision input conversion, device moves), which keeps the type and nothing else, so a group's
    place in the epoch comes from Lightning's ``batch_idx`` and the loader's ``steps_per_execution``.
    """

    __slots__ = ()


class TensorLoader:
    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        pad_shards: bool = True,
        row_weights: torch.Tensor | None = None,
        noise_std: float = 0.0,
        noise_columns: int = 0,
        mixup_alpha: float = 0.0,
        steps_per_execution: int = 1,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self._rank, self._world_size, self.pad_shards = rank, world_size, pad_shards
        if row_weights is not None and (len(row_weights) != len(y) or not bool((row_weights >= 0).all())):
            raise ValueError("row_weights must hold one non-negative weight per row")
        self.row_weights = row_weights.double() if row_weights is not None else None
        self.noise_std, self.noise_columns = noise_std, noise_columns
        if mixup_alpha < 0:
            raise ValueError(f"mixup_alpha must be >= 0 (0 = off); got {mixup_alpha}")
        self.mixup_alpha = float(mixup_alpha)
        if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, int) or steps_per_execution < 1:
            raise ValueError(f"steps_per_execution must be an integer >= 1; got {steps_per_execution!r}")
        self.steps_per_execution = steps_per_execution
        self.epoch = 0
        self.sampler = self  # Lightning's fit loop calls dataloader.sampler.set_epoch(epoch)
        self.batch_sampler = None  # what Lightning inspects on anything that has a sampler

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def rank(self) -> int:
        return self._rank if self._rank is not None else shard()[0]

    @property
    def world_size(self) -> int:
        return self._world_size if self._world_size is not None else shard()[1]

    def _rows(self) -> int:
        n, world = len(self.y), self.world_size
        if world == 1:
            return n
        return math.ceil(n / world) if self.pad_shards else len(range(self.rank, n, world))

    @property
    def batches(self) -> int:
        """Batches an epoch (each one optimizer step), whatever the grouping."""
        n = self._rows()
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __len__(self) -> int:
        """What Lightning counts as its batches: groups of ``steps_per_execution`` batches."""
        return -(-self.batches // self.steps_per_execution)

    def __iter__(self) -> Iterator:
        if self.steps_per_execution == 1:
            return self._batches()
        return self._grouped()

    def _grouped(self) -> Iterator[Steps]:
        k, group = self.steps_per_execution, []
        for batch in self._batches():
            group.append(batch)
            if len(group) == k:
                yield Steps(group)
                group = []
        if group:
            yield Steps(group)

    def _batches(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.y)
        rank, world = self.rank, self.world_size
        if not self.shuffle and world == 1 and self.row_weights is None:
            stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
            for i in range(0, stop, self.batch_size):
                yield self.x[i : i + self.batch_size], self.y[i : i + self.batch_size]
            return
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        if self.row_weights is not None:
            order = torch.multinomial(self.row_weights, n, replacement=True, generator=g)
        elif self.shuffle:
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        if world > 1:
            if self.pad_shards:  # wrap around so every rank sees the same number of rows
                order = torch.cat([order, order[: math.ceil(n / world) * world - n]])
            order = order[rank::world]
        # index_select, not x[idx]: the same rows, about 3x faster a batch on a CPU (advanced indexing
        # goes through a general strided-gather kernel; a row gather is one copy a row)
        chunks = order.to(self.x.device).split(self.batch_size)
        if self.drop_last and len(chunks) and len(chunks[-1]) < self.batch_size:
            chunks = chunks[:-1]
        # torch has no seeded Beta sampler; NumPy's, seeded from the same generator, keeps it reproducible
        beta = np.random.default_rng(int(torch.randint(2**62, (1,), generator=g))) if self.mixup_alpha > 0 else None
        for idx in chunks:
            x, y = self.x.index_select(0, idx), self.y.index_select(0, idx.to(self.y.device))
            if self.noise_std > 0 and self.noise_columns > 0:
                noise = torch.randn((len(idx), self.noise_columns), generator=g, dtype=x.dtype) * self.noise_std
                x = torch.cat([x[:, : self.noise_columns] + noise, x[:, self.noise_columns :]], dim=1)
            if beta is None:
                yield x, y
                continue
            lam = float(beta.beta(self.mixup_alpha, self.mixup_alpha))
            lam = max(lam, 1.0 - lam)
            perm = torch.randperm(len(idx), generator=g).to(x.device)
            yield mix(x, perm, lam), y, y.index_select(0, perm.to(y.device)), torch.tensor(lam, dtype=x.dtype)


def mix(x: torch.Tensor, perm: torch.Tensor, lam: float) -> torch.Tensor:
    """Mixup of a batch with a permutation of itself: lam * x + (1 - lam) * x[perm]."""
    return lam * x + (1.0 - lam) * x.index_select(0, perm)
