"""Captum attributions of a network's logits, for every class, in batched calls.

Each method is called once per target class on all explained rows at once; Integrated
Gradients evaluates its interpolation path in internal batches (``internal_batch_size``)
instead of row by row, which ``scripts/bench_integrated_gradients.py`` measures.
Perturbation methods use the column feature mask (see ``columns.py``). Every call is seeded,
so the same run explained twice gives the same numbers.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from medtorch.errors import MedtorchError
from medtorch.explain.columns import ColumnMap
from medtorch.explain.settings import GROUPED, METHODS

# Rows per forward pass along the Integrated Gradients path (explained rows x steps, chunked).
# Larger is not faster: the attention model's activations are rows x tokens x d_token, and at
# 8192 rows (32 MB a tensor) they leave the CPU caches; its forward and backward then cost about
# 1.5x more per row than at 256 to 1024 rows. The MLP is as fast at 1024 as at 8192.
INTERNAL_BATCH = 1024


@dataclass
class Baselines:
    kind: str
    per_row: torch.Tensor  # (rows, inputs): the reference input of each explained row
    distribution: torch.Tensor  # (k, inputs): reference inputs GradientShap samples from


@dataclass
class MethodResult:
    method: str
    inputs: np.ndarray  # (classes, rows, inputs): attribution of each class's logit to each model input
    columns: np.ndarray  # (classes, rows, columns): the same, summed back to the original columns
    seconds: float
    delta: np.ndarray | None = None  # Integrated Gradients: convergence delta, (classes, rows)


def make_baselines(kind: str, x_train: torch.Tensor, n_rows: int, samples: int, seed: int) -> Baselines:
    """Reference inputs in the model's input space, from the training rows only."""
    g = torch.Generator().manual_seed(seed)
    if kind == "train_mean":
        mean = x_train.mean(dim=0, keepdim=True)
        return Baselines(kind, mean.expand(n_rows, -1).clone(), mean)
    if kind == "train_sample":
        draw = torch.randint(len(x_train), (n_rows,), generator=g)
        dist = torch.randperm(len(x_train), generator=g)[:samples]
        return Baselines(kind, x_train[draw].clone(), x_train[dist].clone())
    if kind == "zeros":
        zero = torch.zeros(1, x_train.shape[1], dtype=x_train.dtype)
        return Baselines(kind, zero.expand(n_rows, -1).clone(), zero)
    raise MedtorchError(f"explain.baseline must be one of 'train_mean', 'train_sample', 'zeros'; got {kind!r}.")


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def attribute(network: nn.Module, method: str, x: torch.Tensor, n_classes: int, baselines: Baselines,
              cmap: ColumnMap, ig_steps: int = 50, gradient_shap_samples: int = 16,
              perturbation_samples: int = 100, seed: int = 0, internal_batch: int = INTERNAL_BATCH) -> MethodResult:
    """Attributions of every class's logit for the rows ``x`` with one Captum method."""
    import warnings

    import captum.attr as ca

    if method not in METHODS:
        raise MedtorchError(f"unknown attribution method {method!r}; expected one of {tuple(METHODS)}.")
    network.eval()
    param = next(network.parameters())  # explain on the device and in the dtype the network is in
    x = x.detach().to(device=param.device, dtype=param.dtype)
    per_row, distribution = baselines.per_row.to(x), baselines.distribution.to(x)
    mask = cmap.feature_mask.to(param.device)
    from medtorch.progress import progress_enabled

    explainer = getattr(ca, METHODS[method][0])(network)
    per_class, deltas = [], []
    # Captum draws from the global generators of torch, NumPy and random: seeded here, restored below
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Lime/KernelShap warn that a batch fits one surrogate per row: that is what we want
        warnings.filterwarnings("ignore", message=".*multiple inputs for Lime.*")
        for c in range(n_classes):
            _seed_all(seed + c)
            if method == "integrated_gradients":
                a, d = explainer.attribute(x, baselines=per_row, target=c, n_steps=ig_steps,
                                           internal_batch_size=internal_batch, return_convergence_delta=True)
                deltas.append(d.detach().cpu().double().numpy())
            elif method == "gradient_shap":
                a = explainer.attribute(x, baselines=distribution, target=c,
                                        n_samples=gradient_shap_samples, stdevs=0.0)
            elif method in ("kernel_shap", "lime"):
                a = explainer.attribute(x, baselines=per_row, target=c, feature_mask=mask,
                                        n_samples=perturbation_samples, perturbations_per_eval=perturbation_samples,
                                        show_progress=progress_enabled())  # the slow ones: Captum's own bar
            elif method == "feature_ablation":
                a = explainer.attribute(x, baselines=per_row, target=c, feature_mask=mask,
                                        perturbations_per_eval=len(cmap.columns))
            else:  # feature_permutation shuffles a column across the explained rows
                if len(x) < 2:
                    raise MedtorchError("feature_permutation needs at least 2 rows to permute; explain more rows.")
                a = explainer.attribute(x, target=c, feature_mask=mask, perturbations_per_eval=len(cmap.columns))
            per_class.append(a.detach().cpu().double().numpy())
    seconds = time.perf_counter() - start
    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])
    inputs = np.stack(per_class)
    columns = cmap.take_group(inputs) if method in GROUPED else cmap.sum_parts(inputs)
    return MethodResult(method, inputs, columns, seconds, np.stack(deltas) if deltas else None)
