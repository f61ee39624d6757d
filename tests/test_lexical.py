"""Keyword search over chunk passages: in-memory BM25 (bm25s' scores, kept in step with the store
by applying only what changed) and PostgreSQL full-text search (ranking, filters, a replica
seeing another's writes, an older store gaining its column on open)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

import bm25s
import numpy as np
import pytest

from backends import postgres_schema
from conftest import REPO
from fakes import HashEmbedder
from qa.ingest.ingester import Ingester
from qa.ingest.loaders import article_from_record
from qa.ingest.sentences import SpacySplitter
from qa.store.articles import ArticleStore
from qa.store.database import Database, PostgresDatabase
from qa.store.full_text import PostgresLexicalIndex
from qa.store.index import Index
from qa.store.lexical import BM25Index, LexicalIndex
from qa.store.rows import ArticleRecord
from qa.types import Article, ArticleFilter
from qa.wiring import make_lexical_index
from qa.words import content_words, word_spans

EMBEDDER = HashEmbedder()
CORPUS = REPO / "tests" / "data" / "squad2-dev-a-first-40-paragraphs.jsonl"
SOURCES = ("Chronicle", "Gazette")
# (question, the article whose chunk answers it), written for these tests from the corpus.
QUESTIONS = [
    ("Who sold the rights to the Canary Islands in 1418?", "Normans#29"),
    ("When did Duke William conquer England at the Battle of Hastings?", "Normans#16"),
    ("When did Richard the Lion-hearted leave Messina with his fleet?", "Normans#26"),
    ("What does computational complexity theory classify?", "Computational_complexity_theory#0"),
]
CANARY = QUESTIONS[0][0]
MERCENARIES = "Which Norman mercenaries served the Byzantine emperors?"


def corpus() -> list[Article]:
    """The 40 real paragraphs, alternately from two sources; the first 30 dated a day apart
    from 2020-01-01, the rest undated."""
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [
        dataclasses.replace(
            article_from_record(json.loads(line), f"{CORPUS.name}:{number}"),
            source=SOURCES[number % 2],
            published=dt.date(2020, 1, 1) + dt.timedelta(days=number) if number < 30 else None,
        )
        for number, line in enumerate(lines)
    ]


ARTICLES = corpus()


def open_index(
    folder: Path, database: Callable[[], Database] | None = None, create: bool = True
) -> Index:
    return Index.open(
        folder, EMBEDDER, sentences_per_chunk=4, overlap=1, create=create, open_database=database
    )


@pytest.fixture(scope="module")
def records(
    tmp_path_factory: pytest.TempPathFactory, splitter: SpacySplitter
) -> dict[str, ArticleRecord]:
    """Every corpus article split, chunked and embedded once, by id."""
    index = open_index(tmp_path_factory.mktemp("prepare"))
    try:
        prepared = Ingester(index, EMBEDDER, splitter, 64).prepare(ARTICLES)
    finally:
        index.close()
    return {record.article.id: record for record in prepared}


@pytest.fixture
def postgres() -> Iterator[Callable[[], Database]]:
    """Opens connections to a fresh PostgreSQL schema (skipped without a server)."""
    with postgres_schema() as dsn:
        yield lambda: PostgresDatabase(dsn)


class Indexes:
    """Opens a test's indexes, and closes them after it whatever happens."""

    def __init__(self) -> None:
        self.opened: list[Index] = []

    def open(
        self, folder: Path, database: Callable[[], Database] | None = None, create: bool = True
    ) -> Index:
        index = open_index(folder, database, create)
        self.opened.append(index)
        return index

    def close(self, index: Index) -> None:
        self.opened.remove(index)
        index.close()


@pytest.fixture
def indexes() -> Iterator[Indexes]:
    opened = Indexes()
    yield opened
    for index in list(opened.opened):
        opened.close(index)


@pytest.fixture
def corpus_in_memory(tmp_path: Path, records: dict[str, ArticleRecord], indexes: Indexes) -> Index:
    """The whole corpus in a SQLite store (keyword search: BM25 in memory)."""
    index = indexes.open(tmp_path / "sqlite")
    write(index, records, list(records))
    return index


