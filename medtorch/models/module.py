"""The Lightning module: cross-entropy training with AdamW and whole-epoch metrics.

Lightning's Trainer owns the loop, checkpoints, early stopping, precision and DDP. The module
steps its optimizer itself (Lightning's manual optimization: ``manual_backward`` and
``LightningOptimizer.step``, so loss scaling, DDP gradient sync and step counting stay
Lightning's). The automatic path wraps every step in a closure and six hook dispatches; on the
benchmark workload (``scripts/bench_train.py``) that costs about 0.2 ms a step and took the
ratio to a plain loop from about 1.05 to 1.2. Gradient clipping runs in
``on_before_optimizer_step``, which the precision plugin calls after unscaling fp16 gradients.

With ``trainer.steps_per_execution`` > 1 the loader hands ``training_step`` a ``Steps`` group of
consecutive batches and it takes one optimizer step per batch, in order, through the same
wrappers: the same steps as one batch a Lightning step, with Lightning's own per-step loop run
once per group (``medtorch.extensions.steps_per_execution``).

The module logs once per epoch: training loss and MCC from confusion counts in plain tensors
(a torchmetrics ``update`` per step cost about another 0.1 ms under a profiler). Each step keeps
its labels, predictions and loss; they are counted in one bincount every 1,024 steps or 262,144
rows, and at epoch end, and the counts are summed across processes at epoch end. On validation it
logs the loss, MCC, balanced accuracy and AUROC over the whole split through ``EpochEvidence``.

Mixup batches (``balance.mixup_alpha`` > 0) arrive as ``(x, y, y2, lam)``: the loss is
``lam * CE(logits, y) + (1 - lam) * CE(logits, y2)``, each term with the class weights and PyTorch's
weighted mean. Without class weights this equals cross-entropy against the soft target
``lam * onehot(y) + (1 - lam) * onehot(y2)``; with them, each label keeps its class's weight and
``lam = 1`` gives exactly the unmixed weighted loss (PyTorch's soft-target cross-entropy would instead
drop the normalisation by the weights, so its scale would change with the batch's class mix). The
logged training loss is this mixed loss; the training confusion counts use the dominant component's
label, which is ``y`` (the loader draws ``lam`` >= 0.5).
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.profilers import PassThroughProfiler
from torch import nn
from torch.nn import functional as F

from medtorch.data.tensors import Steps
from medtorch.evaluation import metrics as M
from medtorch.evaluation.epoch import EpochEvidence


# Attributes Lightning sets around every hook call (about 30 times a step). They hold strings or
# None, never parameters, buffers or modules, so nn.Module.__setattr__'s bookkeeping (about 2 us
# a call under a profiler) has nothing to do for them.
_PLAIN_ATTRIBUTES = frozenset({"_current_fx_name", "_tally_rows", "_stepped"})

# kept training steps between two counts: at most this many rows (two int64 vectors of this
# length) and this many steps (three small tensors each), whatever the batch size or device
_TALLY_ROWS, _TALLY_STEPS = 1 << 18, 1024


class Classifier(pl.LightningModule):
    def __init__(
        self,
        network: nn.Module,
        class_names: list[str],
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.999),
        class_weights: torch.Tensor | None = None,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        scheduler=None,
        accumulate_grad_batches: int = 1,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.network = network
        self.lr, self.weight_decay, self.betas = lr, weight_decay, tuple(betas)
        self.gradient_clip_val, self.gradient_clip_algorithm = gradient_clip_val, gradient_clip_algorithm
        self.k = len(class_names)
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.register_buffer("train_counts", torch.zeros(self.k * self.k, dtype=torch.long), persistent=False)
        self.register_buffer("train_loss_sum", torch.zeros((), dtype=torch.float64), persistent=False)
        # per-process tallies, summed at epoch end: DDP must not broadcast rank 0's over them
        self._ddp_params_and_buffers_to_ignore = ["train_counts", "train_loss_sum"]
        # each training step's (labels, predictions, loss), counted every _TALLY_ROWS rows and at epoch end
        self._tally: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._tally_rows = 0
        self.val_evidence = EpochEvidence(class_names, with_scores=True)
        self.history: list[dict[str, Any]] = []
        # optional: (optimizer, total_steps) -> (lr scheduler, "epoch" | "step", monitored metric or None);
        # stepped here because manual optimization leaves scheduling (and accumulation) to the module
        self.scheduler_factory = scheduler
        self._schedule: tuple[Any, str, str | None] | None = None
        self.accumulate = int(accumulate_grad_batches)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        if isinstance(batch, Steps):  # a group of batches (trainer.steps_per_execution): each moved, the group kept
            return Steps([self.transfer_batch_to_device(b, device, dataloader_idx) for b in batch])
        # medtorch's loaders yield tuples of tensors; on a CPU run they are already where they go, and
        # Lightning's generic move (apply_to_collection over the batch) costs about 10 us a batch for nothing
        if device.type == "cpu" and isinstance(batch, (tuple, list)) and all(
                isinstance(t, torch.Tensor) and t.device.type == "cpu" for t in batch):
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def training_step(self, batch, batch_idx):
        """One optimizer step a batch; a ``Steps`` group takes one per batch, in order, in this one Lightning step.

        A group returns its last loss as ``loss``, every loss as ``losses`` and the global step after
        each as ``global_steps``, so the divergence guard still names the first step whose loss was not finite.
        """
        if not isinstance(batch, Steps):
            return self._step(batch, batch_idx)
        start, last = self.trainer.global_step, len(batch) - 1
        first = batch_idx * self.trainer.train_dataloader.steps_per_execution  # only the last group is shorter
        losses, steps = [], []
        for j, b in enumerate(batch):
            losses.append(self._step(b, first + j, j == last).detach())
            steps.append(start := start + self._stepped)
        return {"loss": losses[-1], "losses": torch.stack(losses), "global_steps": steps}

    def _step(self, batch, batch_idx: int, last_in_group: bool = True) -> torch.Tensor:
        if len(batch) == 4:  # mixup: (x, y, y2, lam)
            x, y, y2, lam = batch
            logits = self.network(x)
            loss = mixup_cross_entropy(logits, y, y2, lam, self.class_weights)  # y dominates: lam >= 0.5
        else:
            x, y = batch
            logits = self.network(x)
            loss = F.cross_entropy(logits, y, weight=self.class_weights)
        opt = self.optimizers()
        if self.accumulate == 1:
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()
            stepped = True
        else:  # trainer.accumulate_grad_batches: one optimizer step per k batches (and at the epoch's end)
            self.manual_backward(loss / self.accumulate)
            stepped = (batch_idx + 1) % self.accumulate == 0 or (last_in_group and self.trainer.is_last_batch)
            if stepped:
                opt.step()
                opt.zero_grad()
        self._stepped = stepped
        if stepped and self._schedule is not None and self._schedule[1] == "step":
            self._schedule[0].step()
        with torch.no_grad():  # kept, not reduced: one argmax a step; counted by _count_tally
            self._tally.append((y, logits.argmax(dim=1), loss.detach()))
        self._tally_rows += y.numel()
        if self._tally_rows >= _TALLY_ROWS or len(self._tally) >= _TALLY_STEPS:
            self._count_tally()
        return loss

    def _count_tally(self) -> None:
        """Fold the kept steps into the epoch's confusion counts and loss sum (each loss weighted by its batch size).

        One bincount over many steps instead of one per step: on a 64-row, 8-unit MLP the per-step
        bincount and float64 add cost about 25 us a step (medtorch added 242-260 us a step to a plain
        loop with them, 204-229 us without); on the benchmark workload 0.10 s of a run, against
        0.02-0.03 s for the tally. Nothing here waits for a GPU (no .item(); the batch sizes go over from pinned
        memory without blocking); the counts are the same integers.
        """
        if not self._tally:
            return
        ys, preds, losses = zip(*self._tally)
        y, pred = torch.cat(ys), torch.cat(preds)
        sizes = torch.tensor([len(t) for t in ys], dtype=torch.float64)
        device = self.train_loss_sum.device
        if device.type == "cuda":
            sizes = sizes.pin_memory().to(device, non_blocking=True)
        with torch.no_grad():
            self.train_counts.add_(torch.bincount(y * self.k + pred, minlength=self.k * self.k))
            self.train_loss_sum.add_((torch.stack(losses).double() * sizes).sum())
        self._tally.clear()
        self._tally_rows = 0

    def on_before_optimizer_step(self, optimizer) -> None:
        if self.gradient_clip_val:
            self.clip_gradients(optimizer, self.gradient_clip_val, self.gradient_clip_algorithm)

    def on_train_epoch_end(self) -> None:
        self._count_tally()
        reduce = self.trainer.strategy.reduce  # a sum across processes under DDP, identity otherwise
        counts = reduce(self.train_counts.clone(), reduce_op="sum")
        loss_sum = reduce(self.train_loss_sum.clone(), reduce_op="sum")
        self.train_counts.zero_()
        self.train_loss_sum.zero_()
        cm = counts.reshape(self.k, self.k).cpu().numpy()
        loss, mcc = float(loss_sum) / max(int(cm.sum()), 1), M.mcc(cm)
        self.log_dict({"train/loss": loss, "train/mcc": mcc}, prog_bar=True, sync_dist=False)
        if self._schedule is not None and self._schedule[1] == "epoch" and not self._schedule[2]:
            self._schedule[0].step()
        if self.history and self.history[-1]["epoch"] == self.current_epoch:
            self.history[-1].update({"train_loss": loss, "train_mcc": mcc})

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.network(x)
        loss = F.cross_entropy(logits, y, weight=self.class_weights)
        self.val_evidence.update(logits, y, loss)

    def on_validation_epoch_end(self) -> None:
        ev = self.val_evidence.compute()
        self.val_evidence.reset()
        if self.trainer.sanity_checking:
            return
        logged = {
            "val/loss": ev["loss"],
            "val/mcc": ev["mcc"],
            "val/balanced_accuracy": ev["balanced_accuracy"],
            "val/auroc": ev["auroc"],
        }
        self.log_dict(logged, prog_bar=True, sync_dist=False)  # already synchronised by torchmetrics
        if self._schedule is not None and self._schedule[2]:  # reduce-on-plateau: steps on a validation metric
            self._schedule[0].step(logged[self._schedule[2]])
        self.history.append({"epoch": self.current_epoch, **{k.replace("/", "_"): v for k, v in logged.items()}})

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The generators (dropout masks) and the epoch history travel with the checkpoint, so a
        # resumed run continues exactly where the interrupted one stopped.
        import random

        import numpy as np

        checkpoint["medtorch"] = {
            "history": self.history,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                # plain tensors and ints only, so the checkpoint loads with weights_only=True
                "numpy": _numpy_state_to_plain(np.random.get_state()),
                "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
            },
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        import random

        import numpy as np

        saved = checkpoint.get("medtorch")
        if not saved:
            return
        self.history = list(saved["history"])
        rng = saved["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        np.random.set_state(_numpy_state_from_plain(rng["numpy"]))
        version, internal, gauss = rng["python"]
        random.setstate((version, tuple(internal), gauss))

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.network.parameters(), lr=self.lr, weight_decay=self.weight_decay, betas=self.betas,
                                foreach=True)  # multi-tensor kernels: 0.92 against 1.47 ms a step for the MLP on CPU
        if self.scheduler_factory is None:
            return opt
        total = self._optimizer_steps()
        self._schedule = self.scheduler_factory(opt, total)
        # returned to Lightning too, so checkpoints keep its state and LearningRateMonitor sees it
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self._schedule[0], "interval": self._schedule[1]}}


    def _optimizer_steps(self) -> int:
        """Optimizer steps of the whole fit, + 1: every ``accumulate`` batches and at each epoch's last batch.

        Lightning's estimate counts its own steps; with grouped batches (``Steps``) each is several
        batches, up to the loader's count. ceil, not floor: when ``accumulate`` does not divide an
        epoch's batches the epoch's last batch steps too (a floor made one-cycle schedules run out).
        """
        lightning_steps = int(self.trainer.estimated_stepping_batches)  # sets up the data first
        epochs = max(self.trainer.max_epochs, 1)
        per_epoch = lightning_steps // epochs
        loader = self.trainer.train_dataloader
        k = getattr(loader, "steps_per_execution", 1)
        if k > 1:
            per_epoch = min(per_epoch * k, loader.batches)
        return epochs * -(-per_epoch // self.accumulate) + 1


# Lightning reads training_step's and validation_step's signatures on every batch (whether to pass
# batch_idx); inspect returns a stored __signature__ instead of rebuilding it, about 9 us a call less
for _hook in (Classifier.training_step, Classifier.validation_step):
    _hook.__signature__ = inspect.signature(_hook)


class Unprofiled(PassThroughProfiler):
    """Lightning's default no-op profiler, with ``profile`` returning one shared null context.

    The Trainer wraps each of its dozen-odd hook calls a batch in ``profiler.profile(name)``; the
    base class makes that a generator-based context manager (a generator and a frame each time).
    Used when ``trainer.profiler`` is null; a configured profiler is passed to Lightning as it is.
    """

    _none = contextlib.nullcontext()

    def profile(self, action_name: str):  # type: ignore[override]
        return self._none


def mixup_cross_entropy(logits: torch.Tensor, y: torch.Tensor, y2: torch.Tensor, lam: torch.Tensor,
                        weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of a mixup batch: lam * CE(logits, y) + (1 - lam) * CE(logits, y2)."""
    return lam * F.cross_entropy(logits, y, weight=weight) + (1 - lam) * F.cross_entropy(logits, y2, weight=weight)


def _numpy_state_to_plain(state) -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = state
    return {"name": name, "keys": torch.from_numpy(keys.astype("int64")), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached)}


def _numpy_state_from_plain(d: dict[str, Any]):
    return (d["name"], d["keys"].numpy().astype("uint32"), d["pos"], d["has_gauss"], d["cached"])
