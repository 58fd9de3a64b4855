"""Inference without Lightning: rebuild a run's network and compute class probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from medtorch.errors import IntegrityError
from medtorch.models.networks import build_network


@torch.no_grad()
def predict_proba(network: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    """Softmax probabilities, computed in eval mode, in batches."""
    was_training = network.training
    network.eval()
    try:
        param = next(network.parameters())
        xt = torch.as_tensor(x).to(device=param.device, dtype=param.dtype)
        out = [torch.softmax(network(xt[i : i + batch_size]).double(), dim=1) for i in range(0, len(xt), batch_size)]
        return torch.cat(out).cpu().numpy() if out else np.zeros((0, 0))
    finally:
        network.train(was_training)


def load_network(spec: dict[str, Any], weights_path: Path) -> nn.Module:
    """Rebuild the network from model.json's spec and load model.pt (weights only, no pickle)."""
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
