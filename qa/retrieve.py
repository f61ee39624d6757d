"""Retrieval: the question's candidate chunks from the index, best first."""

from __future__ import annotations

from typing import Protocol

from qa.embed import Vectors
from qa.index import Index
from qa.types import RetrievedChunk


class Retriever(Protocol):
    def retrieve(self, question: str, query_vector: Vectors, k: int) -> list[RetrievedChunk]: ...


class DenseRetriever:
    """Nearest chunks by cosine similarity of sentence-transformer embeddings."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def retrieve(self, question: str, query_vector: Vectors, k: int) -> list[RetrievedChunk]:
        return [
            RetrievedChunk(chunk_id, score)
            for chunk_id, score in self.index.search(query_vector, k)
        ]
