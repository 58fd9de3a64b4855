"""What the data steps hand to training: the split, the fitted preprocessing and the tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from medtorch.data.balance import BalancePlan
from medtorch.data.split import Splits
from medtorch.data.transforms import TabularPreprocessor


@dataclass
class Prepared:
    """The split, the fitted preprocessing, and every split as tensors in model order."""

    splits: Splits
    preprocessor: TabularPreprocessor
    classes: list[str]
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]]
    split_record: dict[str, Any] | None = None
    balance: BalancePlan | None = None
