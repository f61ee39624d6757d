"""OpenVINO for the exported ONNX graphs: their matrix products in bfloat16 (`openvino-bf16`).

A CPU's AVX-512 bfloat16 instructions do twice float32's multiply-adds per instruction, and
ONNX Runtime's CPU kernels have no bfloat16 matrix product. OpenVINO runs the whole graph in
native code with the GIL released, from the same float32 ONNX file the `onnx` runtime exports,
so the two share one export and cache. Without those instructions OpenVINO computes in float32
and is no faster than ONNX Runtime, which "auto" then picks
(qa.models.onnx_runtime.resolve_runtime).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.models.onnx_runtime import TOKENIZER_INPUTS, OnnxGraphError, available_cores

# OpenVINO keeps a compiled plan for each input shape it meets, so a `qa serve` worker meeting
# every width grows without bound. Inputs are padded to a multiple of SHAPE_BUCKET_TOKENS (at
# most 8 batch sizes × 20 widths then) and at most SHAPE_PLANS plans are kept: bounded memory at
# the same speed, where keeping none would recompile on every run.
SHAPE_BUCKET_TOKENS = 8
SHAPE_PLANS = 100

logger = logging.getLogger(__name__)


def read_graph(path: Path) -> Any:
    """The ONNX graph at `path` as an OpenVINO model; OnnxGraphError when OpenVINO cannot read
    it (missing, truncated, not ONNX)."""
    import openvino

    try:
        return openvino.Core().read_model(str(path))
    except Exception as error:  # OpenVINO raises RuntimeError subclasses, not its own base
        raise OnnxGraphError(f"OpenVINO cannot read {path}: {error}") from error


class OpenVinoSession:
    """`model` (read from `path` by `read_graph`, perhaps cut) compiled by OpenVINO for the CPU
    on `threads` threads (0: one per available core), in bfloat16 where the CPU has bfloat16
    instructions and in float32 elsewhere (with a warning). Runs as an OnnxSession does, and
    is safe to call from several threads: each has its own request.
    """

    def __init__(self, model: Any, path: Path, threads: int = 0) -> None:
        import openvino

        core = openvino.Core()
        precision = "bf16"
        if "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            logger.warning("this CPU has no bfloat16 instructions: %s runs in float32", path.name)
            precision = "f32"
        self.path = path
        self.metadata = _metadata(model)
        self._output_names = [set(output.get_names()) for output in model.outputs]
        self._compiled = core.compile_model(
            model,
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": precision,
                "INFERENCE_NUM_THREADS": threads or available_cores(),
                "PERFORMANCE_HINT": "LATENCY",
                # Pinned, a one-thread reader runs on the first core in every `qa serve`
                # worker, and the other cores idle.
                "ENABLE_CPU_PINNING": False,
                "CPU_RUNTIME_CACHE_CAPACITY": SHAPE_PLANS,
            },
        )
        self._requests = threading.local()

    @classmethod
    def open(cls, path: Path, threads: int = 0) -> OpenVinoSession:
        """The graph at `path`, whole (see `load_or_export`'s openers)."""
        return cls(read_graph(path), path, threads)

    def run(
        self, encoded: Mapping[str, Any], outputs: Sequence[str]
    ) -> list[npt.NDArray[np.float32]]:
        """The `outputs`, as float32 arrays. Takes the tokenizer's output as it is (extra keys
        are left out); raises KeyError naming a missing input. Outputs with a token axis come
        padded to a multiple of SHAPE_BUCKET_TOKENS: cut them to the input's width."""
        missing = [name for name in TOKENIZER_INPUTS if name not in encoded]
        if missing:
            raise KeyError(f"the graph {self.path.name} needs {missing}; got {sorted(encoded)}")
        positions = [
            next((i for i, names in enumerate(self._output_names) if name in names), None)
            for name in outputs
        ]
        if None in positions:
            raise KeyError(f"the graph {self.path.name} has no output among {list(outputs)}")
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        width = np.shape(encoded["input_ids"])[1]
        # Right padding: masked out, so the real tokens' outputs do not change.
        padding = ((0, 0), (0, -width % SHAPE_BUCKET_TOKENS))
        feed = {
            name: np.pad(np.asarray(encoded[name], dtype=np.int64), padding)
            for name in TOKENIZER_INPUTS
        }
        # The padded arrays are this call's own, so OpenVINO may read them in place.
        results = request.infer(feed, share_inputs=True)
        return [np.asarray(results[i], dtype=np.float32) for i in positions]


def _metadata(model: Any) -> dict[str, str]:
    """The ONNX file's metadata properties, which OpenVINO keeps under "framework"."""
    info = model.get_rt_info()
    if "framework" not in info:
        return {}
    return {
        str(key): model.get_rt_info(["framework", str(key)]).astype(str)
        for key in dict(info["framework"])
    }
