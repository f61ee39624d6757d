"""The store's tables, the records written to and read from them, and how records become rows
and back (`ArticleStore`, qa.store.articles, runs the statements).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.models.embedder import Vectors
from qa.store.database import Row
from qa.types import Article, ArticleFilter, Chunk, Sentence

# Bumped when existing tables change. A new table is created if missing (here, and by
# qa.service.conversations and qa.service.rate_limits for the server's own), so an older store gains
# it.
SCHEMA_VERSION = 1

# {blob} and {serial} are filled in per database (qa.store.database).
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT,
    published TEXT,
    url TEXT,
    dateline TEXT,
    origin TEXT,
    content_hash TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_content_hash ON articles (content_hash);
CREATE TABLE IF NOT EXISTS sentences (
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    entities TEXT NOT NULL,
    vector {blob} NOT NULL,
    PRIMARY KEY (article_id, position)
);
CREATE TABLE IF NOT EXISTS chunks (
    id {serial},
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL,
    vector {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks (article_id);
CREATE TABLE IF NOT EXISTS chunk_removals (
    generation BIGINT NOT NULL,
    chunk_id BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunk_removals_generation ON chunk_removals (generation);
"""


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back for answering: its article and its sentences (with vectors)."""

    id: int
    chunk: Chunk
    article: Article
    sentences: tuple[Sentence, ...]
    sentence_vectors: Vectors


@dataclass(frozen=True)
class ArticleRecord:
    """Everything one article's ingest writes, prepared (and embedded) before the transaction."""

    article: Article
    sentences: Sequence[Sentence]
    sentence_vectors: Vectors
    chunks: Sequence[Chunk]
    chunk_vectors: Vectors


def content_hash(article: Article) -> str:
    """What makes two versions of an article the same version (metadata included)."""
    published = article.published.isoformat() if article.published else ""
    parts = [article.title, article.text, article.source or "", published, article.url or ""]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def article_from_row(row: Row) -> Article:
    published = dt.date.fromisoformat(row["published"]) if row["published"] else None
    return Article(
        id=row["id"],
        title=row["title"],
        text=row["text"],
        source=row["source"],
        published=published,
        url=row["url"],
        dateline=row["dateline"],
        origin=row["origin"],
    )


def vector_blob(vector: Vectors) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def vectors_from_rows(rows: Sequence[Row], dimension: int) -> Vectors:
    if not rows:
        return np.zeros((0, dimension), dtype=np.float32)
    joined = b"".join(bytes(r["vector"]) for r in rows)
    return np.frombuffer(joined, dtype=np.float32).reshape(len(rows), dimension)


def where_clause(where: ArticleFilter | None) -> tuple[str, list[object]]:
    """`where` as SQL over the articles table aliased `a`: " WHERE …" (or "" for no
    condition) and its parameters."""
    if where is None:
        return "", []
    clauses: list[str] = []
    parameters: list[object] = []
    # Both sides lowered by the database, so that they fold alike (SQLite folds ASCII only).
    for column, values, marker in (
        ("a.id", where.article_ids, "?"),
        ("lower(a.source)", where.sources, "lower(CAST(? AS TEXT))"),
    ):
        if values is not None:
            clauses.append(f"{column} IN ({', '.join(marker for _ in values) or 'NULL'})")
            parameters.extend(sorted(values))
    if where.published_from is not None:
        clauses.append("a.published >= ?")
        parameters.append(where.published_from.isoformat())
    if where.published_to is not None:
        clauses.append("a.published <= ?")
        parameters.append(where.published_to.isoformat())
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), parameters


def chunk_passage(title: str, chunk_text: str) -> str:
    """The text keyword-indexed for a chunk: the headline gives it context. (Its vector is made
    from its sentences' vectors, `qa.models.embedder.mean_of_rows`, so the headline is not in
    it.)"""
    return f"{title}\n{chunk_text}"
