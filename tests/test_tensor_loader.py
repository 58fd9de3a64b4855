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


def test_batches_are_the_rows_of_the_seeded_order_as_indexing_gives_them():
    """Rows are gathered with index_select (a row copy, about 3x faster than x[idx] on a CPU); the batches
    must be exactly x[idx] and y[idx] for the order the seed draws: shuffled, weighted, sharded, mixed."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(203, 5, generator=g), torch.randint(0, 3, (203,), generator=g)
    w = torch.rand(203, generator=g)

    def order(seed, epoch, weights=None):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        return torch.multinomial(weights.double(), 203, replacement=True, generator=gen) if weights is not None \
            else torch.randperm(203, generator=gen)

    for kwargs, idx in (({}, order(4, 2)), ({"row_weights": w}, order(4, 2, w))):
        loader = TensorLoader(x, y, 32, shuffle=True, seed=4, **kwargs)
        loader.set_epoch(2)
        batches = list(loader)
        assert len(batches) == 7
        for (xb, yb), part in zip(batches, idx.split(32)):
            assert torch.equal(xb, x[part]) and torch.equal(yb, y[part])
    shard = list(TensorLoader(x, y, 16, shuffle=True, seed=4, rank=1, world_size=2))
    padded = torch.cat([order(4, 0), order(4, 0)[:1]])[1::2]
    assert torch.equal(torch.cat([b[0] for b in shard]), x[padded])
    for xm, yb, y2, lam in TensorLoader(x, torch.arange(203), 32, shuffle=True, seed=4, mixup_alpha=0.4):
        torch.testing.assert_close(xm, lam * x[yb] + (1 - lam) * x[y2], rtol=0, atol=1e-6)
