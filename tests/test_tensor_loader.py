"""Batches are index slices: every row once per epoch, seeded, sharded under DDP."""

import torch

from medtorch.data.tensors import TensorLoader


def _rows(loader):
    return torch.cat([x[:, 0] for x, _ in loader]).long()


def test_each_epoch_is_a_seeded_permutation_of_all_rows():
    x = torch.arange(103, dtype=torch.float32).unsqueeze(1)
    y = torch.zeros(103, dtype=torch.long)
    a = TensorLoader(x, y, 10, shuffle=True, seed=3)
    e0 = _rows(a)
    assert sorted(e0.tolist()) == list(range(103)) and len(a) == 11
    assert torch.equal(e0, _rows(a))  # same epoch, same order
    a.set_epoch(1)
    assert not torch.equal(e0, _rows(a))  # new epoch, new order
    b = TensorLoader(x, y, 10, shuffle=True, seed=3)
    b.set_epoch(1)
    assert torch.equal(_rows(a), _rows(b))  # reproducible from (seed, epoch)


def test_unshuffled_batches_are_contiguous_slices():
    x = torch.arange(25, dtype=torch.float32).unsqueeze(1)
    loader = TensorLoader(x, torch.zeros(25, dtype=torch.long), 10)
    batches = [b[0][:, 0].tolist() for b in loader]
    assert batches == [list(range(0, 10)), list(range(10, 20)), list(range(20, 25))]


def test_ddp_shards_are_disjoint_and_cover_every_row():
    x = torch.arange(100, dtype=torch.float32).unsqueeze(1)
    y = torch.zeros(100, dtype=torch.long)
    shards = [_rows(TensorLoader(x, y, 8, shuffle=True, seed=0, rank=r, world_size=4)) for r in range(4)]
    assert all(len(s) == 25 for s in shards)
    assert sorted(torch.cat(shards).tolist()) == list(range(100))


def test_evaluation_shards_count_each_row_once():
    x = torch.arange(10, dtype=torch.float32).unsqueeze(1)
    y = torch.zeros(10, dtype=torch.long)
    shards = [_rows(TensorLoader(x, y, 4, rank=r, world_size=3, pad_shards=False)) for r in range(3)]
    assert sorted(torch.cat(shards).tolist()) == list(range(10))
    assert [len(TensorLoader(x, y, 4, rank=r, world_size=3, pad_shards=False)) for r in range(3)] == [1, 1, 1]
