"""Attention maps of the FT-Transformer-style model, per original column.

Token 0 is the class token and token j + 1 is model input j (see ``FeatureTokenTransformer``).
- class-token attention: how much the class token attends to each feature token, per layer
  and head, averaged over heads and layers for the summary;
- attention rollout (Abnar and Zuidema, 2020): each layer's head-averaged attention plus the
  identity for the residual path, rows renormalised, multiplied through the layers; the class
  token's row is read off.
Attention to a categorical column is the sum over its one-hot tokens (attention weights are a
distribution over tokens, so they add).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from medtorch.explain.columns import ColumnMap


@dataclass
class AttentionMaps:
    cls_attention: np.ndarray  # (rows, layers, heads, columns): class-token attention to each column
    rollout: np.ndarray  # (rows, columns): attention rollout from the class token

    @property
    def cls_mean(self) -> np.ndarray:
        """(rows, columns): class-token attention averaged over heads and layers."""
        return self.cls_attention.mean(axis=(1, 2))


def has_attention(network: nn.Module) -> bool:
    """Whether the network declares attention maps (see medtorch/explain/support.py)."""
    return bool(getattr(type(network), "supports_attention", False))


@torch.no_grad()
def attention_weights(network: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    """(rows, layers, heads, tokens, tokens), computed in eval mode."""
    network.eval()
    param = next(network.parameters())
    x = x.to(device=param.device, dtype=param.dtype)
    out = []
    for i in range(0, len(x), batch_size):
        _, weights = network(x[i : i + batch_size], return_attention=True)
        out.append(torch.stack(weights, dim=1).cpu().double().numpy())
    return np.concatenate(out)


def rollout(weights: np.ndarray) -> np.ndarray:
    """Attention rollout from (rows, layers, heads, tokens, tokens); returns (rows, tokens)."""
    n, layers, _, t, _ = weights.shape
    joint = np.broadcast_to(np.eye(t), (n, t, t)).copy()
    for layer in range(layers):
        a = weights[:, layer].mean(axis=1) + np.eye(t)
        a = a / a.sum(axis=-1, keepdims=True)
        joint = a @ joint
    return joint[:, 0, :]


def attention_maps(network: nn.Module, x: torch.Tensor, cmap: ColumnMap) -> AttentionMaps:
    w = attention_weights(network, x)
    cls = cmap.sum_parts(w[:, :, :, 0, 1:])  # drop the class token's attention to itself
    roll = rollout(w)[:, 1:]
    roll = cmap.sum_parts(roll / roll.sum(axis=1, keepdims=True))  # share among feature tokens
    return AttentionMaps(cls, roll)
