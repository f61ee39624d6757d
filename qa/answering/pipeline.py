"""The question-answering pipeline: embed the question, retrieve chunks, answer, time each step."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, replace
from typing import Protocol

from qa.answering.answerer import NearestSentenceAnswerer, SentenceAnswerer
from qa.answering.periods import named_period, without_period
from qa.answering.retrieve import BM25Retriever, DenseRetriever, HybridRetriever, Retriever
from qa.config import ConfigError, Settings
from qa.ingest.clean import one_line
from qa.models.embedder import Embedder, Vectors
from qa.models.reader import SpanReader
from qa.store.index import Index
from qa.store.lexical import LexicalIndex
from qa.store.rows import StoredChunk
from qa.types import Answer, ArticleFilter


class EmptyQuestionError(ValueError):
    """The question has no text."""


class Answerer(Protocol):
    """Picks and cites sentences from the retrieved chunks. `context` is earlier turns'
    text: it may inform matching, never the answer type. `latest` is the last day the
    question's period names (`Period.ends`): an article published after it (in the days that
    still report on the period) gives a story's answer only when none published in it does."""

    def warm_up(self) -> None:
        """Load what answering loads lazily (the reader, the keyword index's statistics)."""
        ...

    def answer(
        self,
        question: str,
        query_vector: Vectors,
        chunks: list[tuple[StoredChunk, float]],
        top_k: int,
        context: str = "",
        latest: dt.date | None = None,
    ) -> Answer: ...


@dataclass(frozen=True)
class Asked:
    """An answer with the chunks it was drawn from, in retrieval order (for evaluation)."""

    answer: Answer
    chunks: list[StoredChunk]


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
        self._published: tuple[int, dt.date | None, dt.date | None] | None = None

    def warm_up(self) -> None:
        """Load what the embedder and the answerer load lazily (ONNX sessions, the reader, the
        in-memory BM25 index), so the first question or write is as fast as the rest."""
        self.index.refresh()
        self.embedder.warm_up()
        self.answerer.warm_up()

    def ask(
        self,
        question: str,
        top_k: int,
        context: str = "",
        where: ArticleFilter | None = None,
    ) -> Answer:
        """Answer one question with up to `top_k` citations (top_k >= 1); see `ask_detailed`."""
        return self.ask_detailed(question, top_k, context, where).answer

    def ask_detailed(
        self,
        question: str,
        top_k: int,
        context: str = "",
        where: ArticleFilter | None = None,
    ) -> Asked:
        """Answer one question with up to `top_k` citations (top_k >= 1).

        `context` is text from earlier turns of a conversation ("why are they leaving?" after a
        question about coalition forces); it joins the question for retrieval and reading, while
        the answer type and the returned question stay this turn's. `where` restricts the answer
        to some articles (see `qa.answering.retrieve.article_filter`); None asks all of them. A
        period the question names ("in march 2020", qa.answering.periods) restricts it too, unless
        `where` gives dates of its own; the answer says which (`period`).
        """
        question = one_line(question)
        if not question:
            raise EmptyQuestionError("the question is empty")
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        started = time.perf_counter()
        context = one_line(context)
        self.index.refresh()
        period = None
        if where is None or (where.published_from is None and where.published_to is None):
            period = named_period(question, *self.published_range())
            if period is not None:
                where = replace(
                    where or ArticleFilter(),
                    published_from=period.since,
                    published_to=period.until,
                )
        # The period is a filter now, not words to find: "in 2019" need not be in the sentence.
        asked = without_period(question, period)
        query_vector, chunks = self.retrieve(asked, context, where)
        retrieved = time.perf_counter()
        latest = period.ends if period is not None else None
        answer = self.answerer.answer(asked, query_vector, chunks, top_k, context, latest)
        finished = time.perf_counter()
        timing = {
            "retrieve": round((retrieved - started) * 1000, 2),
            "answer": round((finished - retrieved) * 1000, 2),
            "total": round((finished - started) * 1000, 2),
        }
        answer = replace(answer, question=question, timing_ms=timing, period=period)
        return Asked(answer, [c for c, _ in chunks])

    def published_range(self) -> tuple[dt.date | None, dt.date | None]:
        """The first and last publication dates the archive holds, read once per store
        generation (the period a question names is read against them)."""
        generation = self.index.generation
        if self._published is None or self._published[0] != generation:
            coverage = self.index.store.coverage()
            self._published = (generation, coverage.first_published, coverage.last_published)
        return self._published[1], self._published[2]

    def retrieve(
        self, question: str, context: str = "", where: ArticleFilter | None = None
    ) -> tuple[Vectors, list[tuple[StoredChunk, float]]]:
        """The question's vector (asked with the earlier turns' `context`) and the candidate
        chunks with their fused retrieval scores, best first, from the index as last refreshed
        (`ask_detailed` refreshes it once a question)."""
        retrieval_query = f"{context} {question}".strip()
        query_vector = self.embedder.encode_queries([retrieval_query])[0]
        found = self.retriever.retrieve(retrieval_query, query_vector, self.candidate_chunks, where)
        scores = {r.chunk_id: r.score for r in found}
        chunks = [(c, scores[c.id]) for c in self.index.store.chunks([r.chunk_id for r in found])]
        return query_vector, chunks


RETRIEVAL_MODES = ("hybrid", "dense", "bm25")


def make_retriever(index: Index, lexical: LexicalIndex, settings: Settings, mode: str) -> Retriever:
    """The retriever for `mode` (one of RETRIEVAL_MODES); raises ConfigError for another."""
    if mode == "hybrid":
        retrieval = settings.retrieval
        return HybridRetriever(index, lexical, retrieval.rrf_k, retrieval.fusion_depth)
    if mode == "dense":
        return DenseRetriever(index)
    if mode == "bm25":
        return BM25Retriever(lexical)
    raise ConfigError(f"retrieval.mode must be one of {', '.join(RETRIEVAL_MODES)}, not {mode!r}")


def build_pipeline(
    index: Index,
    lexical: LexicalIndex,
    embedder: Embedder,
    settings: Settings,
    baseline: str | None = None,
    reader: SpanReader | None = None,
) -> Pipeline:
    """The configured pipeline over `index` and its keyword index `lexical` (see
    `qa.wiring.make_lexical_index`), reading the best sentences with `reader` if one is given;
    with `baseline` ("dense" or "bm25"), the naive one that cites the sentence nearest the
    question by that signal alone and never abstains."""
    answerer: Answerer
    if baseline is None:
        retriever = make_retriever(index, lexical, settings, settings.retrieval.mode)
        answerer = SentenceAnswerer(
            settings.answer.min_confidence,
            lexical,
            missing_type_penalty=settings.answer.missing_type_penalty,
            reader=reader,
        )
    else:
        retriever = make_retriever(index, lexical, settings, baseline)
        signal = {"dense": "cosine", "bm25": "bm25"}.get(baseline, baseline)
        answerer = NearestSentenceAnswerer(signal, lexical)
    return Pipeline(index, embedder, retriever, answerer, settings.retrieval.candidate_chunks)
