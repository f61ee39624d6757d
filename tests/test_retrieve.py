"""Reciprocal rank fusion, the BM25 index following a new generation, hybrid retrieval, filters
(parsing them, and both signals honouring them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import numpy as np
import pytest

from qa.answering.retrieve import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    InvalidDateError,
    article_filter,
    parse_day,
    reciprocal_rank_fusion,
)
from qa.store.lexical import BM25Index
from qa.types import ArticleFilter
from qa.words import content_words


class FakeStore:
    """Passages, and each chunk's source for filters by source (the only kind faked here)."""

    def __init__(self, passages: list[tuple[int, str]], sources: dict[int, str] | None = None):
        self.passages = passages
        self.sources = sources or {}
        self.reads = 0

    def chunk_passages(
        self, ids: Collection[int] | None = None, newer_than: int = 0
    ) -> list[tuple[int, str]]:
        self.reads += 1
        return [
            (i, text) for i, text in self.passages if i > newer_than and (ids is None or i in ids)
        ]

    def removed_chunk_ids(self, since: int) -> list[int]:
        return []

    def chunk_count(self) -> int:
        return len(self.passages)

    def chunk_ids(self, where: ArticleFilter | None = None) -> list[int]:
        wanted = None if where is None else where.sources
        return [i for i, _ in self.passages if wanted is None or self.sources.get(i) in wanted]


class FakeIndex:
    """Generation + store, as `qa.store.index.Index` offers them, and a fixed dense ranking."""

    def __init__(
        self,
        passages: list[tuple[int, str]],
        dense: list[int],
        sources: dict[int, str] | None = None,
    ) -> None:
        self.generation = 1
        self.store = FakeStore(passages, sources)
        self.dense = dense

    def search(
        self, query_vector: object, k: int, where: ArticleFilter | None = None
    ) -> list[tuple[int, float]]:
        allowed = set(self.store.chunk_ids(where))
        ranking = [chunk_id for chunk_id in self.dense if chunk_id in allowed]
        return [(chunk_id, 1.0 - 0.1 * rank) for rank, chunk_id in enumerate(ranking[:k])]


PASSAGES = [
    (1, "Coalition\nThe coalition forces will withdraw from Iraq within three years."),
    (2, "Weather\nRain is expected in Baghdad tomorrow."),
    (3, "Oil\nOil prices rose as OPEC cut production."),
]


def test_rrf_hand_checked() -> None:
    # a: 1/(60+1) + 1/(60+3); b: 1/(60+2) + 1/(60+1); c: 1/(60+3); d: 1/(60+2).
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "a"]], rrf_k=60))  # type: ignore[list-item]
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    ranking = [item for item, _ in reciprocal_rank_fusion([[1, 2, 3], [2, 4, 1]], rrf_k=60)]
    assert ranking == [2, 1, 4, 3]


def test_rrf_weights_and_empty() -> None:
    assert reciprocal_rank_fusion([], rrf_k=60) == []
    fused = reciprocal_rank_fusion([[1], [2]], rrf_k=0, weights=[1.0, 3.0])
    assert fused == [(2, 3.0), (1, 1.0)]


def test_bm25_finds_rare_words_and_follows_a_new_generation() -> None:
    index = FakeIndex(PASSAGES, dense=[])
    lexical = BM25Index(index)
    assert [
        chunk_id for chunk_id, _ in lexical.search("When will coalition forces withdraw?", 5)
    ] == [1]
    lexical.search("OPEC", 5)
    assert index.store.reads == 1  # same generation: nothing read
    index.store.passages.append((4, "OPEC\nOPEC met in Vienna."))
    index.generation = 2
    assert {chunk_id for chunk_id, _ in lexical.search("OPEC Vienna", 5)} == {3, 4}
    assert index.store.reads == 2
    assert lexical.search("the of and", 5) == []  # stopwords only: nothing to match


def test_idf_is_higher_for_rarer_words() -> None:
    lexical = BM25Index(FakeIndex(PASSAGES, dense=[]))
    coalition, rain, unknown = content_words("coalition rain unknownword")
    weights = lexical.idf([coalition, rain, unknown])
    assert weights[unknown] > weights[coalition] == pytest.approx(weights[rain])


