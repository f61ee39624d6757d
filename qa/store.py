"""SQLite article store: articles, sentences, chunks and their vectors, in one file.

SQLite is the source of truth. Every write is one transaction that also bumps a `generation`
counter, so a reader can tell when the vector index file on disk is stale and rebuild it from
the vectors kept here. A process killed mid-ingest therefore loses at most the batch it was
writing, never what was committed before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.embed import Vectors
from qa.types import Article, Chunk, Entity, Sentence

SCHEMA_VERSION = 1

_SCHEMA = """
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
    vector BLOB NOT NULL,
    PRIMARY KEY (article_id, position)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks (article_id);
"""


class StoreError(RuntimeError):
    """The store file is unreadable or from an incompatible version; the message says what to do."""


class ArticleNotFoundError(KeyError):
    """No article has that id."""


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back for answering: its article and its sentences (with vectors)."""

    id: int
    chunk: Chunk
    article: Article
    sentences: tuple[Sentence, ...]
    sentence_vectors: Vectors


@dataclass(frozen=True)
class ArticleSummary:
    id: str
    title: str
    source: str | None
    published: dt.date | None
    url: str | None
    sentence_count: int


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


def _article_from_row(row: sqlite3.Row) -> Article:
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


def _vector_blob(vector: Vectors) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


