"""Builds the heavy parts once, at the edge (CLI, app factory), and hands them on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qa.answer import SentenceAnswerer
from qa.config import Settings
from qa.embed import Embedder, SentenceTransformerEmbedder
from qa.index import Index
from qa.ingest import Ingester
from qa.pipeline import Pipeline
from qa.retrieve import DenseRetriever
from qa.text import SpacySplitter, Splitter


@dataclass
class Components:
    settings: Settings
    embedder: Embedder
    index: Index
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


def make_embedder(settings: Settings) -> Embedder:
    embedding = settings.embedding
    return SentenceTransformerEmbedder(embedding.model, embedding.batch_size, embedding.device)


def open_components(
    settings: Settings,
    embedder: Embedder | None = None,
    create: bool = False,
    index_dir: Path | None = None,
) -> Components:
    """Open the index folder for this embedder (loading the model if none is passed in)."""
    embedder = embedder or make_embedder(settings)
    index = Index.open(
        index_dir or settings.index_dir,
        embedder,
        settings.chunking.sentences_per_chunk,
        settings.chunking.overlap,
        create=create,
    )
    pipeline = Pipeline(
        index,
        embedder,
        DenseRetriever(index),
        SentenceAnswerer(settings.answer.min_confidence),
        settings.retrieval.candidate_chunks,
    )
    return Components(settings, embedder, index, pipeline)