def test_hybrid_fuses_dense_and_bm25() -> None:
    index = FakeIndex(PASSAGES, dense=[2, 3, 1])
    lexical = BM25Index(index)
    query = np.zeros(4, dtype=np.float32)
    only_bm25 = BM25Retriever(lexical).retrieve("coalition withdraw", query, 3)
    assert [r.chunk_id for r in only_bm25] == [1]
    hybrid = HybridRetriever(index, lexical, rrf_k=60, depth=3).retrieve(
        "coalition withdraw", query, 2
    )
    # chunk 1: 1/(60+3) + 1/(60+1) beats chunk 2's 1/(60+1) alone.
    assert [r.chunk_id for r in hybrid] == [1, 2]
    assert hybrid[0].score == pytest.approx(1 / 63 + 1 / 61)


# Chunks 1, 5 and 6 all say "coalition"; 1 says it best, but is another source's.
SOURCED = [
    *PASSAGES,
    (5, "Troops\nThe coalition troops will go home."),
    (
        6,
        "Envoys\nThe coalition will withdraw slowly, envoys from the northern region and the "
        "capital said in a long statement on Tuesday evening.",
    ),
]
SOURCES = {1: "Xinhua", 2: "Xinhua", 3: "Wire", 5: "Courier", 6: "Courier"}
COURIER = ArticleFilter(sources=frozenset({"Courier"}))


def test_bm25_search_restricted_to_some_articles_reaches_past_the_others() -> None:
    lexical = BM25Index(FakeIndex(SOURCED, dense=[], sources=SOURCES))
    unrestricted = [chunk_id for chunk_id, _ in lexical.search("coalition withdraw", 10)]
    assert unrestricted[0] == 1 and set(unrestricted) == {1, 5, 6}
    # The best match is left out, and k=1 still finds the best of the allowed ones.
    assert [chunk_id for chunk_id, _ in lexical.search("coalition withdraw", 1, COURIER)] == [6]
    assert {chunk_id for chunk_id, _ in lexical.search("coalition", 10, COURIER)} == {5, 6}
    nobody = ArticleFilter(sources=frozenset({"Nobody"}))
    assert lexical.search("coalition", 10, nobody) == []
    assert lexical.search("OPEC", 10, COURIER) == []  # only another source's chunk matches


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_every_retriever_keeps_to_the_filter(mode: str) -> None:
    index = FakeIndex(SOURCED, dense=[1, 2, 3, 5, 6], sources=SOURCES)
    lexical = BM25Index(index)
    retriever = {
        "dense": DenseRetriever(index),
        "bm25": BM25Retriever(lexical),
        "hybrid": HybridRetriever(index, lexical, rrf_k=60, depth=2),
    }[mode]
    query = np.zeros(4, dtype=np.float32)
    open_found = {r.chunk_id for r in retriever.retrieve("coalition withdraw", query, 5)}
    assert open_found - {5, 6}, "unfiltered, other sources' chunks are found"
    found = [r.chunk_id for r in retriever.retrieve("coalition withdraw", query, 5, COURIER)]
    assert found and set(found) <= {5, 6}


def test_parse_day_takes_only_calendar_days_written_yyyy_mm_dd() -> None:
    assert parse_day("2020-10-11") == dt.date(2020, 10, 11)
    assert parse_day("2024-02-29") == dt.date(2024, 2, 29)
    for text in (
        "2020-1-5",
        "20201011",
        "2020-W41-1",
        "11/10/2020",
        " 2020-10-11",
        "",
        "yesterday",
    ):
        with pytest.raises(InvalidDateError, match="YYYY-MM-DD"):
            parse_day(text, "'since'")
    for text in ("2021-02-29", "2020-13-01", "2020-00-10"):
        with pytest.raises(InvalidDateError, match="not a calendar day"):
            parse_day(text)


def test_article_filter_from_a_period_and_sources() -> None:
    assert article_filter() is None
    assert article_filter(sources=["  ", ""]) is None
    since, until = dt.date(2020, 1, 1), dt.date(2020, 12, 31)
    assert article_filter(since, until, [" Xinhua ", "Reuters"]) == ArticleFilter(
        sources=frozenset({"Xinhua", "Reuters"}), published_from=since, published_to=until
    )
    assert article_filter(until=until) == ArticleFilter(published_to=until)
    assert article_filter(since, since) == ArticleFilter(published_from=since, published_to=since)
    with pytest.raises(InvalidDateError, match="after"):
        article_filter(until, since)
