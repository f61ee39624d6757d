"""An ONNX Runtime path for the extractive reader (qa/reader.py).

Torch's CPU kernels spend most of a small reader batch on dispatch and keep every weight in
float32; an int8-weight ONNX graph is smaller and answers a batch of news sentences faster on
the project's 2-core machines, without torch at inference time. The export still needs torch
(and the model from `qa.reader.load_reader`); the session does not.

The exported graph takes the tokenizer's `input_ids`, `attention_mask` and `token_type_ids`
(int64, any batch size and length) and returns the start and end logits, so the reader's own
tokenization and `Reading` construction stay as they are.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import onnxruntime
    import torch

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAMES = ("start_logits", "end_logits")
OPSET = 17
# Chosen on the bundled reader and 8 news-length pairs: signed int8 weights with a scale per
# output channel kept the logits closest to torch's (largest difference 1.23 against 1.90 for
# QUInt8 and 2.56 for per-tensor QInt8) and ran fastest (MLAS's u8s8 kernels; QUInt8 weights
# took nearly twice as long), at the same size.
WEIGHT_TYPE = "QInt8"
PER_CHANNEL = True
_HASH_CHARS = 16


def onnx_cache_path(weights: Path, cache_dir: Path, quantized: bool = True) -> Path:
    """Where the export of `weights` lives: named by their content, so retrained weights (same
    file name, new content) get a new export instead of silently reusing the old graph."""
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    suffix = ".int8.onnx" if quantized else ".onnx"
    return cache_dir / f"reader-{digest.hexdigest()[:_HASH_CHARS]}{suffix}"


def _logits_module(model: Any) -> torch.nn.Module:
    """The HF model's forward takes keyword options (`use_cache`, `return_dict`) that the tracer
    cannot pass and returns a ModelOutput it cannot name; this wrapper fixes both, and fixes the
    inputs' order to INPUT_NAMES."""
    import torch

    class _Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> tuple[torch.Tensor, torch.Tensor]:
            output = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                return_dict=True,
            )
            return output.start_logits, output.end_logits

    return _Logits(model).eval()


def _example_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two rows, the second padded: traced on a mask with zeros, the graph keeps the masking
    that transformers would skip for an all-ones mask outside tracing."""
    import torch

    input_ids = torch.tensor([[101, 2040, 102, 1037, 2158, 102], [101, 2040, 102, 2053, 102, 0]])
    attention_mask = (input_ids != 0).long()
    token_type_ids = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]])
    return input_ids, attention_mask, token_type_ids


def export_reader_onnx(model: Any, path: Path, quantize: bool = True) -> Path:
    """Export the reader `model` (as `qa.reader.load_reader` returns it) to `path`, with int8
    weights when `quantize`.

    The file appears whole or not at all (written under a temporary name beside it, then
    renamed), so a crash or a concurrent process never leaves a truncated graph under the cache
    name. Uses the TorchScript exporter: it needs no onnxscript, and the graph it makes for this
    encoder matches torch's logits to float32 rounding.
    """
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, *OUTPUT_NAMES)}
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as work:
        exported = Path(work) / "reader.onnx"
        with warnings.catch_warnings():
            # The legacy exporter's deprecation notice, and tracer notes on transformers' shape
            # checks, which only decide branches that hold for every input of this encoder.
            warnings.simplefilter("ignore")
            with torch.inference_mode(False), torch.no_grad():
                torch.onnx.export(
                    _logits_module(model),
                    _example_inputs(),
                    str(exported),
                    dynamo=False,
                    opset_version=OPSET,
                    input_names=list(INPUT_NAMES),
                    output_names=list(OUTPUT_NAMES),
                    dynamic_axes=dynamic,
                    do_constant_folding=True,
                )
        final = exported
        if quantize:
            from onnxruntime.quantization import QuantType, quant_pre_process, quantize_dynamic

            # Unprocessed input changes neither the logits nor the speed here, but makes
            # quantize_dynamic warn through logging.warning, which installs a stderr handler on
            # the root logger of the whole process. (Symbolic shape inference gives up on this
            # graph; ONNX's own shape inference is enough.)
            prepared = Path(work) / "reader.prepared.onnx"
            quant_pre_process(exported, prepared, skip_symbolic_shape=True)
            final = Path(work) / "reader.int8.onnx"
            quantize_dynamic(
                prepared, final, weight_type=QuantType[WEIGHT_TYPE], per_channel=PER_CHANNEL
            )
        os.replace(final, path)  # same folder, so one atomic rename
    return path


class OnnxReaderSession:
    """The exported reader under ONNX Runtime, CPU only.

    One intra-op thread by default: the server reads several questions at once on a 2-core
    machine, where more threads per session contend rather than help.
    """

    def __init__(self, path: Path, intra_op_num_threads: int = 1) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = intra_op_num_threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = path
        self._session: onnxruntime.InferenceSession = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [node.name for node in self._session.get_inputs()]

    def run(
        self, encoded: Mapping[str, npt.NDArray[np.int64]]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Start and end logits, (batch, sequence) each. Takes the tokenizer's output as it is
        (extra keys such as `offset_mapping` are left out), so callers need not filter it."""
        missing = [name for name in self._inputs if name not in encoded]
        if missing:
            raise KeyError(f"the reader graph needs {missing}; got {sorted(encoded)}")
        feed = {name: np.asarray(encoded[name], dtype=np.int64) for name in self._inputs}
        starts, ends = self._session.run(list(OUTPUT_NAMES), feed)
        return np.asarray(starts, dtype=np.float32), np.asarray(ends, dtype=np.float32)