class SQLiteArticleStore:
    """Thread-safe (one connection, one lock); WAL mode lets other processes read while we write."""

    def __init__(self, path: Path, dimension: int) -> None:
        self.path = path
        self.dimension = dimension
        self._lock = threading.RLock()
        try:
            self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._connection.row_factory = sqlite3.Row
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA foreign_keys=ON")
            self._connection.execute("PRAGMA synchronous=FULL")
            self._connection.executescript(_SCHEMA)
            version = self._meta("schema_version")
            if version is None:
                self._set_meta("schema_version", str(SCHEMA_VERSION))
            elif int(version) != SCHEMA_VERSION:
                raise StoreError(
                    f"{path}: store schema version {version}, this qa reads {SCHEMA_VERSION}; "
                    "rebuild the index by ingesting your articles into a new --index folder"
                )
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"{path}: not a readable qa store ({error}); move the folder aside and re-run "
                "`qa ingest` to rebuild it"
            ) from error

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """IMMEDIATE for writes; DEFERRED gives a read several SELECTs can share: one snapshot,
        even while another process commits."""
        with self._lock:
            self._connection.execute(f"BEGIN {mode}")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT value FROM meta WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else str(row["value"])

    def _set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._connection.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @property
    def generation(self) -> int:
        """Bumped by every committed write; 0 for a new store."""
        return int(self._meta("generation") or 0)

    def _bump_generation(self, connection: sqlite3.Connection) -> None:
        connection.execute(
            "INSERT INTO meta (key, value) VALUES ('generation', '1') "
            "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def existing_version(self, article: Article) -> str | None:
        """'same' if this exact version is stored (by id, or by content for id-less articles),
        'changed' if another version with the same id is, else None."""
        digest = content_hash(article)
        with self._lock:
            row = self._connection.execute(
                "SELECT content_hash FROM articles WHERE id = ?", (article.id,)
            ).fetchone()
        if row is None:
            return None
        return "same" if row["content_hash"] == digest else "changed"

    def write(self, records: Sequence[ArticleRecord]) -> tuple[list[int], list[int]]:
        """Insert or replace articles in one transaction.

        Returns the new chunk ids (in the order of the records' chunk vectors, concatenated) and
        the ids of chunks that replaced versions had, so the vector index can follow.
        """
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        added: list[int] = []
        removed: list[int] = []
        with self._transaction() as connection:
            for record in records:
                article = record.article
                removed.extend(self._delete(connection, article.id))
                connection.execute(
                    "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.id,
                        article.title,
                        article.text,
                        article.source,
                        article.published.isoformat() if article.published else None,
                        article.url,
                        article.dateline,
                        article.origin,
                        content_hash(article),
                        now,
                    ),
                )
                connection.executemany(
                    "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            article.id,
                            s.position,
                            s.start,
                            s.end,
                            json.dumps([[e.label, e.start, e.end] for e in s.entities]),
                            _vector_blob(vector),
                        )
                        for s, vector in zip(record.sentences, record.sentence_vectors, strict=True)
                    ],
                )
                for chunk, vector in zip(record.chunks, record.chunk_vectors, strict=True):
                    cursor = connection.execute(
                        "INSERT INTO chunks (article_id, position, first_sentence, last_sentence,"
                        " vector) VALUES (?, ?, ?, ?, ?)",
                        (
                            article.id,
                            chunk.position,
                            chunk.first_sentence,
                            chunk.last_sentence,
                            _vector_blob(vector),
                        ),
                    )
                    added.append(int(cursor.lastrowid or 0))
            self._bump_generation(connection)
        return added, removed

    def _delete(self, connection: sqlite3.Connection, article_id: str) -> list[int]:
        chunk_ids = [
            int(row["id"])
            for row in connection.execute(
                "SELECT id FROM chunks WHERE article_id = ?", (article_id,)
            )
        ]
        connection.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return chunk_ids

    def delete(self, article_id: str) -> list[int]:
        """Remove an article with its sentences and chunks; returns the removed chunk ids."""
        with self._transaction() as connection:
            if (
                connection.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone()
                is None
            ):
                raise ArticleNotFoundError(article_id)
            removed = self._delete(connection, article_id)
            self._bump_generation(connection)
        return removed

    def count(self) -> int:
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def get(self, article_id: str) -> tuple[Article, list[Sentence]]:
        with self._transaction("DEFERRED"):
            row = self._connection.execute(
                "SELECT * FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            if row is None:
                raise ArticleNotFoundError(article_id)
            article = _article_from_row(row)
            rows = self._connection.execute(
                'SELECT position, start, "end", entities FROM sentences WHERE article_id = ? '
                "ORDER BY position",
                (article_id,),
            ).fetchall()
        return article, [self._sentence(article, r) for r in rows]

    def list_articles(self, offset: int = 0, limit: int = 50) -> list[ArticleSummary]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT a.id, a.title, a.source, a.published, a.url, "
                "(SELECT COUNT(*) FROM sentences s WHERE s.article_id = a.id) AS sentence_count "
                "FROM articles a ORDER BY a.published DESC, a.title LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return [
            ArticleSummary(
                id=r["id"],
                title=r["title"],
                source=r["source"],
                published=dt.date.fromisoformat(r["published"]) if r["published"] else None,
                url=r["url"],
                sentence_count=int(r["sentence_count"]),
            )
            for r in rows
        ]

    @staticmethod
    def _sentence(article: Article, row: sqlite3.Row) -> Sentence:
        start, end = int(row["start"]), int(row["end"])
        entities = tuple(Entity(label, s, e) for label, s, e in json.loads(row["entities"]))
        return Sentence(
            article.id, int(row["position"]), start, end, article.text[start:end], entities
        )

    def integrity_problems(self) -> list[str]:
        """What is inconsistent in the store (empty when sound): SQLite's own check, articles
        without sentences or chunks, offsets outside the text, chunks over missing sentences."""
        queries = {
            "article with no sentences": "SELECT id FROM articles a WHERE NOT EXISTS "
            "(SELECT 1 FROM sentences s WHERE s.article_id = a.id)",
            "article with no chunks": "SELECT id FROM articles a WHERE NOT EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.article_id = a.id)",
            "sentence offsets outside the text": "SELECT DISTINCT s.article_id FROM sentences s "
            'JOIN articles a ON a.id = s.article_id WHERE s.start < 0 OR s."end" <= s.start '
            'OR s."end" > length(a.text)',
            "chunk over missing sentences": "SELECT DISTINCT c.article_id FROM chunks c WHERE "
            "(SELECT COUNT(*) FROM sentences s WHERE s.article_id = c.article_id AND "
            "s.position BETWEEN c.first_sentence AND c.last_sentence) "
            "!= c.last_sentence - c.first_sentence + 1",
        }
        problems: list[str] = []
        with self._transaction("DEFERRED") as connection:
            check = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if check != ["ok"]:
                problems.append(f"{self.path}: SQLite integrity check: {'; '.join(check)}")
            for problem, query in queries.items():
                problems.extend(f"{problem}: {row[0]}" for row in connection.execute(query))
        return problems

    def chunk_vectors(self) -> tuple[np.ndarray, Vectors]:
        """All chunk ids and vectors, for rebuilding the vector index."""
        with self._lock:
            rows = self._connection.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        ids = np.array([int(r["id"]) for r in rows], dtype=np.int64)
        if not rows:
            return ids, np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.frombuffer(b"".join(r["vector"] for r in rows), dtype=np.float32)
        return ids, vectors.reshape(len(rows), self.dimension)

    def chunks(self, chunk_ids: Sequence[int]) -> list[StoredChunk]:
        """The chunks with these ids (unknown ids are skipped: they were deleted meanwhile)."""
        found: list[StoredChunk] = []
        articles: dict[str, Article] = {}
        with self._transaction("DEFERRED"):
            for chunk_id in chunk_ids:
                row = self._connection.execute(
                    "SELECT * FROM chunks WHERE id = ?", (int(chunk_id),)
                ).fetchone()
                if row is None:
                    continue
                article_id = row["article_id"]
                if article_id not in articles:
                    article_row = self._connection.execute(
                        "SELECT * FROM articles WHERE id = ?", (article_id,)
                    ).fetchone()
                    articles[article_id] = _article_from_row(article_row)
                article = articles[article_id]
                sentence_rows = self._connection.execute(
                    'SELECT position, start, "end", entities, vector FROM sentences '
                    "WHERE article_id = ? AND position BETWEEN ? AND ? ORDER BY position",
                    (article_id, row["first_sentence"], row["last_sentence"]),
                ).fetchall()
                sentences = tuple(self._sentence(article, r) for r in sentence_rows)
                vectors = np.frombuffer(
                    b"".join(r["vector"] for r in sentence_rows), dtype=np.float32
                ).reshape(len(sentence_rows), self.dimension)
                start, end = sentences[0].start, sentences[-1].end
                chunk = Chunk(
                    article_id,
                    int(row["position"]),
                    int(row["first_sentence"]),
                    int(row["last_sentence"]),
                    article.text[start:end],
                )
                found.append(StoredChunk(int(chunk_id), chunk, article, sentences, vectors))
        return found
