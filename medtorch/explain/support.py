"""Which networks each explanation supports, and why one is skipped for a network.

Every attribution method needs a network that maps a (rows, features) float tensor to
(rows, n_outputs) logits; the gradient methods (Integrated Gradients, GradientShap) also need
gradients to flow from the logits back to the input, which a network with a non-differentiable
step (rounding, argmax, a lookup) lacks. Attention maps need a network that says it has them:
a class attribute ``supports_attention = True`` and ``forward(x, return_attention=True)``
returning ``(logits, [per-layer (rows, heads, tokens, tokens) weights])``, with token 0 a
class token and token j + 1 input feature j (the shipped attention model does). An explanation
that cannot run is skipped, and the reason is written into the explanation and its summary.
"""

from __future__ import annotations

import torch
from torch import nn

GRADIENT_METHODS = ("integrated_gradients", "gradient_shap")
SUPPORTS = {
    "integrated_gradients": "networks differentiable in their input",
    "gradient_shap": "networks differentiable in their input",
    "kernel_shap": "any network (perturbs the input)",
    "lime": "any network (perturbs the input)",
    "feature_ablation": "any network (perturbs the input)",
    "feature_permutation": "any network (perturbs the input)",
    "attention": "networks with supports_attention = True and forward(x, return_attention=True)",
}


def attention_skip_reason(network: nn.Module) -> str | None:
    """None when the network has attention maps to show, else why not."""
    if getattr(type(network), "supports_attention", False):
        return None
    return (f"{type(network).__name__} has no attention weights to show (attention maps support "
            f"{SUPPORTS['attention']})")


def skipped_methods(network: nn.Module, methods: list[str], x: torch.Tensor) -> dict[str, str]:
    """Methods that cannot run on ``network``, each with its reason."""
    wanted = [m for m in methods if m in GRADIENT_METHODS]
    if not wanted:
        return {}
    param = next(network.parameters(), None)
    probe = x[:8].detach().clone().to(dtype=param.dtype if param is not None else x.dtype,
                                      device=param.device if param is not None else x.device).requires_grad_(True)
    with torch.enable_grad():
        out = network(probe)
        grads = []
        if isinstance(out, torch.Tensor) and out.requires_grad:
            outputs = out.reshape(len(probe), -1)
            # each output on its own: their sum can be constant while each one moves (the exported
            # two-class logistic holds -w/2 and +w/2, whose sum has no gradient at all)
            for k in range(outputs.shape[1]):
                g = torch.autograd.grad(outputs[:, k].sum(), probe, allow_unused=True, retain_graph=True)[0]
                if g is not None:
                    grads.append(g)
    # a gradient that is absent or zero at every probed row (rounding, argmax, lookups) attributes nothing
    if any(bool(g.abs().sum() > 0) for g in grads):
        return {}
    reason = (f"{type(network).__name__}'s output has no gradient with respect to its input, and this method "
              f"supports {SUPPORTS[wanted[0]]}; use kernel_shap, lime, feature_ablation or feature_permutation")
    return {m: reason for m in wanted}
