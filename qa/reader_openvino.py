"""An OpenVINO path for the extractive reader (qa/reader.py): its encoder in bfloat16.

This CPU's AVX-512 bfloat16 instructions do twice float32's multiply-adds per instruction.
ONNX Runtime's CPU kernels have no bfloat16 matrix product; torch in bfloat16 (tried in
session 17) dispatches each layer from Python under the GIL, which a `qa serve` worker's
requests share, and lost to ONNX Runtime there. OpenVINO runs the whole graph in native code
with the GIL released. It reads the float32 ONNX graph the `onnx` runtime exports
(qa/reader_onnx.py), so the two share one export and cache.

The start/end head is cut off the graph and applied here in float32 to the encoder's output:
logits of bfloat16's 8 bits of precision would tie near-equal spans.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.onnx_runtime import TOKENIZER_INPUTS, OnnxGraphError, available_cores

# Names the TorchScript export gives the head's weight product and its bias addition
# (qa/reader_onnx.py; a transformers BertForQuestionAnswering wrapped in `inner`).
HEAD_PRODUCT = "/inner/qa_outputs/MatMul"
HEAD_BIAS = "/inner/qa_outputs/Add"
# OpenVINO keeps a compiled plan for each input shape it meets, about 2 MB each: a `qa serve`
# worker on the 19k-article archive grew to 1.4 GB after 60 s of 16 clients. Inputs are padded
# to a multiple of SHAPE_BUCKET_TOKENS (at most 8 batch sizes × 20 widths then) and at most
# SHAPE_PLANS plans are kept: 0.9 GB, the same throughput (28.3 → 27.5 answers/s, one run each)
# and single-client p50 (45.6 → 45.3 ms). Keeping none cost a third more time a run.
SHAPE_BUCKET_TOKENS = 8
SHAPE_PLANS = 100

logger = logging.getLogger(__name__)


class OpenVinoReader:
    """The reader graph at `path` compiled by OpenVINO for the CPU on `threads` threads (0: one
    per available core), its encoder in bfloat16 where the CPU has bfloat16 instructions and in
    float32 elsewhere (with a warning). Called with the tokenizer's arrays, returns the start
    and end logits as float32. Safe to call from several threads: each has its own request.

    Raises OnnxGraphError when OpenVINO cannot read the file or it is not the reader's graph.
    """

    def __init__(self, path: Path, threads: int = 0) -> None:
        import openvino

        core = openvino.Core()
        try:
            model = core.read_model(str(path))
        except Exception as error:  # OpenVINO raises RuntimeError subclasses, not its own base
            raise OnnxGraphError(f"OpenVINO cannot read {path}: {error}") from error
        encoder, self._weight, self._bias = _without_head(model, path)
        precision = "bf16"
        if "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            logger.warning("this CPU has no bfloat16 instructions: the reader runs in float32")
            precision = "f32"
        self._compiled = core.compile_model(
            encoder,
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": precision,
                "INFERENCE_NUM_THREADS": threads or available_cores(),
                "PERFORMANCE_HINT": "LATENCY",
                # Pinned, a one-thread reader ran on the first core in every `qa serve`
                # worker (16 clients: 20 answers/s, the machine two-thirds busy; unpinned 31).
                "ENABLE_CPU_PINNING": False,
                "CPU_RUNTIME_CACHE_CAPACITY": SHAPE_PLANS,
            },
        )
        self._requests = threading.local()

    def __call__(
        self, encoded: dict[str, Any]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        width = encoded["input_ids"].shape[1]
        # Right padding: masked out, so the real tokens' outputs do not change.
        padding = ((0, 0), (0, -width % SHAPE_BUCKET_TOKENS))
        feed = {
            name: np.pad(np.asarray(encoded[name], dtype=np.int64), padding)
            for name in TOKENIZER_INPUTS
        }
        hidden = np.asarray(request.infer(feed)[0], dtype=np.float32)[:, :width]
        logits = hidden @ self._weight + self._bias
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
    encoder = openvino.Model([hidden], model.get_parameters(), "reader-encoder")
    return encoder, weight, bias


def _constant(node: Any) -> npt.NDArray[np.float32]:
    return np.asarray(node.get_data(), dtype=np.float32)
