"""What the ONNX paths of the reader (qa/models/reader_onnx.py) and the embedder
(qa/models/embedder_onnx.py) share: one way to name, export, cache and run a graph, and the
choice of runtime that runs it.

Both models are served as float32 ONNX graphs; torch only trains them and exports the graphs.
A graph is exported once from the torch model with the TorchScript exporter (it needs no
onnxscript) and cached under a name made from the content of the files it was made from, so new
weights get a new graph instead of silently reusing an old one. Later starts run only the
graph, under ONNX Runtime or OpenVINO (qa/models/openvino_runtime.py), not torch; a cached
graph that cannot be loaded (truncated, overwritten) is exported again once rather than failing
every start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import onnxruntime
    import torch

# How a model's graph may run: under ONNX Runtime in float32 ("onnx"), or under OpenVINO in
# bfloat16 ("openvino-bf16", qa/models/openvino_runtime.py); "auto" picks one for this CPU
# (resolve_runtime).
RUNTIMES = ("auto", "onnx", "openvino-bf16")
# /proc/cpuinfo flags of the instructions OpenVINO runs bfloat16 matrix products on.
BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# What a BERT tokenizer returns and both graphs take, in the order their forward takes them.
TOKENIZER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
_HASH_CHARS = 16
# What load_or_export's caller opens a graph as.
Opened = TypeVar("Opened")

logger = logging.getLogger(__name__)


class OnnxGraphError(RuntimeError):
    """A graph could not be exported, or ONNX Runtime cannot load it even freshly exported."""


def available_cores() -> int:
    """The cores this process may run on (a container's or `taskset`'s share, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_cache_dir() -> Path:
    """Where exported graphs are kept: $XDG_CACHE_HOME/qa, else ~/.cache/qa."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa"


def cache_path(cache_dir: Path, stem: str, sources: Iterable[Path]) -> Path:
    """`cache_dir/STEM-DIGEST.onnx`, DIGEST from the content of `sources` in order: retrained
    weights under the same file name get a new export."""
    digest = hashlib.sha256()
    for source in sources:
        with source.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return cache_dir / f"{stem}-{digest.hexdigest()[:_HASH_CHARS]}.onnx"


def traceable(model: Any, head: Callable[[Any, torch.Tensor], Any]) -> torch.nn.Module:
    """The transformers `model` as the tracer needs it: TOKENIZER_INPUTS as positional tensors
    in that order, the keyword options it cannot pass (`return_dict`) set here, and
    `head(output, attention_mask)` turning the ModelOutput, which it cannot name, into the
    graph's output tensors."""
    import torch

    class _Traceable(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> Any:
            output = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                return_dict=True,
            )
            return head(output, attention_mask)

    return _Traceable().eval()


def export_graph(
    module: torch.nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    path: Path,
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Export `module` (whose forward takes TOKENIZER_INPUTS in order) to `path` in float32,
    with `metadata` as the graph's custom metadata.

    The file appears whole or not at all (written under a temporary name beside it, then
    renamed), so a crash or a concurrent process never leaves a truncated graph under the cache
    name. `example_inputs` should include a padded row: traced on an all-ones mask, the graph
    would lose the masking that transformers skips for such a mask.
    """
    import onnx
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as work:
        exported = Path(work) / "graph.onnx"
        with warnings.catch_warnings():
            # The legacy exporter's deprecation notice, and tracer notes on transformers' shape
            # checks, which only decide branches that hold for every input of these encoders.
            warnings.simplefilter("ignore")
            with torch.inference_mode(False), torch.no_grad():
                torch.onnx.export(
                    module.eval(),
                    example_inputs,
                    str(exported),
                    dynamo=False,
                    opset_version=OPSET,
                    input_names=list(TOKENIZER_INPUTS),
                    output_names=list(output_names),
                    dynamic_axes={name: dict(axes) for name, axes in dynamic_axes.items()},
                    do_constant_folding=True,
                )
        if metadata:
            graph = onnx.load(str(exported))
            onnx.helper.set_model_props(graph, dict(metadata))
            onnx.save(graph, str(exported))
        os.replace(exported, path)  # same folder, so one atomic rename
    return path


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The instruction-set flags the kernel lists for this CPU (none where there is no such
    list). Read from the file rather than asked of OpenVINO: a `qa serve` master resolves its
    runtimes before forking, and must not start OpenVINO's thread pool there (see
    SpanReader.prepare)."""
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    lines = [line for line in text.splitlines() if line.startswith("flags")]
    return frozenset(flag for line in lines for flag in line.partition(":")[2].split())


def check_runtime(runtime: str, what: str) -> None:
    """Raises ValueError naming RUNTIMES when `runtime` (the setting `what`) is not one of them."""
    if runtime not in RUNTIMES:
        raise ValueError(f"{what} must be one of {', '.join(RUNTIMES)}, not {runtime!r}")


def resolve_runtime(runtime: str, bfloat16: bool | None = None) -> str:
    """The runtime to use for a configured one: "auto" becomes "openvino-bf16" on a CPU with
    bfloat16 instructions (`bfloat16`, by default read from `cpu_flags()`) and "onnx" elsewhere,
    the others stay. Both give float32's answers; OpenVINO is the faster only where it can
    multiply in bfloat16, and computes in float32 elsewhere (docs/decisions/openvino-bf16.md)."""
    if runtime != "auto":
        return runtime
    if bfloat16 is None:
        bfloat16 = cpu_has_bfloat16()
    return "openvino-bf16" if bfloat16 else "onnx"


def cpu_has_bfloat16() -> bool:
    """Whether this CPU lists instructions OpenVINO multiplies bfloat16 with (BFLOAT16_FLAGS)."""
    return not BFLOAT16_FLAGS.isdisjoint(cpu_flags())


class GraphSession(Protocol):
    """An exported graph ready to run: an OnnxSession, or qa.models.openvino_runtime's."""

    path: Path
    metadata: dict[str, str]

    def run(
        self, encoded: Mapping[str, Any], outputs: Sequence[str]
    ) -> list[npt.NDArray[np.float32]]: ...


class OnnxSession:
    """An exported graph under ONNX Runtime, CPU only.

    `threads` intra-op threads, 0 meaning one per available core, so that a lone `qa ask` reads
    on every core. The pool is made with the session and does not cross a fork, so `qa serve`
    workers make their own sessions (qa/service/server.py). Raises OnnxGraphError when the file
    is missing or not a graph ONNX Runtime can load.
    """

    def __init__(self, path: Path, threads: int = 0) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or available_cores()
        # Idle pool threads sleep instead of spinning: the reader's and the embedder's
        # sessions each have a pool, and spinning ones take the cores from each other.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = path
        try:
            self._session: onnxruntime.InferenceSession = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # ONNX Runtime's errors share no base class but Exception
            raise OnnxGraphError(f"ONNX Runtime cannot load {path}: {error}") from error
        self.input_names = [node.name for node in self._session.get_inputs()]
        self.metadata: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)

    def run(
        self, encoded: Mapping[str, Any], outputs: Sequence[str]
    ) -> list[npt.NDArray[np.float32]]:
        """The `outputs`, as float32 arrays. Takes the tokenizer's output as it is (extra keys
        such as `offset_mapping` are left out); raises KeyError naming a missing input."""
        missing = [name for name in self.input_names if name not in encoded]
        if missing:
            raise KeyError(f"the graph {self.path.name} needs {missing}; got {sorted(encoded)}")
        feed = {name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names}
        results = self._session.run(list(outputs), feed)
        return [np.asarray(result, dtype=np.float32) for result in results]


def load_or_export(
    path: Path, export: Callable[[Path], object], open_graph: Callable[[Path], Opened]
) -> Opened:
    """The cached graph at `path` as `open_graph` opens it (an OnnxSession, an OpenVINO
    model), first made by `export(path)` when it is missing.

    A cached file `open_graph` refuses (OnnxGraphError: truncated, overwritten) is exported
    again, with a warning naming it; when the fresh export is refused too, OnnxGraphError says
    so and how to avoid the graph.
    """
    if path.is_file():
        try:
            return open_graph(path)
        except OnnxGraphError as error:
            logger.warning("exporting %s again: the cached graph is unreadable (%s)", path, error)
    try:
        export(path)
    except OSError as error:
        raise OnnxGraphError(
            f"cannot write the ONNX graph to {path.parent} ({error}): point XDG_CACHE_HOME at a "
            "writable folder"
        ) from error
    try:
        return open_graph(path)
    except OnnxGraphError as error:
        raise OnnxGraphError(
            f"{error}; it was just exported, so the export itself fails here: report the versions "
            "of torch, ONNX Runtime and OpenVINO"
        ) from error