@pytest.fixture
def corpus_on_postgres(
    tmp_path: Path,
    postgres: Callable[[], Database],
    records: dict[str, ArticleRecord],
    indexes: Indexes,
) -> Index:
    """The whole corpus in a PostgreSQL store (keyword search: full-text, in the database)."""
    index = indexes.open(tmp_path / "postgres", postgres)
    write(index, records, list(records))
    return index


def write(index: Index, records: dict[str, ArticleRecord], ids: Sequence[str]) -> None:
    index.write([records[article_id] for article_id in ids])


def chunk_articles(index: Index, hits: Sequence[tuple[int, float]]) -> list[str]:
    return [stored.article.id for stored in index.store.chunks([chunk_id for chunk_id, _ in hits])]


class CountingStore:
    """The real store, counting the passages the BM25 index reads from it."""

    def __init__(self, store: ArticleStore) -> None:
        self.store = store
        self.passages_read = 0

    def chunk_passages(
        self, ids: Collection[int] | None = None, newer_than: int = 0
    ) -> list[tuple[int, str]]:
        passages = self.store.chunk_passages(ids, newer_than)
        self.passages_read += len(passages)
        return passages

    def removed_chunk_ids(self, since: int) -> list[int]:
        return self.store.removed_chunk_ids(since)

    def chunk_count(self) -> int:
        return self.store.chunk_count()

    def chunk_ids(self, where: ArticleFilter | None = None) -> list[int]:
        return self.store.chunk_ids(where)


class CountingSource:
    def __init__(self, index: Index) -> None:
        self.index = index
        self.store = CountingStore(index.store)

    @property
    def generation(self) -> int:
        return self.index.store.generation


def assert_same_rankings(incremental: BM25Index, index: Index) -> None:
    rebuilt = BM25Index(index)
    for question in [q for q, _ in QUESTIONS] + ["Norman mercenaries in Byzantine Italy"]:
        ours, theirs = incremental.search(question, 50), rebuilt.search(question, 50)
        assert [i for i, _ in ours] == [i for i, _ in theirs]
        assert np.allclose([s for _, s in ours], [s for _, s in theirs], rtol=0, atol=1e-6)
    words = content_words("Rollo Normandy fealty unheardofword")
    assert incremental.idf(words) == pytest.approx(rebuilt.idf(words), abs=1e-12)


def test_word_lists_are_the_callers_own_though_cached() -> None:
    text = "The U.S.-led coalition's forces will withdraw within three years."
    words, spans = content_words(text), word_spans(text)
    assert words == ["u", "s", "led", "coalitio", "forc", "withdraw", "withi", "three", "year"]
    assert spans[4] == (13, 24, "coalitio")
    words.clear()
    spans.clear()
    assert content_words(text)[3:6] == ["coalitio", "forc", "withdraw"]
    assert len(word_spans(text)) == 11


def test_bm25_scores_are_bm25s_lucene_scores(corpus_in_memory: Index) -> None:
    index = corpus_in_memory
    passages = index.store.chunk_passages()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    reference = bm25s.BM25()  # k1 1.5, b 0.75, Lucene: what the index used before
    reference.index([content_words(text) for _, text in passages], show_progress=False)
    ids = [chunk_id for chunk_id, _ in passages]
    lexical = BM25Index(index)
    for question, _ in QUESTIONS:
        expected = np.asarray(reference.get_scores(content_words(question)), dtype=np.float64)
        found = dict(lexical.search(question, len(ids)))
        assert [found.get(chunk_id, 0.0) for chunk_id in ids] == expected.tolist()


