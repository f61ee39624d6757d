"""The extractive reader (qa/models/reader.py) as an ONNX graph.

Torch's CPU kernels spend most of a small reader batch on per-operator dispatch; the exported
graph runs in native code, without torch at inference time. The export needs torch (and the
model from `qa.models.reader.load_reader`); the session does not.

The exported graph takes the tokenizer's `input_ids`, `attention_mask` and `token_type_ids`
(int64, any batch size and length) and returns the start and end logits, so the reader's own
tokenization and `Reading` construction stay as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.models.onnx_runtime import TOKENIZER_INPUTS, cache_path, export_graph, traceable

if TYPE_CHECKING:
    import torch

OUTPUT_NAMES = ("start_logits", "end_logits")


def onnx_cache_path(weights: Path, cache_dir: Path) -> Path:
    """Where the export of `weights` lives: named by their content
    (qa.models.onnx_runtime.cache_path)."""
    return cache_path(cache_dir, "reader", [weights])


def _logits(output: Any, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return output.start_logits, output.end_logits


def _example_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two (question, sentence) rows, the second padded (see
    qa.models.onnx_runtime.export_graph)."""
    import torch

    input_ids = torch.tensor([[101, 2040, 102, 1037, 2158, 102], [101, 2040, 102, 2053, 102, 0]])
    attention_mask = (input_ids != 0).long()
    token_type_ids = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]])
    return input_ids, attention_mask, token_type_ids


def export_reader_onnx(model: Any, path: Path) -> Path:
    """Export the reader `model` (as `qa.models.reader.load_reader` returns it) to `path`; the
    graph matches torch's logits to float32 rounding."""
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*TOKENIZER_INPUTS, *OUTPUT_NAMES)}
    return export_graph(traceable(model, _logits), _example_inputs(), path, OUTPUT_NAMES, dynamic)
