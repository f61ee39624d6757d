"""The extractive reader (qa/models/reader.py) under OpenVINO, its encoder in bfloat16
(qa/models/openvino_runtime.py).

The start/end head is cut off the graph and applied here in float32 to the encoder's output:
logits of bfloat16's 8 bits of precision would tie near-equal spans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.models.onnx_runtime import OnnxGraphError
from qa.models.openvino_runtime import OpenVinoSession, read_graph

# Names the TorchScript export gives the head's weight product and its bias addition
# (qa/models/reader_onnx.py; a transformers BertForQuestionAnswering wrapped in `inner`).
HEAD_PRODUCT = "/inner/qa_outputs/MatMul"
HEAD_BIAS = "/inner/qa_outputs/Add"
HIDDEN_OUTPUT = "hidden"


class OpenVinoReader:
    """The reader graph at `path` on `threads` threads (0: one per available core), its encoder
    in bfloat16 where the CPU has bfloat16 instructions. Called with the tokenizer's arrays,
    returns the start and end logits as float32. Safe to call from several threads.

    Raises OnnxGraphError when OpenVINO cannot read the file or it is not the reader's graph.
    """

    def __init__(self, path: Path, threads: int = 0) -> None:
        encoder, self._weight, self._bias = _without_head(read_graph(path), path)
        self._session = OpenVinoSession(encoder, path, threads)

    def __call__(
        self, encoded: dict[str, Any]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        width = encoded["input_ids"].shape[1]
        [hidden] = self._session.run(encoded, [HIDDEN_OUTPUT])
        logits = hidden[:, :width] @ self._weight + self._bias
        return logits[..., 0], logits[..., 1]


def _without_head(
    model: Any, path: Path
) -> tuple[Any, npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The encoder part of the reader graph (ending at the head's input) and the head's weight
    (hidden size × 2) and bias (2,) as float32 arrays."""
    import openvino

    nodes = {node.get_friendly_name(): node for node in model.get_ordered_ops()}
    if HEAD_PRODUCT not in nodes or HEAD_BIAS not in nodes:
        raise OnnxGraphError(f"{path} is not the reader's graph: it has no {HEAD_PRODUCT}")
    product = nodes[HEAD_PRODUCT]
    hidden = product.input_value(0)
    weight = _constant(product.input_value(1).get_node())
    constants = [
        _constant(value.get_node())
        for value in nodes[HEAD_BIAS].input_values()
        if value.get_node().get_type_name() == "Constant"
    ]
    if len(constants) != 1:
        raise OnnxGraphError(f"{path}: {HEAD_BIAS} adds {len(constants)} constants, not a bias")
    [bias] = constants
    if weight.shape != (hidden.get_partial_shape()[-1].get_length(), 2) or bias.shape != (2,):
        raise OnnxGraphError(f"{path}: the head is {weight.shape} + {bias.shape}, not hidden × 2")
    hidden.get_tensor().add_names({HIDDEN_OUTPUT})
    encoder = openvino.Model([hidden], model.get_parameters(), "reader-encoder")
    return encoder, weight, bias


def _constant(node: Any) -> npt.NDArray[np.float32]:
    return np.asarray(node.get_data(), dtype=np.float32)
