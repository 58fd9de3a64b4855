"""The networks: plain ``torch.nn`` modules, built from the ``model`` config group.

Kept free of Lightning so that prediction, bridge re-evaluation and explanation can load a
model without importing it.
"""

from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from medtorch.errors import MedtorchError

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


class MLP(nn.Module):
    """Linear -> activation -> dropout, for each hidden width; then a linear head."""

    def __init__(self, n_features: int, n_classes: int, hidden: list[int], dropout: float, activation: str = "relu"):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Logistic(nn.Module):
    """Multinomial logistic regression: logits = W x + b (optional input dropout)."""

    def __init__(self, n_features: int, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x):
        return self.linear(self.dropout(x))


def build_network(model_cfg: Mapping[str, Any], n_features: int, n_classes: int) -> nn.Module:
    """Build the network named by ``model_cfg['name']``; the spec is saved as model.json."""
    name = model_cfg["name"]
    if name == "mlp":
        return MLP(n_features, n_classes, list(model_cfg["hidden"]), float(model_cfg["dropout"]), model_cfg.get("activation", "relu"))
    if name == "logistic":
        return Logistic(n_features, n_classes, float(model_cfg.get("dropout", 0.0)))
    raise MedtorchError(f"model.name must be one of 'mlp', 'logistic'; got {name!r}.")
