"""torchmetrics shell: accumulate one split's evidence over an epoch, compute once.

The state is the confusion matrix, the summed loss and row count (summed across processes
under DDP), and optionally the scores and labels for AUROC (gathered). ``compute`` hands the
whole-split state to the pure functions in ``metrics.py``, so the numbers are those of the
whole split, never averages of batch metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from medtorch.evaluation import metrics as M


class EpochEvidence(Metric):
    full_state_update = False
    higher_is_better = True

    def __init__(self, class_names: list[str], with_scores: bool = False) -> None:
        super().__init__()
        self.class_names = list(class_names)
        self.k = len(class_names)
        self.with_scores = with_scores
        self.add_state("confmat", default=torch.zeros(self.k * self.k, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("loss_sum", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        if with_scores:
            self.add_state("scores", default=[], dist_reduce_fx="cat")
            self.add_state("targets", default=[], dist_reduce_fx="cat")

    def update(self, logits: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        logits = logits.detach()
        pred = logits.argmax(dim=1)
        self.confmat += torch.bincount(target * self.k + pred, minlength=self.k * self.k)
        self.loss_sum += loss.detach().double() * target.numel()
        self.count += target.numel()
        if self.with_scores:
            self.scores.append(torch.softmax(logits.float(), dim=1))
            self.targets.append(target)

    def compute(self) -> dict[str, Any]:
        cm = self.confmat.reshape(self.k, self.k).cpu().numpy()
        pc = M.per_class(cm)
        out: dict[str, Any] = {
            "loss": float(self.loss_sum / self.count.clamp(min=1)),
            "mcc": M.mcc(cm),
            "balanced_accuracy": M.balanced_accuracy(cm),
            "confusion_matrix": cm,
            "sensitivity": pc["sensitivity"],
        }
        if self.with_scores:
            scores = dim_zero_cat(self.scores).cpu().numpy().astype(np.float64)
            targets = dim_zero_cat(self.targets).cpu().numpy()
            out["auroc"] = M.auroc(targets, scores)
        return out
