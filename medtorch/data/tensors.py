"""Batches as index slices of tensors that already hold the whole split.

Per-sample ``Dataset.__getitem__`` plus collation costs more than the forward and backward
pass of a small tabular model; here a batch is ``X[idx]`` for a slice of one
``torch.randperm``. Shuffling is seeded by (seed, epoch), so it is reproducible and does not
depend on global RNG state; Lightning calls ``set_epoch`` through the ``sampler`` attribute.
Under DDP each process takes a disjoint, equally sized shard of every epoch's permutation.

Rebalancing (training loaders only): with ``row_weights`` an epoch is ``len(y)`` rows drawn
with replacement in proportion to the weights (``torch.multinomial``, same seeding), so
minority classes and rare subgroups are oversampled without copying any row; with
``noise_std`` > 0 Gaussian noise is added to the first ``noise_columns`` (standardised
numeric) features of each training batch.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch


class TensorLoader:
    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        row_weights: torch.Tensor | None = None,
        noise_std: float = 0.0,
        noise_columns: int = 0,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.rank, self.world_size = rank, world_size
        if row_weights is not None and (len(row_weights) != len(y) or not bool((row_weights >= 0).all())):
            raise ValueError("row_weights must hold one non-negative weight per row")
        self.row_weights = row_weights.double() if row_weights is not None else None
        self.noise_std, self.noise_columns = noise_std, noise_columns
        self.epoch = 0
        self.sampler = self  # Lightning's fit loop calls dataloader.sampler.set_epoch(epoch)
        self.batch_sampler = None  # what Lightning inspects on anything that has a sampler

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rows(self) -> int:
        return math.ceil(len(self.y) / self.world_size) if self.world_size > 1 else len(self.y)

    def __len__(self) -> int:
        n = self._rows()
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.y)
        if not self.shuffle and self.world_size == 1 and self.row_weights is None:
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
        if self.world_size > 1:  # pad by wrapping so every rank sees the same number of rows
            per = self._rows()
            order = torch.cat([order, order[: per * self.world_size - n]])[self.rank :: self.world_size]
        chunks = order.split(self.batch_size)
        if self.drop_last and len(chunks) and len(chunks[-1]) < self.batch_size:
            chunks = chunks[:-1]
        for idx in chunks:
            x = self.x[idx]
            if self.noise_std > 0 and self.noise_columns > 0:
                noise = torch.randn((len(idx), self.noise_columns), generator=g, dtype=x.dtype) * self.noise_std
                x = torch.cat([x[:, : self.noise_columns] + noise, x[:, self.noise_columns :]], dim=1)
            yield x, self.y[idx]
