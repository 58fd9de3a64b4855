"""trainer.steps_per_execution: several optimizer steps in one Lightning step, with the same result.

The loader hands the module k consecutive batches at once and the module steps through them in
order, so Lightning's per-step loop runs once per k batches. The weights, the learning rate, the
epoch evidence and the step the divergence guard names must be those of one batch a step.
"""

from __future__ import annotations

import logging
import warnings

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from medtorch.data.tensors import Steps, TensorLoader
from medtorch.divergence import divergence_guard
from medtorch.errors import MedtorchError, TrainingDivergedError
from medtorch.extensions import AUTO_STEPS_PER_EXECUTION, extension_problems, steps_per_execution
from medtorch.models.module import Classifier
from medtorch.models.networks import MLP
from test_accumulation_and_schedules import _schedule
from test_configs import _compose

warnings.filterwarnings("ignore", ".*does not have many workers.*")
logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)


def _data(n=300, d=6, k=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g)


def _fit(x, y, steps, accumulate=1, kind="none", lr=0.01, mixup=0.0, callbacks=(), epochs=2, precision="32-true"):
    torch.manual_seed(1)
    module = Classifier(MLP(6, 3, [16], dropout=0.3), ["a", "b", "c"], lr=lr, weight_decay=0.1,
                        scheduler=_schedule(kind), accumulate_grad_batches=accumulate)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         deterministic=True, callbacks=list(callbacks), precision=precision)
    train = TensorLoader(x, y, 32, shuffle=True, seed=3, mixup_alpha=mixup, steps_per_execution=steps)
    trainer.fit(module, train_dataloaders=train, val_dataloaders=TensorLoader(x[:90], y[:90], 40))
    return module, trainer


def test_the_loader_groups_the_same_batches_in_order():
    x, y = _data()
    one = list(TensorLoader(x, y, 32, shuffle=True, seed=3))
    grouped = TensorLoader(x, y, 32, shuffle=True, seed=3, steps_per_execution=4)
    groups = list(grouped)
    assert len(one) == grouped.batches == 10 and len(grouped) == len(groups) == 3  # 4 + 4 + 2
    assert all(isinstance(g, Steps) for g in groups) and [len(g) for g in groups] == [4, 4, 2]
    flat = [b for g in groups for b in g]
    assert len(flat) == len(one)
    for (xa, ya), (xb, yb) in zip(one, flat):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    with pytest.raises(ValueError, match="steps_per_execution"):
        TensorLoader(x, y, 32, steps_per_execution=0)


@pytest.mark.parametrize("steps,accumulate,kind,mixup,precision", [
    (4, 1, "none", 0.0, "32-true"), (3, 4, "one_cycle", 0.0, "32-true"), (16, 3, "cosine", 0.4, "32-true"),
    # 64-true converts each batch with apply_to_collection, which rebuilds a group as Steps(items)
    (4, 3, "one_cycle", 0.0, "64-true")])
def test_weights_history_and_learning_rate_equal_one_batch_a_step(steps, accumulate, kind, mixup, precision):
    """Bit for bit: the same batches, dropout masks and optimizer steps, in the same order."""
    x, y = _data()
    ref, ref_trainer = _fit(x, y, 1, accumulate, kind, mixup=mixup, precision=precision)
    got, trainer = _fit(x, y, steps, accumulate, kind, mixup=mixup, precision=precision)
    for (name, a), b in zip(ref.network.named_parameters(), got.network.parameters()):
        assert torch.equal(a, b), name
    assert got.history == ref.history and len(got.history) == 2
    assert trainer.global_step == ref_trainer.global_step == 2 * -(-10 // accumulate)
    assert got.optimizers().param_groups[0]["lr"] == ref.optimizers().param_groups[0]["lr"]


def test_the_divergence_guard_names_the_same_step():
    x, y = _data()
    x[137] = float("inf")  # one row: in the 6th batch of the first epoch, the 2nd of a group of 4
    messages = []
    for steps in (1, 4):
        with pytest.raises(TrainingDivergedError) as e:
            _fit(x, y, steps, lr=0.01, callbacks=[divergence_guard()])
        messages.append(str(e.value))
    # the group's last loss (step 8) is not finite either; the guard names the first one
    assert messages[0] == messages[1] and "at epoch 0, optimizer step 6." in messages[0]


def _cfg(**trainer):
    return _compose(*[f"trainer.{k}={v}" for k, v in trainer.items()])


def test_auto_groups_unless_something_counts_lightning_steps():
    assert steps_per_execution(_cfg()) == AUTO_STEPS_PER_EXECUTION > 1
    assert steps_per_execution(_cfg(steps_per_execution=3)) == 3
    for setting in ({"limit_train_batches": 5}, {"limit_train_batches": 0.5}, {"val_check_interval": 3},
                    {"fast_dev_run": True}, {"checkpoint_every_n_steps": 10}):
        assert steps_per_execution(_cfg(**setting)) == 1, setting
    with_callbacks = _cfg()
    OmegaConf.update(with_callbacks, "callbacks", {"lr": {"_target_": "pytorch_lightning.callbacks.LearningRateMonitor"}},
                     force_add=True)
    assert steps_per_execution(with_callbacks) == 1


def test_an_explicit_group_with_a_setting_counted_in_lightning_steps_is_refused():
    problems = extension_problems(_cfg(steps_per_execution=4, limit_train_batches=5))
    assert any("trainer.steps_per_execution=4 cannot be combined with trainer.limit_train_batches=5" in p
               for p in problems), problems
    assert any("trainer.steps_per_execution must be auto or an integer >= 1; got 0" in p
               for p in extension_problems(_cfg(steps_per_execution=0)))
    for overrides in (["trainer=ddp"], ["trainer.devices=[0,1]"], ["trainer.devices=auto", "trainer.accelerator=gpu"],
                      ["trainer.devices=2"], ["trainer.num_nodes=2"]):
        assert any("trainer.steps_per_execution=4 needs one training process" in p
                   for p in extension_problems(_compose(*overrides, "trainer.steps_per_execution=4"))), overrides
    assert not extension_problems(_compose("trainer.devices='1'", "trainer.steps_per_execution=4"))
    assert any("only classification groups its training batches" in p for p in
               extension_problems(_compose("+experiment=survival_gbsg2", "trainer.steps_per_execution=2")))
    assert steps_per_execution(_compose("+experiment=survival_gbsg2")) == 1
    assert not extension_problems(_cfg(steps_per_execution=4))
    assert steps_per_execution(_cfg(), processes=2) == 1
    with pytest.raises(MedtorchError, match="cannot be used with 2 processes"):
        steps_per_execution(_cfg(steps_per_execution=4), processes=2)
