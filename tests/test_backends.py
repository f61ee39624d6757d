"""The same retrieval and answers on every store × vector backend combination, plus what only
shared backends do: replicas that see each other's writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import BACKENDS, backend_settings
from conftest import SEED_ARTICLE, SEED_QUESTION, SEED_SENTENCE_END, SEED_SENTENCE_START
from qa.config import Settings
from qa.ingest.loaders import article_from_record
from qa.ingest.sentences import SpacySplitter
from qa.models.embedder import SentenceTransformerEmbedder
from qa.models.reader import SpanReader
from qa.store.articles import ArticleNotFoundError
from qa.types import Article, ArticleFilter
from qa.wiring import Components, open_components

OTHER = Article(
    id="dam-opens",
    title="Dam opens after ten years",
    text="The Rogun dam opened on Monday after ten years of work. It cost $4.5 billion.",
    source="Example Wire",
    published=dt.date(2021, 5, 3),
)


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    settings: Settings,
) -> Iterator[Settings]:
    with backend_settings(settings, request.param, tmp_path / "data") as configured:
        yield configured


def open_replica(
    settings: Settings,
    folder: Path,
    embedder: SentenceTransformerEmbedder,
    reader: SpanReader,
    create: bool = True,
) -> Components:
    return open_components(
        settings, embedder=embedder, create=create, index_dir=folder, reader=reader
    )


@pytest.fixture
def seeded(
    backend: Settings,
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> Iterator[Components]:
    components = open_replica(backend, tmp_path / "replica-a", embedder, reader)
    ingester = components.ingester(splitter)
    report = ingester.ingest_paths([SEED_ARTICLE], 10**7, show_progress=False)
    assert report.ok
    ingester.ingest_articles([OTHER])
    yield components
    components.close()


def test_seed_question_gets_the_same_top_citation(seeded: Components) -> None:
    answer = seeded.pipeline.ask(SEED_QUESTION, top_k=3)
    top = answer.citations[0].sentence.text
    assert top.startswith(SEED_SENTENCE_START) and top.endswith(SEED_SENTENCE_END)
    assert answer.answerable


def test_counts_delete_and_verify(seeded: Components) -> None:
    index = seeded.index
    chunks = len(index.store.chunk_ids())
    assert index.vector_count() == chunks > 0
    dam_chunks = len(index.store.chunk_ids(ArticleFilter(article_ids=frozenset({OTHER.id}))))
    index.delete(OTHER.id)
    assert index.vector_count() == chunks - dam_chunks
    with pytest.raises(ArticleNotFoundError):
        index.delete(OTHER.id)
    answer = seeded.pipeline.ask("how much did the Rogun dam cost?", top_k=3)
    assert all(c.article.id != OTHER.id for c in answer.citations)
    assert index.verify() == []


def test_filtered_search_keeps_to_matching_articles(
    seeded: Components, embedder: SentenceTransformerEmbedder
) -> None:
    index = seeded.index
    query = embedder.encode_queries(["how much did the dam cost?"])[0]
    unfiltered = index.search(query, 3)
    assert index.store.chunks([unfiltered[0][0]])[0].article.id == OTHER.id
    by_source = ArticleFilter(sources=frozenset({"Xinhua"}))
    hits = index.search(query, 3, where=by_source)
    assert hits and all(
        c.article.source == "Xinhua" for c in index.store.chunks([h[0] for h in hits])
    )
    after_2021 = ArticleFilter(published_from=dt.date(2021, 1, 1))
    assert [h[0] for h in index.search(query, 5, where=after_2021)] == index.store.chunk_ids(
        after_2021
    )
    # Above the exact-scoring limit the vector backend filters by id itself.
    index.EXACT_FILTER_LIMIT = 0
    backend_hits = index.search(query, 3, where=by_source)
    assert [h[0] for h in backend_hits] == [h[0] for h in hits]
    # A filter's chunks are kept for the store's generation: a write is seen.
    index.delete(OTHER.id)
    assert index.store.chunk_ids(after_2021) == []


@pytest.mark.parametrize("shared", [b for b in BACKENDS if b.startswith("postgres")])
def test_a_second_replica_sees_writes_through_the_shared_store(
    shared: str,
    tmp_path: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> None:
    """Two replicas (own index folders) on one store and one vector backend: each sees the
    other's adds and deletes on its next question."""
    with backend_settings(settings, shared, tmp_path / "data") as configured:
        writer = open_replica(configured, tmp_path / "replica-a", embedder, reader)
        second = open_replica(configured, tmp_path / "replica-b", embedder, reader)
        try:
            ingester = writer.ingester(splitter)
            ingester.ingest_articles([OTHER])
            second.index.refresh()  # what every question does first
            assert second.index.vector_count() == writer.index.vector_count() > 0
            late = Article(id="late", title="Port strike ends", text="The port strike ended.")
            only_late = ArticleFilter(article_ids=frozenset({late.id}))
            assert second.index.store.chunk_ids(only_late) == []
            ingester.ingest_articles([late])
            assert second.index.store.chunk_ids(only_late) != []
            writer.index.delete(OTHER.id)
            answer = second.pipeline.ask("when did the port strike end?", top_k=3)
            assert answer.citations[0].article.id == "late"
            assert all(c.article.id != OTHER.id for c in answer.citations)
            assert second.index.verify() == []
        finally:
            second.close()
            writer.close()


def test_control_characters_in_an_article_never_reach_the_store(
    backend: Settings,
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> None:
    """PostgreSQL refuses a NUL in a text column: an article holding one failed its ingest."""
    components = open_replica(backend, tmp_path / "controls", embedder, reader)
    try:
        record = {"title": "Dam\x00 opens", "text": "The Rogun dam\x00 opened on Monday.\x07"}
        article = article_from_record(record, "test")
        assert components.ingester(splitter).ingest_articles([article]).ok
        stored, sentences = components.index.store.get(article.id)
        assert (stored.title, stored.text) == ("Dam opens", "The Rogun dam  opened on Monday.")
        assert [s.text for s in sentences] == ["The Rogun dam  opened on Monday."]
    finally:
        components.close()
