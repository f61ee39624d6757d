"""Retrieval: the question's candidate chunks from the index, best first.

Dense retrieval finds paraphrases; BM25 finds the rare words (names, numbers, terms) that a
small embedding model blurs. `HybridRetriever` fuses the two rankings by reciprocal rank fusion,
which needs no score calibration between them: a chunk's fused score is the sum over rankings of
1 / (rrf_k + rank).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from qa.embed import Vectors
from qa.lexical import BM25Index
from qa.types import RetrievedChunk


class Retriever(Protocol):
    def retrieve(self, question: str, query_vector: Vectors, k: int) -> list[RetrievedChunk]: ...


class VectorSearch(Protocol):
    """The dense side of the index: nearest chunk ids by cosine similarity."""

    def search(self, query_vector: Vectors, k: int) -> list[tuple[int, float]]: ...


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], rrf_k: float, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Fuse rankings of ids (best first) into one: score(id) = Σ weight / (rrf_k + rank), rank
    counted from 1. Ties keep the order of first appearance (earlier rankings win)."""
    weights = weights if weights is not None else [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


class DenseRetriever:
    """Nearest chunks by cosine similarity of sentence-transformer embeddings."""

    def __init__(self, vectors: VectorSearch) -> None:
        self.vectors = vectors

    def retrieve(self, question: str, query_vector: Vectors, k: int) -> list[RetrievedChunk]:
        return [
            RetrievedChunk(chunk_id, score)
            for chunk_id, score in self.vectors.search(query_vector, k)
        ]


class BM25Retriever:
    """Chunks by BM25 over their passages (title + text); score is the raw BM25 score."""

    def __init__(self, lexical: BM25Index) -> None:
        self.lexical = lexical

    def retrieve(self, question: str, query_vector: Vectors, k: int) -> list[RetrievedChunk]:
        return [
            RetrievedChunk(chunk_id, score) for chunk_id, score in self.lexical.search(question, k)
        ]


class HybridRetriever:
    """Dense and BM25 rankings, each `depth` deep, fused by reciprocal rank fusion."""

    def __init__(self, vectors: VectorSearch, lexical: BM25Index, rrf_k: float, depth: int) -> None:
        self.vectors = vectors
        self.lexical = lexical
        self.rrf_k = rrf_k
        self.depth = depth

    def retrieve(self, question: str, query_vector: Vectors, k: int) -> list[RetrievedChunk]:
        depth = max(k, self.depth)
        dense = [chunk_id for chunk_id, _ in self.vectors.search(query_vector, depth)]
        lexical = [chunk_id for chunk_id, _ in self.lexical.search(question, depth)]
        fused = reciprocal_rank_fusion([dense, lexical], self.rrf_k)[:k]
        return [RetrievedChunk(chunk_id, score) for chunk_id, score in fused]