def test_incremental_updates_rank_like_a_full_rebuild(
    tmp_path: Path, records: dict[str, ArticleRecord], indexes: Indexes
) -> None:
    index = indexes.open(tmp_path)
    ids = list(records)
    write(index, records, ids[:30])
    source = CountingSource(index)
    lexical = BM25Index(source)
    assert_same_rankings(lexical, index)
    assert source.store.passages_read == index.store.chunk_count()

    def chunks_of(article_ids: Sequence[str]) -> int:
        return sum(len(records[i].chunks) for i in article_ids)

    read = source.store.passages_read
    write(index, records, ids[30:35])  # adds
    assert_same_rankings(lexical, index)
    assert source.store.passages_read - read == chunks_of(ids[30:35])

    read = source.store.passages_read
    changed = [
        dataclasses.replace(
            records[i],
            article=dataclasses.replace(records[i].article, title="Canary Islands revisited"),
        )
        for i in (ids[3], ids[29])
    ]
    index.write(changed)  # replaces: new chunk ids, the old ones removed
    assert_same_rankings(lexical, index)
    assert source.store.passages_read - read == chunks_of([ids[3], ids[29]])

    read = source.store.passages_read
    for article_id in (ids[0], ids[16], ids[28]):
        index.delete(article_id)
    assert_same_rankings(lexical, index)
    assert source.store.passages_read == read  # deletions read no passages

    write(index, records, ids[35:])
    index.delete(ids[34])
    assert_same_rankings(lexical, index)
    hits = lexical.search(CANARY, 3)
    assert chunk_articles(index, hits)[0] == ids[29]  # its replacement, found by its new title


def test_removals_missing_from_the_log_are_found_by_count(corpus_in_memory: Index) -> None:
    """A writer that logs no removals (a qa from before the log) is caught by the chunk count."""
    index = corpus_in_memory
    lexical = BM25Index(index)
    assert lexical.search(CANARY, 1)
    index.delete("Normans#29")
    index.store.database.execute("DELETE FROM chunk_removals")
    assert_same_rankings(lexical, index)
    assert "Normans#29" not in chunk_articles(index, lexical.search(CANARY, 10))


def test_postgres_full_text_search_ranks_the_right_chunk_first(corpus_on_postgres: Index) -> None:
    index = corpus_on_postgres
    lexical = make_lexical_index(index)
    assert isinstance(lexical, PostgresLexicalIndex)
    for question, article_id in QUESTIONS:
        hits = lexical.search(question, 5)
        assert chunk_articles(index, hits)[0] == article_id, question
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert lexical.search("the of and", 5) == []  # stopwords only
    assert lexical.search("unheardofword", 5) == []


def test_postgres_leaves_out_words_too_long_for_a_tsvector(
    tmp_path: Path,
    postgres: Callable[[], Database],
    splitter: SpacySplitter,
    indexes: Indexes,
) -> None:
    index = indexes.open(tmp_path, postgres)
    blob = "q" * 3000  # PostgreSQL refuses lexemes over 2046 bytes
    text = f"The dam report ended with {blob}. It was filed on Monday."
    Ingester(index, EMBEDDER, splitter, 8).ingest_articles(
        [Article(id="blob", title="Dam report", text=text)]
    )
    lexical = PostgresLexicalIndex(index.store)
    assert chunk_articles(index, lexical.search(f"dam report {blob}", 3)) == ["blob"]
    assert lexical.search(blob, 3) == []
    assert set(lexical.idf([blob, "dam"])) == {blob, "dam"}


def test_postgres_counts_the_same_words_as_bm25(
    corpus_in_memory: Index, corpus_on_postgres: Index
) -> None:
    """The tsvector holds the passage's `content_words`, so the idf the answerer weighs question
    words by is the same on either store."""
    words = content_words("Rollo's Normans swore fealty in Normandy; Hervé, al-Kadhimi, 1418 zzz")
    lexicals: list[LexicalIndex] = [
        BM25Index(corpus_in_memory),
        PostgresLexicalIndex(corpus_on_postgres.store),
    ]
    memory_idf, postgres_idf = (lexical.idf(words) for lexical in lexicals)
    assert postgres_idf == pytest.approx(memory_idf, abs=1e-12)


