"""The Lightning module steps its optimizer exactly as a plain PyTorch loop would.

The module uses Lightning's manual optimization (see ``medtorch/models/module.py``); these
tests pin what that must not change: the weights after training equal those of a hand-written
AdamW loop over the same batches, with and without gradient clipping, and the epoch's training
MCC and loss are those of the whole epoch's predictions.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from sklearn.metrics import matthews_corrcoef
from torch.nn import functional as F

from medtorch.data.tensors import TensorLoader
from medtorch.models.module import Classifier
from medtorch.models.networks import MLP

warnings.filterwarnings("ignore", ".*does not have many workers.*")
logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)


def _data(n=300, d=6, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g) * 5  # large inputs: gradients well above the clip value
    y = torch.randint(0, k, (n,), generator=g)
    return x, y


def _net(d=6, k=3):
    torch.manual_seed(1)
    return MLP(d, k, [16], dropout=0.0)


def _lightning(x, y, epochs, clip=None, algo="norm"):
    module = Classifier(_net(), ["a", "b", "c"], lr=0.01, weight_decay=0.1,
                        gradient_clip_val=clip, gradient_clip_algorithm=algo)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=0)
    trainer.fit(module, train_dataloaders=TensorLoader(x, y, 32, shuffle=True, seed=3))
    return module


def _plain(x, y, epochs, clip=None, algo="norm"):
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), lr=0.01, weight_decay=0.1)
    loader = TensorLoader(x, y, 32, shuffle=True, seed=3)
    preds = []
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        preds = []
        for xb, yb in loader:
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            if clip and algo == "norm":
                torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            elif clip:
                torch.nn.utils.clip_grad_value_(net.parameters(), clip)
            opt.step()
            preds.append((yb, logits.argmax(1)))
    return net, preds


@pytest.mark.parametrize("clip,algo", [(None, "norm"), (0.05, "norm"), (0.01, "value")])
def test_weights_equal_a_plain_adamw_loop(clip, algo):
    x, y = _data()
    module = _lightning(x, y, 2, clip, algo)
    net, _ = _plain(x, y, 2, clip, algo)
    for (name, a), b in zip(module.network.named_parameters(), net.parameters()):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-5, atol=1e-6, msg=name)


def test_clipping_changes_the_result():
    """The clip value reaches the optimizer step: clipped and unclipped training differ."""
    x, y = _data()
    a = _lightning(x, y, 1, None).network.net[0].weight.detach()
    b = _lightning(x, y, 1, 0.05).network.net[0].weight.detach()
    assert not torch.allclose(a, b)


def test_training_mcc_is_that_of_the_whole_epoch():
    x, y = _data()
    module = _lightning(x, y, 1)
    _, preds = _plain(x, y, 1)
    truth = torch.cat([t for t, _ in preds]).numpy()
    pred = torch.cat([p for _, p in preds]).numpy()
    logged = module.trainer.callback_metrics
    assert float(logged["train/mcc"]) == pytest.approx(matthews_corrcoef(truth, pred), rel=1e-6)  # logged as float32
    assert int(module.train_counts.sum()) == 0  # reset for the next epoch
    assert np.isfinite(float(logged["train/loss"]))


def test_training_counts_are_the_same_when_the_tally_is_counted_in_pieces(monkeypatch):
    """The kept steps are counted every _TALLY_ROWS rows and at epoch end: counting after every
    other batch gives the same logged MCC and loss as counting once, and both equal the plain loop's."""
    from medtorch.models import module as module_mod

    x, y = _data()
    once = _lightning(x, y, 2).trainer.callback_metrics
    monkeypatch.setattr(module_mod, "_TALLY_ROWS", 64)  # two batches of 32
    pieces = _lightning(x, y, 2)
    assert pieces._tally == [] and pieces._tally_rows == 0  # nothing left over after the epoch
    logged = pieces.trainer.callback_metrics
    monkeypatch.setattr(module_mod, "_TALLY_ROWS", 1 << 18)
    monkeypatch.setattr(module_mod, "_TALLY_STEPS", 3)  # every third batch, by steps
    steps = _lightning(x, y, 2).trainer.callback_metrics
    assert float(steps["train/mcc"]) == float(once["train/mcc"])
    assert float(steps["train/loss"]) == pytest.approx(float(once["train/loss"]), rel=1e-6)
    net, preds = _plain(x, y, 2)
    truth = torch.cat([t for t, _ in preds]).numpy()
    pred = torch.cat([p for _, p in preds]).numpy()
    assert float(logged["train/mcc"]) == float(once["train/mcc"])
    assert float(logged["train/loss"]) == pytest.approx(float(once["train/loss"]), rel=1e-6)
    assert float(logged["train/mcc"]) == pytest.approx(matthews_corrcoef(truth, pred), rel=1e-6)


