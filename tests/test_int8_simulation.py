"""The int8 rounding that quantization-aware training sees (training/int8_simulation.py)."""

from __future__ import annotations

import torch

from training.int8_simulation import rounded_int8_rows, rounded_uint8


def test_weights_round_to_127_steps_of_their_rows_largest_magnitude() -> None:
    weight = torch.randn(6, 50) * torch.arange(1, 7).unsqueeze(1)
    rounded = rounded_int8_rows(weight)
    steps = weight.abs().amax(dim=1, keepdim=True) / 127
    levels = rounded / steps
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    assert torch.allclose(rounded.abs().amax(dim=1), weight.abs().amax(dim=1))
    assert (rounded - weight).abs().max() <= steps.max() / 2 + 1e-6
    assert not torch.equal(rounded, weight)


def test_activations_round_on_a_255_step_grid_that_holds_zero_exactly() -> None:
    values = torch.cat([torch.linspace(-0.3, 2.0, 1000), torch.zeros(3)])
    rounded = rounded_uint8(values)
    step = 2.3 / 255
    assert len(torch.unique(rounded)) <= 256
    assert torch.all(rounded[-3:] == 0)
    assert (rounded - values).abs().max() <= step / 2 + 1e-6
    positive = rounded_uint8(torch.tensor([0.5, 1.0]))  # range widened to hold 0
    assert torch.allclose(positive, torch.tensor([0.5, 1.0]), atol=1 / 255)


def test_gradients_pass_straight_through_the_rounding() -> None:
    weight = torch.randn(4, 8, requires_grad=True)
    values = torch.randn(3, 8, requires_grad=True)
    (rounded_int8_rows(weight).sum() + rounded_uint8(values).sum()).backward()
    assert weight.grad is not None and torch.equal(weight.grad, torch.ones_like(weight))
    assert values.grad is not None and torch.equal(values.grad, torch.ones_like(values))
