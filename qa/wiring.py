"""Builds the heavy parts once, at the edge (CLI, app factory), and hands them on."""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from qa.answering.pipeline import Pipeline, build_pipeline
from qa.config import ConfigError, Settings, VectorSettings
from qa.extras import install_hint
from qa.ingest.ingester import Ingester
from qa.ingest.sentences import SpacySplitter, Splitter
from qa.models.embedder import Embedder, SentenceTransformerEmbedder
from qa.models.onnx_runtime import resolve_runtime
from qa.models.reader import SpanReader
from qa.store.database import Database, open_database
from qa.store.full_text import PostgresLexicalIndex
from qa.store.index import STORE, Index
from qa.store.lexical import BM25Index, LexicalIndex
from qa.store.vectors import FaissVectorIndex, MilvusVectorIndex, VectorIndex

logger = logging.getLogger(__name__)


@dataclass
class Components:
    settings: Settings
    embedder: Embedder
    index: Index
    lexical: LexicalIndex
    pipeline: Pipeline

    def ingester(self, splitter: Splitter | None = None) -> Ingester:
        return Ingester(
            self.index,
            self.embedder,
            splitter or SpacySplitter(),
            self.settings.ingest.batch_articles,
        )

    def close(self) -> None:
        self.index.close()


def installed_runtime(runtime: str, setting: str, bfloat16: bool | None = None) -> str:
    """`runtime`, the value of `setting`, as this install can run it. OpenVINO is an extra:
    without it, "auto" on a CPU with bfloat16 instructions (`bfloat16`, by default read from the
    CPU) runs "onnx" instead, with a warning, and "openvino-bf16" raises ConfigError naming the
    extra. Whether OpenVINO is there is looked up, not imported: a `qa serve` master must not
    start OpenVINO (qa.models.onnx_runtime.cpu_flags)."""
    if resolve_runtime(runtime, bfloat16) != "openvino-bf16":
        return runtime
    if importlib.util.find_spec("openvino") is not None:
        return runtime
    if runtime == "auto":
        logger.warning(
            "%s auto: this CPU would run openvino-bf16, which needs %s; running onnx instead",
            setting,
            install_hint("openvino"),
        )
        return "onnx"
    raise ConfigError(f"{setting}: {runtime} needs {install_hint('openvino')}")


def make_embedder(settings: Settings) -> Embedder:
    embedding = settings.embedding
    runtime = installed_runtime(embedding.runtime, "embedding.runtime")
    return SentenceTransformerEmbedder(embedding.model, embedding.batch_size, runtime=runtime)


def make_reader(settings: Settings) -> SpanReader | None:
    """The bundled reader, or None when answer.reader is off. It completes the encoder it was
    fine-tuned from, which stays the same when embedding.model names another model."""
    if not settings.answer.reader:
        return None
    runtime = installed_runtime(settings.answer.reader_runtime, "answer.reader_runtime")
    return SpanReader(runtime=runtime)


def make_vectors(settings: VectorSettings, folder: Path, dimension: int) -> VectorIndex:
    """The configured vector backend: FAISS files in the index folder, or a Milvus collection."""
    if settings.backend == "faiss":
        return FaissVectorIndex(
            folder,
            dimension,
            settings.faiss_kind,
            settings.hnsw_neighbors,
            settings.hnsw_search_depth,
            settings.ivf_probes,
            settings.ivf_min_train_vectors,
        )
    if settings.backend == "milvus":
        if not settings.milvus_uri:
            raise ConfigError("vectors.backend is milvus but vectors.milvus_uri is empty")
        return MilvusVectorIndex(
            settings.milvus_uri, settings.milvus_collection, dimension, settings.milvus_token
        )
    raise ConfigError(f"vectors.backend must be 'faiss' or 'milvus', not {settings.backend!r}")


def make_lexical_index(index: Index) -> LexicalIndex:
    """Keyword search where the store is: inside PostgreSQL (full-text search over a GIN index,
    so replicas hold nothing corpus-sized and see each other's writes at once), else BM25 in
    this process's memory, kept in step with the store's generation."""
    if index.store.database.full_text_search:
        return PostgresLexicalIndex(index.store)
    return BM25Index(index)


def open_components(
    settings: Settings,
    embedder: Embedder | None = None,
    create: bool = False,
    index_dir: Path | None = None,
    reader: SpanReader | None = None,
) -> Components:
    """Open the index folder for this embedder (loading the model if none is passed in); the
    reader is made from the settings unless one is passed in (models load on first use)."""
    embedder = embedder or make_embedder(settings)
    reader = reader or make_reader(settings)
    folder = index_dir or settings.index_dir

    def database() -> Database:
        return open_database(settings.store.url, folder, STORE)

    def vectors(dimension: int) -> VectorIndex:
        return make_vectors(settings.vectors, folder, dimension)

    index = Index.open(
        folder,
        embedder,
        settings.chunking.sentences_per_chunk,
        settings.chunking.overlap,
        create=create,
        open_database=database,
        open_vectors=vectors,
    )
    lexical = make_lexical_index(index)
    pipeline = build_pipeline(index, lexical, embedder, settings, reader=reader)
    return Components(settings, embedder, index, lexical, pipeline)
