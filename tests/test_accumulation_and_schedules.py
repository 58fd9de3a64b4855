"""Issue 19, points 2 and 3: gradient accumulation and learning-rate schedules in the manual-optimization module.

Lightning leaves both to a module that steps its own optimizer, so medtorch does them; the
weights after training must equal a hand-written AdamW loop doing the same.
"""

from __future__ import annotations

import logging
import warnings

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from torch.nn import functional as F

from medtorch.data.tensors import TensorLoader
from medtorch.extensions import scheduler_factory
from medtorch.models.module import Classifier
from medtorch.models.networks import MLP

warnings.filterwarnings("ignore", ".*does not have many workers.*")
logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
EPOCHS, BATCH = 2, 32


def _data(n=300, d=6, k=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g)


def _net():
    torch.manual_seed(1)
    return MLP(6, 3, [16], dropout=0.0)


def _schedule(kind):
    nodes = {
        "none": {},
        "cosine": {"interval": "epoch", "lr_scheduler": {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR",
                                                         "_partial_": True, "T_max": EPOCHS}},
        "one_cycle": {"interval": "step", "lr_scheduler": {"_target_": "torch.optim.lr_scheduler.OneCycleLR",
                                                           "_partial_": True, "max_lr": 0.01, "total_steps": None}},
    }
    return scheduler_factory(OmegaConf.create({"scheduler": nodes[kind]}))


def _lightning(x, y, k, kind):
    module = Classifier(_net(), ["a", "b", "c"], lr=0.01, weight_decay=0.1, scheduler=_schedule(kind),
                        accumulate_grad_batches=k)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=EPOCHS, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=0)
    trainer.fit(module, train_dataloaders=TensorLoader(x, y, BATCH, shuffle=True, seed=3))
    return module


def _plain(x, y, k, kind):
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), lr=0.01, weight_decay=0.1)
    loader = TensorLoader(x, y, BATCH, shuffle=True, seed=3)
    batches = len(loader)
    total = EPOCHS * -(-batches // k) + 1  # the module's count: a step every k batches and at each epoch's end, + 1
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS) if kind == "cosine" else
             torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=total) if kind == "one_cycle" else None)
    for epoch in range(EPOCHS):
        loader.set_epoch(epoch)
        for i, (xb, yb) in enumerate(loader):
            (F.cross_entropy(net(xb), yb) / k).backward()
            if (i + 1) % k == 0 or i + 1 == batches:
                opt.step()
                opt.zero_grad()
                if kind == "one_cycle":
                    sched.step()
        if kind == "cosine":
            sched.step()
    return net, opt.param_groups[0]["lr"]


# (3, one_cycle): 10 batches an epoch step 4 times, so 8 steps; a floor of 20 / 3 made the schedule run out
@pytest.mark.parametrize("k,kind", [(3, "none"), (1, "cosine"), (2, "one_cycle"), (3, "one_cycle")])
def test_weights_and_learning_rate_equal_a_plain_loop(k, kind):
    x, y = _data()
    module = _lightning(x, y, k, kind)
    net, lr = _plain(x, y, k, kind)
    for (name, a), b in zip(module.network.named_parameters(), net.parameters()):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-5, atol=1e-6, msg=name)
    assert module.optimizers().param_groups[0]["lr"] == pytest.approx(lr, rel=1e-9)
