"""The embedding model (qa/models/embedder.py) as an ONNX graph, for questions and passages.

A question is encoded on every ask, one at a time, where torch spends much of the time on
per-operator dispatch; as a graph it runs without torch, and so do passages, so a server's
workers never run torch to take a write. The graph is the sentence-transformers model's
transformer, its mean pooling and the L2 normalisation, so it returns the same unit vectors as
`SentenceTransformer.encode`; the text is tokenized by the model package's own tokenizer, cut at
the model's `max_seq_length`, which the export records in the graph's metadata so a cached graph
needs no torch model to run.

This module is the embedder's lower half: it imports nothing of qa/models/embedder.py, which
builds on it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from qa.models.onnx_runtime import (
    TOKENIZER_INPUTS,
    GraphSession,
    OnnxGraphError,
    cache_path,
    export_graph,
    traceable,
)

if TYPE_CHECKING:
    import torch

OUTPUT_NAME = "sentence_embedding"
_MAX_TOKENS_KEY = "max_seq_length"
_DIMENSION_KEY = "dimension"


def model_files(model_path: Path) -> list[Path]:
    """The files sentence-transformers reads for the model in `model_path`: the folder's own,
    and those of the module folders its modules.json names (a hub copy's onnx/ or openvino/
    folders are not part of the model and would only slow the hashing)."""
    folders = [model_path]
    modules = model_path / "modules.json"
    if modules.is_file():
        entries = json.loads(modules.read_text(encoding="utf-8"))
        folders += [model_path / entry["path"] for entry in entries if entry.get("path")]
    return sorted(
        path for folder in folders if folder.is_dir() for path in folder.iterdir() if path.is_file()
    )


def onnx_cache_path(model_path: Path, cache_dir: Path) -> Path:
    """Where the export of the model in `model_path` lives, named by its files' content."""
    return cache_path(cache_dir, "embedder", model_files(model_path))


def _pooling_mode(pooling: Any) -> str:
    """The pooling's mode ("mean", "cls"…): sentence-transformers 6 keeps it in an attribute,
    5 gives it by a method."""
    mode = getattr(pooling, "pooling_mode", None)
    if mode is None and hasattr(pooling, "get_pooling_mode_str"):
        mode = pooling.get_pooling_mode_str()
    return str(mode)


def _embedding_module(model: Any) -> torch.nn.Module:
    """The transformer, mean pooling over the attention mask and L2 normalisation, as
    sentence-transformers computes them; raises OnnxGraphError for a model made otherwise (the
    graph would silently give other vectors), or one whose default prompt `encode` would put
    before every text (the graph sees the text alone)."""
    kinds = [type(module).__name__ for module in model]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]) or (
        _pooling_mode(model[1]) != "mean"
    ):
        raise OnnxGraphError(
            f"the ONNX encoder exports a Transformer with mean Pooling (and Normalize); "
            f"this model is {kinds}: set embedding.model to a model made that way"
        )
    prompt = getattr(model, "default_prompt_name", None)
    if prompt:
        raise OnnxGraphError(
            f"this model puts its {prompt!r} prompt before every text, which the ONNX encoder "
            "does not: set embedding.model to a model without a default prompt"
        )

    return traceable(model[0].auto_model, _mean_normalised)


def _mean_normalised(output: Any, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token vectors under the mask, L2-normalised (sentence-transformers' Pooling
    "mean" and Normalize, to the same epsilons)."""
    import torch

    hidden = output.last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, p=2.0, dim=1)


def _example_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two single-text rows, the second padded (see qa.models.onnx_runtime.export_graph)."""
    import torch

    input_ids = torch.tensor([[101, 7592, 2088, 102], [101, 1060, 102, 0]])
    attention_mask = (input_ids != 0).long()
    return input_ids, attention_mask, torch.zeros_like(input_ids)


def export_embedder_onnx(model: Any, path: Path) -> Path:
    """Export the SentenceTransformer `model` to `path`."""
    module = _embedding_module(model)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in TOKENIZER_INPUTS}
    dynamic[OUTPUT_NAME] = {0: "batch"}
    metadata = {
        _MAX_TOKENS_KEY: str(model.max_seq_length),
        _DIMENSION_KEY: str(model.get_embedding_dimension()),
    }
    return export_graph(module, _example_inputs(), path, [OUTPUT_NAME], dynamic, metadata)


class OnnxEncoder:
    """Texts to unit-length float32 vectors through an exported embedder graph. Thread-safe."""

    def __init__(self, session: GraphSession, tokenizer: Any) -> None:
        try:
            self.max_tokens = int(session.metadata[_MAX_TOKENS_KEY])
            self.dimension = int(session.metadata[_DIMENSION_KEY])
        except (KeyError, ValueError) as error:
            raise OnnxGraphError(
                f"{session.path} is not an embedder graph exported by qa (no {error} in its "
                "metadata); delete it and it is exported again"
            ) from error
        self._session = session
        self._tokenizer = tokenizer
        # A fast tokenizer sets truncation and padding on its shared Rust object for each call,
        # which fails ("Already borrowed") when server threads tokenize at once.
        self._lock = threading.Lock()

    def encode(
        self, texts: Sequence[str], batch_size: int, progress: bool = False
    ) -> npt.NDArray[np.float32]:
        """Shape (len(texts), dimension); rows are L2-normalised, in the order of `texts`.
        Texts longer than `max_tokens` tokens are cut, as sentence-transformers cuts them.

        Batches are made of texts of similar length, longest first, as sentence-transformers
        makes them: a batch is padded to its longest text, and padding costs as much as text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="encoding", unit="batch")
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in starts:
            rows = order[start : start + batch_size]
            vectors[rows] = self._encode_batch([texts[row] for row in rows])
        return vectors

    def _encode_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        with self._lock:
            encoded = self._tokenizer(
                list(texts),
                padding=True,
                truncation="longest_first",
                max_length=self.max_tokens,
                return_tensors="np",
            )
        [vectors] = self._session.run(encoded, [OUTPUT_NAME])
        return vectors
