"""Training that sees the int8 arithmetic the reader will be served with.

`onnx-int8` (qa/models/onnx_runtime.py) quantizes a graph dynamically: each matrix product's weights
to int8 with a scale per output channel, its input to uint8 with one scale and zero point per
batch, and the embedding tables to uint8. A reader trained in float32 loses citation accuracy
under that rounding (README, Inference runtimes: no single layer carries the error, so keeping
a few layers in float32 does not help). `simulate_int8` makes the torch model compute with the
same rounding in its forward pass, with straight-through gradients, so fine-tuning can learn
weights that keep their answers when rounded. The saved weights stay float: the export and
quantization are the ones every graph gets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# ONNX Runtime's ranges: symmetric int8 weights use [-127, 127]; DynamicQuantizeLinear and the
# quantized embedding tables use uint8 [0, 255] with a zero point.
INT8_LIMIT = 127
UINT8_LEVELS = 255


def _straight_through(exact: torch.Tensor, rounded: torch.Tensor) -> torch.Tensor:
    """`rounded` forward, the identity's gradient backward."""
    return exact + (rounded - exact).detach()


def rounded_uint8(values: torch.Tensor) -> torch.Tensor:
    """`values` after ONNX Runtime's uint8 quantization of a whole tensor and back: the range
    is widened to hold 0, its scale is range / 255, the zero point is rounded (half to even,
    as torch.round and ONNX do)."""
    import torch

    low = torch.clamp(values.detach().min(), max=0.0)
    high = torch.clamp(values.detach().max(), min=0.0)
    scale = (high - low) / UINT8_LEVELS
    if float(scale) == 0.0:
        return values
    zero_point = torch.clamp(torch.round(-low / scale), 0, UINT8_LEVELS)
    levels = torch.clamp(torch.round(values / scale) + zero_point, 0, UINT8_LEVELS)
    return _straight_through(values, (levels - zero_point) * scale)


def rounded_int8_rows(weight: torch.Tensor) -> torch.Tensor:
    """A linear layer's `weight` ([out, in]) after symmetric int8 quantization with one scale
    per output channel (row), as the per-channel QInt8 export makes it, and back."""
    import torch

    scale = weight.detach().abs().amax(dim=1, keepdim=True) / INT8_LIMIT
    scale = torch.where(scale == 0, torch.ones_like(scale), scale)
    levels = torch.clamp(torch.round(weight / scale), -INT8_LIMIT, INT8_LIMIT)
    return _straight_through(weight, levels * scale)


def simulate_int8(model: Any) -> Any:
    """Make every linear layer and embedding table of `model` compute as the int8 graph does,
    in place, and return it. Parameter names and the state dict are unchanged, so the weights
    save and load as any reader's."""
    import torch

    from qa.models.onnx_runtime import PER_CHANNEL, WEIGHT_TYPE

    if (WEIGHT_TYPE, PER_CHANNEL) != ("QInt8", True):
        # The rounding below is that of signed per-channel weights; another export setting
        # would make training see other arithmetic than serving, without a word.
        raise NotImplementedError(
            f"no simulation of {WEIGHT_TYPE} weights, per channel {PER_CHANNEL}"
        )

    class Int8Linear(torch.nn.Linear):
        def forward(self, input: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.linear(
                rounded_uint8(input), rounded_int8_rows(self.weight), self.bias
            )

    class Int8Embedding(torch.nn.Embedding):
        def forward(self, input: torch.Tensor) -> torch.Tensor:
            if self.weight.requires_grad:
                table = rounded_uint8(self.weight)
            else:  # frozen (the word embeddings): round the 30k rows once, not every step
                if getattr(self, "_rounded", None) is None:
                    self._rounded = rounded_uint8(self.weight)
                table = self._rounded
            return torch.nn.functional.embedding(input, table, self.padding_idx)

    for module in model.modules():
        if type(module) is torch.nn.Linear:
            module.__class__ = Int8Linear
        elif type(module) is torch.nn.Embedding:
            module.__class__ = Int8Embedding
    return model
