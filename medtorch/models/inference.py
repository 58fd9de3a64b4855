"""Inference without Lightning: the one path from rows to a network's outputs, and rebuilding a run's network.

``infer`` is the only place a trained network is applied to rows after training: validation,
the governed test look, the bridge (its reference and every re-evaluation), ``medtorch
predict``, ``medtorch monitor`` and the survival verbs all call it. So the bridge certifies
exactly the batch path ``predict`` runs: the same preprocessing, the same batch size, the
same dtype and device, the same softmax.

The batch size is one setting, ``trainer.eval_batch_size``, recorded with the run in its
config; ``eval_batch_size`` reads it, and its default is ``TrainerConfig``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from medtorch.errors import IntegrityError, MedtorchError
from medtorch.models.networks import build_network

OUTPUTS = ("probabilities", "risk")


def eval_batch_size(config: Mapping[str, Any] | None = None) -> int:
    """``trainer.eval_batch_size`` of a run's config (the ``TrainerConfig`` default where the config has none)."""
    from medtorch.config import TrainerConfig

    value = ((config or {}).get("trainer") or {}).get("eval_batch_size")
    return int(TrainerConfig.eval_batch_size if value is None else value)


@torch.no_grad()
def infer(network: nn.Module, rows: pd.DataFrame | np.ndarray | torch.Tensor, batch_size: int | None = None, *,
          preprocessor: Any = None, output: Literal["probabilities", "risk"] = "probabilities") -> np.ndarray:
    """Rows -> (fitted preprocessing) -> network in eval mode, in batches -> float64 outputs.

    ``rows`` is a DataFrame of raw rows (``preprocessor``, the run's fitted
    ``TabularPreprocessor``, is then required and applied) or an already-preprocessed matrix.
    The matrix is moved to the network's own device and dtype, split into batches of
    ``batch_size`` rows (``eval_batch_size()`` when None), and each batch goes through the
    network under ``no_grad`` in eval mode (its training mode is restored afterwards).
    ``output="probabilities"``: the softmax of the logits, computed in float64, shape (n, classes).
    ``output="risk"``: the single output of a survival network (log relative hazard), shape (n,).
    """
    if output not in OUTPUTS:
        raise MedtorchError(f"infer: output must be one of {OUTPUTS}; got {output!r}.")
    if isinstance(rows, pd.DataFrame):
        if preprocessor is None:
            raise MedtorchError("infer: raw rows (a DataFrame) need the run's fitted preprocessor; pass preprocessor=.")
        rows = preprocessor.transform(rows)
    batch = eval_batch_size() if batch_size is None else int(batch_size)
    if batch < 1:
        raise MedtorchError(f"infer: the batch size must be >= 1 (trainer.eval_batch_size); got {batch}.")
    was_training = network.training
    network.eval()
    try:
        param = next(network.parameters())
        xt = torch.as_tensor(rows).to(device=param.device, dtype=param.dtype)
        if output == "risk":
            parts = [network(xt[i : i + batch]).reshape(-1).double() for i in range(0, len(xt), batch)]
            return torch.cat(parts).cpu().numpy() if parts else np.zeros(0)
        parts = [torch.softmax(network(xt[i : i + batch]).double(), dim=1) for i in range(0, len(xt), batch)]
        return torch.cat(parts).cpu().numpy() if parts else np.zeros((0, 0))
    finally:
        network.train(was_training)


def predict_proba(network: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int | None = None) -> np.ndarray:
    """Softmax probabilities of already-preprocessed rows: ``infer`` with ``output="probabilities"``."""
    return infer(network, x, batch_size)


def load_network(spec: dict[str, Any], weights_path: Path) -> nn.Module:
    """Rebuild the network from the model spec and load the model weights (weights only, no pickle)."""
    net = build_network(spec["model"], spec["n_features"], spec["n_classes"])
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except FileNotFoundError:
        raise IntegrityError(f"{weights_path}: the model weights are missing.") from None
    except Exception as e:  # corrupt or foreign file
        raise IntegrityError(f"{weights_path}: cannot load the model weights ({type(e).__name__}: {e}).") from None
    net.eval()
    return net
