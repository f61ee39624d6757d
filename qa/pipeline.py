"""The question-answering pipeline: embed the question, retrieve chunks, answer, time each step."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Protocol

from qa.embed import Embedder, Vectors
from qa.index import Index
from qa.retrieve import Retriever
from qa.store import StoredChunk
from qa.types import Answer


class EmptyQuestionError(ValueError):
    """The question has no text."""


class Answerer(Protocol):
    def answer(
        self,
        question: str,
        query_vector: Vectors,
        chunks: list[tuple[StoredChunk, float]],
        top_k: int,
    ) -> Answer: ...


class Pipeline:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        retriever: Retriever,
        answerer: Answerer,
        candidate_chunks: int,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.retriever = retriever
        self.answerer = answerer
        self.candidate_chunks = candidate_chunks

    def ask(self, question: str, top_k: int, context: str = "") -> Answer:
        """Answer one question with up to `top_k` citations (top_k >= 1).

        `context` is text from earlier turns of a conversation ("why are they leaving?" after a
        question about coalition forces); it joins the question for retrieval only, while the
        answer type and the returned question stay this turn's.
        """
        question = " ".join(question.split())
        if not question:
            raise EmptyQuestionError("the question is empty")
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        started = time.perf_counter()
        self.index.refresh()
        retrieval_query = f"{' '.join(context.split())} {question}".strip()
        query_vector = self.embedder.encode_queries([retrieval_query])[0]
        found = self.retriever.retrieve(retrieval_query, query_vector, self.candidate_chunks)
        scores = {r.chunk_id: r.score for r in found}
        chunks = [(c, scores[c.id]) for c in self.index.store.chunks([r.chunk_id for r in found])]
        retrieved = time.perf_counter()
        answer = self.answerer.answer(question, query_vector, chunks, top_k)
        finished = time.perf_counter()
        timing = {
            "retrieve": round((retrieved - started) * 1000, 2),
            "answer": round((finished - retrieved) * 1000, 2),
            "total": round((finished - started) * 1000, 2),
        }
        return replace(answer, timing_ms=timing)
