"""medtorch's CPU dropout (``medtorch.models.networks.Dropout``) has nn.Dropout's law, not its speed."""

import math

import pytest
import torch
from torch import nn

from medtorch.models.networks import MLP, Dropout


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5])
def test_each_unit_is_kept_with_probability_one_minus_p_and_scaled(p):
    torch.manual_seed(0)
    x = torch.rand(1000, 1000) + 0.5  # no zeros of its own
    y = Dropout(p).train()(x)
    kept = y != 0
    n = kept.numel()
    se = math.sqrt(p * (1 - p) / n)
    assert abs(kept.float().mean().item() - (1 - p)) < 5 * se
    assert torch.allclose(y[kept], x[kept] / (1 - p), rtol=1e-6)
    # per column as well: no structure in the mask (each column's keep rate within 5 SE of its own)
    col = kept.float().mean(dim=0)
    assert (col - (1 - p)).abs().max().item() < 5 * math.sqrt(p * (1 - p) / 1000)


def test_gradient_flows_through_kept_units_only():
    torch.manual_seed(1)
    x = torch.randn(64, 32, requires_grad=True)
    y = Dropout(0.3).train()(x)
    y.sum().backward()
    expected = (y.detach() != 0).float() / 0.7
    assert torch.allclose(x.grad, expected)


def test_eval_mode_p_zero_and_p_one_are_nn_dropout():
    x = torch.randn(10, 5)
    assert torch.equal(Dropout(0.4).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))


def test_the_same_seed_draws_the_same_mask():
    x = torch.randn(256, 64)
    torch.manual_seed(7)
    a = Dropout(0.2).train()(x)
    torch.manual_seed(7)
    b = Dropout(0.2).train()(x)
    assert torch.equal(a, b)


def test_a_network_saved_with_nn_dropout_loads_unchanged():
    torch.manual_seed(0)
    old = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 16), nn.ReLU(), nn.Dropout(0.2),
                        nn.Linear(16, 2))
    mlp = MLP(8, 2, [16, 16], dropout=0.2)
    mlp.net.load_state_dict(old.state_dict())  # strict: the same keys, no parameters in the dropout modules
    x = torch.randn(5, 8)
    assert torch.equal(mlp.eval()(x), old.eval()(x))