def test_both_stores_know_the_same_words_and_beginnings(
    corpus_in_memory: Index, corpus_on_postgres: Index
) -> None:
    """What the missing-term check (qa.answering.grounding) asks of the vocabulary, on either
    store."""
    lexicals: list[LexicalIndex] = [
        BM25Index(corpus_in_memory),
        PostgresLexicalIndex(corpus_on_postgres.store),
    ]
    words = ["norman", "normandy", "rollo", "wimbledon", "zzz", "x" * 3000]
    prefixes = ["norma", "byzan", "wimbl", "x" * 3000]
    for lexical in lexicals:
        assert lexical.known_words(words) == {"norman", "normandy", "rollo"}
        assert lexical.known_prefixes(prefixes) == {"norma", "byzan"}
        assert lexical.known_words([]) == set() and lexical.known_prefixes([]) == set()


def test_postgres_search_honours_filters(corpus_on_postgres: Index) -> None:
    index = corpus_on_postgres
    lexical = PostgresLexicalIndex(index.store)
    by_article = {a.id: a for a in ARTICLES}
    assert chunk_articles(index, lexical.search(MERCENARIES, 1)) == ["Normans#8"]  # Chronicle
    # The best Gazette chunk is found, however far down the open ranking it is.
    gazette = ArticleFilter(sources=frozenset({"gazette"}))  # any case
    assert chunk_articles(index, lexical.search(MERCENARIES, 1, gazette)) == ["Normans#7"]
    found = chunk_articles(index, lexical.search(MERCENARIES, 50, gazette))
    assert found and all(by_article[a].source == "Gazette" for a in found)

    january = ArticleFilter(published_from=dt.date(2020, 1, 10), published_to=dt.date(2020, 1, 20))
    found = chunk_articles(index, lexical.search("Norman Byzantine England", 50, january))
    assert found and set(found) <= {f"Normans#{n}" for n in range(9, 20)}
    undated = ArticleFilter(published_from=dt.date(2020, 1, 1))
    found = chunk_articles(index, lexical.search("Norman art abbey music", 50, undated))
    assert all(by_article[a].published is not None for a in found)

    only = ArticleFilter(article_ids=frozenset({"Normans#35"}))
    assert set(chunk_articles(index, lexical.search("Norman art", 10, only))) == {"Normans#35"}
    nobody = ArticleFilter(sources=frozenset({"Nobody"}))
    assert lexical.search(CANARY, 10, nobody) == []


def test_a_replica_sees_writes_on_its_next_search(
    tmp_path: Path,
    postgres: Callable[[], Database],
    records: dict[str, ArticleRecord],
    indexes: Indexes,
) -> None:
    writer = indexes.open(tmp_path / "a", postgres)
    replica = indexes.open(tmp_path / "b", postgres)
    lexical = make_lexical_index(replica)
    write(writer, records, [i for i in records if i != "Normans#29"])
    assert "Normans#29" not in chunk_articles(replica, lexical.search(CANARY, 10))
    write(writer, records, ["Normans#29"])
    assert chunk_articles(replica, lexical.search(CANARY, 1)) == ["Normans#29"]
    writer.delete("Normans#29")
    assert "Normans#29" not in chunk_articles(replica, lexical.search(CANARY, 10))


def test_an_older_postgres_store_gains_its_passage_terms_on_open(
    postgres: Callable[[], Database], corpus_on_postgres: Index, indexes: Indexes
) -> None:
    index = corpus_on_postgres
    before = PostgresLexicalIndex(index.store).search(CANARY, 20)
    # As a store written before full-text search: no column, no index.
    index.store.database.execute("DROP INDEX chunks_passage_terms")
    index.store.database.execute("ALTER TABLE chunks DROP COLUMN passage_terms")
    indexes.close(index)
    reopened = indexes.open(index.folder, postgres, create=False)
    database = reopened.store.database
    assert database.execute("SELECT to_regclass('chunks_passage_terms') AS name")[0]["name"]
    assert not database.execute("SELECT id FROM chunks WHERE passage_terms IS NULL")
    assert PostgresLexicalIndex(reopened.store).search(CANARY, 20) == before