def test_training_loss_is_the_row_weighted_mean_of_the_epochs_batch_losses():
    """300 rows in batches of 32: the last batch has 12 rows and weighs 12/300, not 1/10."""
    x, y = _data()
    module = _lightning(x, y, 1)
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), lr=0.01, weight_decay=0.1)
    total = 0.0
    for xb, yb in TensorLoader(x, y, 32, shuffle=True, seed=3):
        loss = F.cross_entropy(net(xb), yb)
        total += float(loss) * len(yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(module.trainer.callback_metrics["train/loss"]) == pytest.approx(total / len(y), rel=1e-5)


def clipped_norms(accelerator: str, precision: str, clip: float = 0.05) -> list[float]:
    """The total gradient norm the optimizer sees at each step, with clipping by norm at ``clip``."""
    norms = []

    class Recording(Classifier):
        def on_before_optimizer_step(self, optimizer):
            super().on_before_optimizer_step(optimizer)
            norms.append(float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in self.parameters()
                                                                       if p.grad is not None]))))

    x, y = _data()
    module = Recording(_net(), ["a", "b", "c"], lr=0.01, gradient_clip_val=clip)
    trainer = pl.Trainer(accelerator=accelerator, devices=1, max_epochs=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, precision=precision)
    trainer.fit(module, train_dataloaders=TensorLoader(x, y, 32, shuffle=True, seed=3))
    return norms


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_clipping_acts_on_the_gradients_the_optimizer_steps_with(precision):
    """The clip runs in on_before_optimizer_step, after the precision plugin's unscaling (fp16 on a GPU:
    tests/test_gpu.py). The raw norms here are far above 0.05, so every step is clipped to it."""
    norms = clipped_norms("cpu", precision)
    assert len(norms) == 10
    assert all(n == pytest.approx(0.05, rel=1e-3) for n in norms), norms


def test_mixup_batches_train_on_soft_targets_with_class_weights():
    """Mixup batches (x, y, y2, lam): the weights equal a plain loop on lam CE(y) + (1 - lam) CE(y2),
    and the training MCC counts the dominant label y."""
    x, y = _data()
    w = torch.tensor([0.5, 1.0, 2.0])
    module = Classifier(_net(), ["a", "b", "c"], lr=0.01, weight_decay=0.1, class_weights=w)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=0)
    trainer.fit(module, train_dataloaders=TensorLoader(x, y, 32, shuffle=True, seed=3, mixup_alpha=0.4))
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), lr=0.01, weight_decay=0.1)
    truth, pred, lams = [], [], []
    for xb, yb, y2, lam in TensorLoader(x, y, 32, shuffle=True, seed=3, mixup_alpha=0.4):
        logits = net(xb)
        loss = lam * F.cross_entropy(logits, yb, weight=w) + (1 - lam) * F.cross_entropy(logits, y2, weight=w)
        opt.zero_grad()
        loss.backward()
        opt.step()
        truth.append(yb)
        pred.append(logits.argmax(1))
        lams.append(float(lam))
    assert min(lams) < 0.9  # batches really were mixed
    for (name, a), b in zip(module.network.named_parameters(), net.parameters()):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-5, atol=1e-6, msg=name)
    mcc = matthews_corrcoef(torch.cat(truth).numpy(), torch.cat(pred).numpy())
    assert float(trainer.callback_metrics["train/mcc"]) == pytest.approx(mcc, rel=1e-6)


def test_cpu_batches_stay_as_they_are_and_other_devices_go_through_lightnings_move():
    module = Classifier(_net(), ["a", "b", "c"])
    x, y = _data(8)
    batch = (x, y)
    assert module.transfer_batch_to_device(batch, torch.device("cpu"), 0) is batch  # nothing to move on a CPU run
    moved = module.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert all(t.device.type == "meta" for t in moved)  # any other device: Lightning's move, as before


def test_lightning_reads_the_step_signatures_from_a_stored_signature():
    import inspect

    for hook in (Classifier.training_step, Classifier.validation_step):
        assert "__signature__" in vars(hook)  # read on every batch: stored once, not rebuilt
        assert inspect.getfullargspec(getattr(Classifier(_net(), ["a", "b", "c"]), hook.__name__)).args == \
            ["self", "batch", "batch_idx"]


def test_unprofiled_hands_out_one_null_context_and_lightning_trains_with_it():
    from medtorch.models.module import Unprofiled

    p = Unprofiled()
    assert p.profile("a") is p.profile("b")
    with p.profile("training_step") as value:
        assert value is None
    x, y = _data()
    module = Classifier(_net(), ["a", "b", "c"], lr=0.01, weight_decay=0.1)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, profiler=p)
    trainer.fit(module, train_dataloaders=TensorLoader(x, y, 32, shuffle=True, seed=3))
    assert trainer.profiler is p and trainer.global_step == 10
