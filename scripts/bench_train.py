"""Training overhead of medtorch against a plain PyTorch loop, in one process.

Workload (fixed): 200,000 synthetic rows x 32 features, MLP 32-256-256-2 with dropout 0.2,
AdamW, batch 512, 3 epochs, CPU, plus a validation pass over 20,000 rows after each epoch.

(a) plain PyTorch: tensors, ``randperm(n).split(batch)`` index batches, a hand-written loop.
(b) medtorch: the same network and data through ``medtorch.models.module.Classifier`` (the
    module train.py uses, with its whole-epoch torchmetrics evidence and epoch logging) and
    ``medtorch.data.tensors.TensorLoader``, trained by Lightning's Trainer, with train.py's default
    ``trainer.steps_per_execution`` (``--steps-per-execution`` sets another; 1 = a Lightning step a batch).

Prints both throughputs and the wall-time ratio (b)/(a). The machine is shared and noisy, so
each path runs --repeats times in adjacent pairs (the order alternates between pairs, so a
slow spell does not always land on the same path) and two ratios are printed: best time over
best time, and the median of the per-pair ratios. They agree when the machine was quiet.

``--floor`` also times Lightning's loop alone (a training step that does nothing, same batches, one
Lightning step a batch) and prints the lowest ratio a path taking one Lightning step a batch can reach
on this machine (medtorch's default path takes one a group of batches); and, in the same
pairs, the plain loop's own step and validation run by Lightning's Trainer (``lightning_same_work``):
its ratio to the plain loop is the floor inside a real run of one Lightning step a batch, and
medtorch's ratio to it is what medtorch's module adds to, or with grouped batches saves from, that.

    python scripts/bench_train.py [--rows 200000] [--epochs 3] [--repeats 3] [--floor] [--steps-per-execution K]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
from torch.nn import functional as F

from medtorch.data.tensors import TensorLoader
from medtorch.evaluation.metrics import confusion_matrix, mcc
from medtorch.extensions import AUTO_STEPS_PER_EXECUTION
from medtorch.models.networks import MLP

FEATURES, HIDDEN, CLASSES, BATCH, LR, WD = 32, [256, 256], 2, 512, 1e-3, 1e-2


def make_data(rows: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, FEATURES, generator=g)
    w = torch.randn(FEATURES, generator=g)
    y = ((x @ w + 0.5 * torch.randn(rows, generator=g)) > 0).long()
    return x, y


def network(seed: int):
    torch.manual_seed(seed)
    return MLP(FEATURES, CLASSES, HIDDEN, dropout=0.2)


def plain(xtr, ytr, xva, yva, epochs: int) -> float:
    torch.use_deterministic_algorithms(True)  # as train.py runs by default
    net = network(0)
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WD, foreach=True)  # as medtorch's module steps it
    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        g = torch.Generator().manual_seed(epoch)
        for idx in torch.randperm(len(ytr), generator=g).split(BATCH):
            loss = F.cross_entropy(net(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(xva[i : i + 4096]).argmax(1) for i in range(0, len(yva), 4096)])
        mcc(confusion_matrix(yva.numpy(), pred.numpy(), CLASSES))
    return time.perf_counter() - start


STEPS_PER_EXECUTION = AUTO_STEPS_PER_EXECUTION  # train.py's default (trainer.steps_per_execution=auto)


def medtorch_path(xtr, ytr, xva, yva, epochs: int) -> float:
    import pytorch_lightning as pl

    from medtorch.models.module import Classifier, Unprofiled

    module = Classifier(network(0), ["a", "b"], lr=LR, weight_decay=WD)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
                         deterministic=True, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         profiler=Unprofiled())  # as train.py builds it when trainer.profiler is null
    train = TensorLoader(xtr, ytr, BATCH, shuffle=True, seed=0, steps_per_execution=STEPS_PER_EXECUTION)
    val = TensorLoader(xva, yva, 4096)
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=train, val_dataloaders=val)
    return time.perf_counter() - start


def lightning_floor(xtr, ytr, epochs: int) -> float:
    """Seconds of Lightning's own loop over the same batches: a training step that does nothing.

    What any module trained by Lightning's Trainer (configured as medtorch configures it) pays per
    step (fetch, hooks, progress, logger connector) before it computes anything; (plain + this) /
    plain is the lowest ratio a Lightning-trained path can reach on this workload. It includes
    the loader's row gather (index_select), which the plain loop also pays in its own form.
    """
    import pytorch_lightning as pl

    class Idle(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False
            self.layer = torch.nn.Linear(FEATURES, CLASSES)

        def training_step(self, batch, batch_idx):
            return None

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=LR)

    from medtorch.models.module import Unprofiled

    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
                         deterministic=True, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=0, profiler=Unprofiled())
    start = time.perf_counter()
    trainer.fit(Idle(), train_dataloaders=TensorLoader(xtr, ytr, BATCH, shuffle=True, seed=0))
    return time.perf_counter() - start


def lightning_same_work(xtr, ytr, xva, yva, epochs: int) -> float:
    """Seconds of the plain loop's own work run by Lightning's Trainer: the floor inside a real run.

    The training step is the plain loop's (forward, cross-entropy, zero_grad, backward, step of a
    bare ``torch.optim.AdamW``, no Lightning wrappers), the validation the plain loop's (argmax in
    4,096-row batches, MCC of the confusion counts), the batches medtorch's loader's. What this
    takes over the plain loop is what Lightning's loop costs around that work, caches and all:
    ``lightning_floor`` times the loop with nothing in it, so everything stays in cache.
    """
    import pytorch_lightning as pl

    from medtorch.models.module import Unprofiled

    class PlainStep(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False
            self.net = network(0)
            self.opt = torch.optim.AdamW(self.net.parameters(), lr=LR, weight_decay=WD, foreach=True)
            self.preds: list[torch.Tensor] = []
            self.labels: list[torch.Tensor] = []

        def transfer_batch_to_device(self, batch, device, dataloader_idx):
            return batch

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()

        def validation_step(self, batch, batch_idx):
            self.preds.append(self.net(batch[0]).argmax(1))
            self.labels.append(batch[1])

        def on_validation_epoch_end(self) -> None:
            mcc(confusion_matrix(torch.cat(self.labels).numpy(), torch.cat(self.preds).numpy(), CLASSES))
            self.preds.clear()
            self.labels.clear()

        def configure_optimizers(self):
            return self.opt

    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
                         deterministic=True, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         profiler=Unprofiled())
    start = time.perf_counter()
    trainer.fit(PlainStep(), train_dataloaders=TensorLoader(xtr, ytr, BATCH, shuffle=True, seed=0),
                val_dataloaders=TensorLoader(xva, yva, 4096))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--floor", action="store_true",
                    help="also time Lightning's loop with a training step that does nothing, and print the lowest "
                         "ratio a Lightning-trained path can reach here")
    ap.add_argument("--steps-per-execution", type=int, default=AUTO_STEPS_PER_EXECUTION,
                    help="batches medtorch's module takes in one Lightning step (default: train.py's auto, "
                         f"{AUTO_STEPS_PER_EXECUTION})")
    args = ap.parse_args()
    if args.repeats < 1 or args.rows < 1 or args.epochs < 1 or args.steps_per_execution < 1:
        ap.error("--rows, --epochs, --repeats and --steps-per-execution must each be at least 1")
    global STEPS_PER_EXECUTION
    STEPS_PER_EXECUTION = args.steps_per_execution
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    xtr, ytr = make_data(args.rows, 0)
    xva, yva = make_data(args.rows // 10, 1)
    medtorch_path(xtr[:4096], ytr[:4096], xva[:1024], yva[:1024], 1)  # warm-up: imports, first-call costs
    plain(xtr[:4096], ytr[:4096], xva[:1024], yva[:1024], 1)
    paths = {"plain": plain, "medtorch": medtorch_path}
    if args.floor:
        paths["same work"] = lightning_same_work
        lightning_same_work(xtr[:4096], ytr[:4096], xva[:1024], yva[:1024], 1)
    times: dict[str, list[float]] = {name: [] for name in paths}
    for i in range(args.repeats):
        for name in (list(paths) if i % 2 == 0 else list(paths)[::-1]):
            times[name].append(paths[name](xtr, ytr, xva, yva, args.epochs))
    a, b = min(times["plain"]), min(times["medtorch"])
    paired = sorted(m / p for p, m in zip(times["plain"], times["medtorch"]))
    rows = args.rows * args.epochs
    print(f"workload: {args.rows} rows x {FEATURES} features, MLP {FEATURES}-256-256-{CLASSES}, batch {BATCH}, "
          f"{args.epochs} epochs, {torch.get_num_threads()} threads; medtorch takes {STEPS_PER_EXECUTION} "
          "batch(es) a Lightning step")
    print(f"(a) plain PyTorch loop      : {rows / a:>10,.0f} rows/s  (best of {args.repeats}: {a:.2f} s)")
    print(f"(b) medtorch + Lightning    : {rows / b:>10,.0f} rows/s  (best of {args.repeats}: {b:.2f} s)")
    print(f"ratio (b)/(a): {b / a:.3f}  (best over best; median of the {args.repeats} paired ratios: "
          f"{statistics.median(paired):.3f}, range {paired[0]:.3f}-{paired[-1]:.3f})")
    if args.floor:
        steps = args.epochs * -(-args.rows // BATCH)
        idle = min(lightning_floor(xtr, ytr, args.epochs) for _ in range(args.repeats))
        print(f"Lightning's loop with a step that does nothing: {idle / steps * 1e6:.0f} us a step (best of "
              f"{args.repeats}); lowest ratio here with one Lightning step a batch, (plain + that) / plain: "
              f"{(a + idle) / a:.3f}")
        same = sorted(w / p for p, w in zip(times["plain"], times["same work"]))
        own = sorted(m / w for w, m in zip(times["same work"], times["medtorch"]))
        print(f"the plain loop's own step and validation run by Lightning's Trainer / plain: median of pairs "
              f"{statistics.median(same):.3f} (range {same[0]:.3f}-{same[-1]:.3f}); the floor inside a real run of "
              "one Lightning step a batch")
        print(f"medtorch / that: median of pairs {statistics.median(own):.3f} (range {own[0]:.3f}-{own[-1]:.3f}); "
              f"what medtorch's module and its grouping of batches change")


if __name__ == "__main__":
    main()
