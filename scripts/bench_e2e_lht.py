"""The baseline of ``scripts/bench_e2e.py``: a lightning-hydra-template-style run, no governance.

What a typical Lightning project does with a CSV, and nothing more: a pandas read, a
scikit-learn stratified split (70/15/15), a ``StandardScaler`` fitted on the training rows,
``DataLoader(TensorDataset, batch_size=512, shuffle=True, num_workers=0)``, the MLP
32-256-256-2 (ReLU, dropout 0.2) that medtorch's ``model=mlp`` builds, AdamW, a deterministic
Lightning ``Trainer`` with its default checkpointing, torchmetrics ``MatthewsCorrCoef`` and
``Accuracy`` objects updated and logged every training step (and per epoch on validation), a
``CSVLogger``, a fixed number of epochs and no early stopping. No split record, no hashes, no
leakage checks, no EDA, no evaluation beyond the logged metrics, no explanations, no report.

    python scripts/bench_e2e_lht.py DATA.csv --target y [--epochs 3] [--batch 512] [--out DIR]

This file is the fixed reference of the end-to-end benchmark: it is not changed to make
medtorch look faster.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torchmetrics
from pytorch_lightning.loggers import CSVLogger
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset


class LitClassifier(pl.LightningModule):
    """The template's LitModule shape: a net, a loss, one torchmetrics object per split and metric."""

    def __init__(self, n_features: int, n_classes: int, lr: float = 1e-3, weight_decay: float = 1e-2):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Linear(n_features, 256), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(256, n_classes),
        )
        task = "binary" if n_classes == 2 else "multiclass"
        self.train_acc = torchmetrics.Accuracy(task=task, num_classes=n_classes)
        self.train_mcc = torchmetrics.MatthewsCorrCoef(task=task, num_classes=n_classes)
        self.val_acc = torchmetrics.Accuracy(task=task, num_classes=n_classes)
        self.val_mcc = torchmetrics.MatthewsCorrCoef(task=task, num_classes=n_classes)

    def forward(self, x):
        return self.net(x)

    def _step(self, batch):
        x, y = batch
        logits = self(x)
        return F.cross_entropy(logits, y), logits.argmax(dim=1), y

    def training_step(self, batch, batch_idx):
        loss, preds, y = self._step(batch)
        self.train_acc(preds, y)
        self.train_mcc(preds, y)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=True, on_epoch=True)
        self.log("train/mcc", self.train_mcc, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, preds, y = self._step(batch)
        self.val_acc(preds, y)
        self.val_mcc(preds, y)
        self.log("val/loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/mcc", self.val_mcc, on_step=False, on_epoch=True, prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)


def loaders(path: str, target: str, batch: int, seed: int):
    frame = pd.read_csv(path)
    y = frame.pop(target).to_numpy()
    classes, y = np.unique(y, return_inverse=True)
    x = frame.to_numpy(dtype=np.float32)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
    x_val, _x_test, y_val, _y_test = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest,
                                                      random_state=seed)
    scaler = StandardScaler().fit(x_train)

    def dataset(a, b):
        return TensorDataset(torch.from_numpy(scaler.transform(a).astype(np.float32)), torch.from_numpy(b).long())

    train = DataLoader(dataset(x_train, y_train), batch_size=batch, shuffle=True, num_workers=0)
    val = DataLoader(dataset(x_val, y_val), batch_size=batch, shuffle=False, num_workers=0)
    return train, val, x.shape[1], len(classes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--target", default="y")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="logger and checkpoint directory (default: a new temporary one)")
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="lht-run-")
    pl.seed_everything(args.seed, workers=True)
    train, val, n_features, n_classes = loaders(args.data, args.target, args.batch, args.seed)
    model = LitClassifier(n_features, n_classes)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=args.epochs, deterministic=True,
                         logger=CSVLogger(out, name="lht"), default_root_dir=out)
    trainer.fit(model, train_dataloaders=train, val_dataloaders=val)
    print({k: round(float(v), 4) for k, v in trainer.callback_metrics.items()})


if __name__ == "__main__":
    main()
