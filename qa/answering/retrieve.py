"""Retrieval: the question's candidate chunks from the index, best first.

Dense retrieval finds paraphrases; BM25 finds the rare words (names, numbers, terms) that a
small embedding model blurs. `HybridRetriever` fuses the two rankings by reciprocal rank fusion,
which needs no score calibration between them: a chunk's fused score is the sum over rankings of
1 / (rrf_k + rank).

A question may be asked of some articles only (`ArticleFilter`: a period of publication, some
sources); both rankings then hold only those articles' chunks, so neither signal can bring in
another article through the fusion.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Protocol

from qa.models.embedder import Vectors
from qa.store.lexical import LexicalIndex
from qa.types import ArticleFilter, RetrievedChunk

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidDateError(ValueError):
    """A filter date is not a calendar day written YYYY-MM-DD, or the period ends before it
    starts."""


def parse_day(text: str, name: str = "the date") -> dt.date:
    """The day `text` names, written exactly YYYY-MM-DD; raises InvalidDateError (its message
    starts with `name`) for anything else."""
    if not _DAY.fullmatch(text):
        raise InvalidDateError(f"{name} must be a day written YYYY-MM-DD, not {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise InvalidDateError(f"{name} is not a calendar day: {text!r} ({error})") from error


def article_filter(
    since: dt.date | None = None, until: dt.date | None = None, sources: Iterable[str] = ()
) -> ArticleFilter | None:
    """The articles a question is asked of: published from `since` to `until` (both included;
    an undated article is left out once either is given) and, when `sources` names any, from
    one of them. None when nothing is restricted. Raises InvalidDateError when `since` is after
    `until`."""
    if since is not None and until is not None and since > until:
        raise InvalidDateError(
            f"the period is empty: since ({since.isoformat()}) is after until ({until.isoformat()})"
        )
    names = frozenset(name.strip() for name in sources if name.strip())
    if since is None and until is None and not names:
        return None
    return ArticleFilter(sources=names or None, published_from=since, published_to=until)


class Retriever(Protocol):
    def retrieve(
        self, question: str, query_vector: Vectors, k: int, where: ArticleFilter | None = None
    ) -> list[RetrievedChunk]:
        """Up to `k` chunks, best first, of the articles matching `where` (all when None)."""
        ...


class VectorSearch(Protocol):
    """The dense side of the index: nearest chunk ids by cosine similarity, among the chunks of
    the articles matching `where` (all when None)."""

    def search(
        self, query_vector: Vectors, k: int, where: ArticleFilter | None = None
    ) -> list[tuple[int, float]]: ...


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

    def retrieve(
        self, question: str, query_vector: Vectors, k: int, where: ArticleFilter | None = None
    ) -> list[RetrievedChunk]:
        return [
            RetrievedChunk(chunk_id, score)
            for chunk_id, score in self.vectors.search(query_vector, k, where)
        ]


class BM25Retriever:
    """Chunks by keyword search over their passages (title + text: BM25, or PostgreSQL's
    full-text ranking); score is the lexical index's own."""

    def __init__(self, lexical: LexicalIndex) -> None:
        self.lexical = lexical

    def retrieve(
        self, question: str, query_vector: Vectors, k: int, where: ArticleFilter | None = None
    ) -> list[RetrievedChunk]:
        return [
            RetrievedChunk(chunk_id, score)
            for chunk_id, score in self.lexical.search(question, k, where)
        ]


class HybridRetriever:
    """Dense and keyword rankings, each `depth` deep, fused by reciprocal rank fusion."""

    def __init__(
        self, vectors: VectorSearch, lexical: LexicalIndex, rrf_k: float, depth: int
    ) -> None:
        self.vectors = vectors
        self.lexical = lexical
        self.rrf_k = rrf_k
        self.depth = depth

    def retrieve(
        self, question: str, query_vector: Vectors, k: int, where: ArticleFilter | None = None
    ) -> list[RetrievedChunk]:
        depth = max(k, self.depth)
        dense = [chunk_id for chunk_id, _ in self.vectors.search(query_vector, depth, where)]
        lexical = [chunk_id for chunk_id, _ in self.lexical.search(question, depth, where)]
        fused = reciprocal_rank_fusion([dense, lexical], self.rrf_k)[:k]
        return [RetrievedChunk(chunk_id, score) for chunk_id, score in fused]
