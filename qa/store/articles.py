"""Article store: articles, sentences, chunks and their vectors, in SQLite or PostgreSQL.

The store is the source of truth. Every write is one transaction that also bumps a `generation`
counter, so a reader can tell when the vector index is stale and bring it up to date from
the vectors kept here. A process killed mid-ingest therefore loses at most the batch it was
writing, never what was committed before.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Collection, Sequence

import numpy as np

from qa.models.embedder import Vectors
from qa.store.database import Database, DatabaseError, Row
from qa.store.full_text import add_passage_terms, passage_terms
from qa.store.rows import (
    SCHEMA,
    SCHEMA_VERSION,
    ArticleRecord,
    StoredChunk,
    article_from_row,
    chunk_passage,
    content_hash,
    vector_blob,
    vectors_from_rows,
    where_clause,
)
from qa.types import Article, ArticleFilter, ArticleSummary, Chunk, Coverage, Entity, Sentence

# The write that removed each chunk is logged for this many generations back, so that an
# in-memory keyword index can follow deletions without listing every chunk id; one further
# behind lists them (qa.store.lexical.BM25Index).
REMOVALS_KEPT_GENERATIONS = 1000

# Article filters whose chunk ids are kept (ArticleStore.chunk_ids).
FILTERS_KEPT = 16
# Ids per statement where a list of ids is asked for: bounded IN lists on every database.
_IDS_PER_STATEMENT = 500


class StoreError(RuntimeError):
    """The store is unreadable, from an incompatible version, or built for another model; the
    message says what to do."""

    @classmethod
    def unreadable(cls, error: DatabaseError) -> StoreError:
        return cls(
            f"{error}: not a readable qa store; move it aside and re-run `qa ingest` to rebuild it"
        )


class ArticleNotFoundError(KeyError):
    """No article has that id."""


class ArticleStore:
    """Thread-safe article store over a `Database` (SQLite file or PostgreSQL server)."""

    def __init__(self, database: Database, dimension: int, model: str) -> None:
        """Create the schema if needed; refuse a store of another schema version or model."""
        self.database = database
        self.dimension = dimension
        self._filtered: dict[tuple[int, ArticleFilter], np.ndarray] = {}
        schema = SCHEMA.format(blob=database.blob_type, serial=database.serial_primary_key)
        try:
            with database.schema_change():
                for statement in schema.split(";"):
                    if statement.strip():
                        database.execute(statement)
                for key, value in (
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("model", model),
                    ("dimension", str(dimension)),
                    ("identity", uuid.uuid4().hex),  # kept from the store's first open
                ):
                    database.execute(
                        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                        (key, value),
                    )
        except DatabaseError as error:
            raise StoreError.unreadable(error) from error
        if database.full_text_search:
            add_passage_terms(database, self.chunk_passages)
        stored = {key: self.get_meta(key) for key in ("schema_version", "model", "dimension")}
        if stored["schema_version"] != str(SCHEMA_VERSION):
            raise StoreError(
                f"{database.name}: store schema version {stored['schema_version']}, this qa reads "
                f"{SCHEMA_VERSION}; ingest your articles into a new store"
            )
        if (stored["model"], stored["dimension"]) != (model, str(dimension)):
            raise StoreError(
                f"{database.name} holds vectors of model '{stored['model']}' (dimension "
                f"{stored['dimension']}), but this run uses '{model}' (dimension {dimension}); "
                "use that model, or ingest into a new store"
            )

    def close(self) -> None:
        self.database.close()

    def get_meta(self, key: str) -> str | None:
        rows = self.database.execute("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    @property
    def identity(self) -> str:
        """Random, made when the store is first opened and never changed: tells this store
        from another one at the same generation (a database recreated or restored, another
        store.sqlite copied into a folder)."""
        return self.get_meta("identity") or ""

    @property
    def generation(self) -> int:
        """Bumped by every committed write; 0 for a new store."""
        return int(self.get_meta("generation") or 0)

    def _bump_generation(self) -> None:
        self.database.execute(
            "INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT (key) "
            "DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)"
        )

    def existing_version(self, article: Article) -> str | None:
        """'same' if this exact version is stored, 'changed' if another version with the same
        id is, else None. (Id-less articles get an id from their content, so the same content
        is 'same'.)"""
        rows = self.database.execute(
            "SELECT content_hash FROM articles WHERE id = ?", (article.id,)
        )
        if not rows:
            return None
        return "same" if rows[0]["content_hash"] == content_hash(article) else "changed"

    def write(self, records: Sequence[ArticleRecord]) -> tuple[list[int], list[int]]:
        """Insert or replace articles in one transaction.

        Returns the new chunk ids (in the order of the records' chunk vectors, concatenated) and
        the ids of chunks that replaced versions had, so the vector index can follow.
        """
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        full_text = self.database.full_text_search
        columns = "article_id, position, first_sentence, last_sentence, vector"
        markers = "?, ?, ?, ?, ?"
        if full_text:
            columns += ", passage_terms"
            markers += ", CAST(? AS tsvector)"
        insert_chunk = f"INSERT INTO chunks ({columns}) VALUES ({markers}) RETURNING id"
        added: list[int] = []
        removed: list[int] = []
        with self.database.transaction(write=True):
            self._bump_generation()  # first: concurrent writers queue here
            for record in records:
                article = record.article
                removed.extend(self._delete(article.id))
                self.database.execute(
                    "INSERT INTO articles (id, title, text, source, published, url, dateline, "
                    "origin, content_hash, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                self.database.execute_many(
                    'INSERT INTO sentences (article_id, position, start, "end", entities, vector) '
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            article.id,
                            s.position,
                            s.start,
                            s.end,
                            json.dumps([[e.label, e.start, e.end] for e in s.entities]),
                            vector_blob(vector),
                        )
                        for s, vector in zip(record.sentences, record.sentence_vectors, strict=True)
                    ],
                )
                for chunk, vector in zip(record.chunks, record.chunk_vectors, strict=True):
                    values: tuple[object, ...] = (
                        article.id,
                        chunk.position,
                        chunk.first_sentence,
                        chunk.last_sentence,
                        vector_blob(vector),
                    )
                    if full_text:
                        values += (passage_terms(chunk_passage(article.title, chunk.text)),)
                    [row] = self.database.execute(insert_chunk, values)
                    added.append(int(row["id"]))
            self._log_removals(removed)
        return added, removed

    def _log_removals(self, chunk_ids: Sequence[int]) -> None:
        """Record that this write's generation removed these chunks; forget old removals."""
        if not chunk_ids:
            return
        generation = self.generation
        self.database.execute_many(
            "INSERT INTO chunk_removals (generation, chunk_id) VALUES (?, ?)",
            [(generation, chunk_id) for chunk_id in chunk_ids],
        )
        self.database.execute(
            "DELETE FROM chunk_removals WHERE generation <= ?",
            (generation - REMOVALS_KEPT_GENERATIONS,),
        )

    def removed_chunk_ids(self, since: int) -> list[int]:
        """Ids of the chunks removed by writes after generation `since`, as far as the log
        reaches back (REMOVALS_KEPT_GENERATIONS; a qa from before the log wrote none)."""
        rows = self.database.execute(
            "SELECT chunk_id FROM chunk_removals WHERE generation > ? ORDER BY chunk_id", (since,)
        )
        return [int(r["chunk_id"]) for r in rows]

    def _delete(self, article_id: str) -> list[int]:
        rows = self.database.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))
        self.database.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return [int(row["id"]) for row in rows]

    def delete(self, article_id: str) -> list[int]:
        """Remove an article with its sentences and chunks; returns the removed chunk ids."""
        with self.database.transaction(write=True):
            if not self.database.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)):
                raise ArticleNotFoundError(article_id)
            self._bump_generation()
            removed = self._delete(article_id)
            self._log_removals(removed)
            return removed

    def count(self) -> int:
        return int(self.database.execute("SELECT COUNT(*) AS n FROM articles")[0]["n"])

    def coverage(self) -> Coverage:
        [span] = self.database.execute(
            "SELECT COUNT(*) AS n, MIN(published) AS first, MAX(published) AS last FROM articles"
        )
        sources = self.database.execute(
            "SELECT source, COUNT(*) AS n FROM articles GROUP BY source ORDER BY n DESC, source"
        )
        return Coverage(
            int(span["n"]),
            dt.date.fromisoformat(span["first"]) if span["first"] else None,
            dt.date.fromisoformat(span["last"]) if span["last"] else None,
            [(row["source"], int(row["n"])) for row in sources],
        )

    def get(self, article_id: str) -> tuple[Article, list[Sentence]]:
        with self.database.transaction(write=False):
            rows = self.database.execute("SELECT * FROM articles WHERE id = ?", (article_id,))
            if not rows:
                raise ArticleNotFoundError(article_id)
            article = article_from_row(rows[0])
            sentence_rows = self.database.execute(
                'SELECT position, start, "end", entities FROM sentences WHERE article_id = ? '
                "ORDER BY position",
                (article_id,),
            )
        return article, [self._sentence(article, r) for r in sentence_rows]

    def list_articles(self, offset: int = 0, limit: int = 50) -> list[ArticleSummary]:
        """Newest first (undated last), then by title."""
        rows = self.database.execute(
            "SELECT a.id, a.title, a.source, a.published, a.url, "
            "(SELECT COUNT(*) FROM sentences s WHERE s.article_id = a.id) AS sentence_count "
            "FROM articles a ORDER BY a.published IS NULL, a.published DESC, a.title, a.id "
            "LIMIT ? OFFSET ?",
            (limit, offset),
        )
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
    def _sentence(article: Article, row: Row) -> Sentence:
        start, end = int(row["start"]), int(row["end"])
        entities = tuple(Entity(label, s, e) for label, s, e in json.loads(row["entities"]))
        return Sentence(
            article.id, int(row["position"]), start, end, article.text[start:end], entities
        )

    def integrity_problems(self) -> list[str]:
        """What is inconsistent in the store (empty when sound): the database's own check,
        articles without sentences or chunks, offsets outside the text, chunks over missing
        sentences."""
        queries = {
            "article with no sentences": "SELECT id FROM articles a WHERE NOT EXISTS "
            "(SELECT 1 FROM sentences s WHERE s.article_id = a.id)",
            "article with no chunks": "SELECT id FROM articles a WHERE NOT EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.article_id = a.id)",
            "sentence offsets outside the text": "SELECT DISTINCT s.article_id AS id "
            "FROM sentences s JOIN articles a ON a.id = s.article_id "
            'WHERE s.start < 0 OR s."end" <= s.start OR s."end" > length(a.text)',
            "chunk over missing sentences": "SELECT DISTINCT c.article_id AS id FROM chunks c "
            "WHERE (SELECT COUNT(*) FROM sentences s WHERE s.article_id = c.article_id AND "
            "s.position BETWEEN c.first_sentence AND c.last_sentence) "
            "!= c.last_sentence - c.first_sentence + 1",
        }
        with self.database.transaction(write=False):
            problems = self.database.integrity_problems()
            for problem, query in queries.items():
                problems.extend(f"{problem}: {row['id']}" for row in self.database.execute(query))
        return problems

    def chunk_ids(self, where: ArticleFilter | None = None) -> list[int]:
        """Ids of all chunks, or of the chunks of the articles matching `where`: kept for the
        store's generation, since a question's dense and keyword searches both ask, and
        questions naming the same period ask again."""
        if where is None:
            rows = self.database.execute("SELECT id FROM chunks ORDER BY id")
            return [int(r["id"]) for r in rows]
        conditions, parameters = where_clause(where)
        with self.database.transaction(write=False):
            key = (self.generation, where)
            if key not in self._filtered:
                rows = self.database.execute(
                    f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id{conditions}"
                    " ORDER BY c.id",
                    parameters,
                )
                self._filtered = {k: v for k, v in self._filtered.items() if k[0] == key[0]}
                if len(self._filtered) >= FILTERS_KEPT:
                    self._filtered.pop(next(iter(self._filtered)))
                self._filtered[key] = np.array([int(r["id"]) for r in rows], dtype=np.int64)
            ids: list[int] = self._filtered[key].tolist()
        return ids

    def chunk_vectors(self, ids: Collection[int] | None = None) -> tuple[np.ndarray, Vectors]:
        """Chunk ids and vectors (all, or those with the given ids), for the vector index."""
        if ids is None:
            rows = self.database.execute("SELECT id, vector FROM chunks ORDER BY id")
        else:
            rows = self._select_by_ids("SELECT id, vector FROM chunks WHERE", "id", ids)
        identifiers = np.array([int(r["id"]) for r in rows], dtype=np.int64)
        return identifiers, vectors_from_rows(rows, self.dimension)

    def chunk_count(self) -> int:
        return int(self.database.execute("SELECT COUNT(*) AS n FROM chunks")[0]["n"])

    def chunk_passages(
        self, ids: Collection[int] | None = None, newer_than: int = 0
    ) -> list[tuple[int, str]]:
        """Chunk ids and passages (headline + chunk text), by id, for keyword indexes: of every
        chunk, or of those with the given ids; either way only chunks with an id above
        `newer_than` (ids start at 1, so 0 leaves none out)."""
        select = (
            'SELECT c.id, a.title, substr(a.text, f.start + 1, l."end" - f.start) AS body '
            "FROM chunks c JOIN articles a ON a.id = c.article_id "
            "JOIN sentences f ON f.article_id = c.article_id AND f.position = c.first_sentence "
            "JOIN sentences l ON l.article_id = c.article_id AND l.position = c.last_sentence "
            "WHERE c.id > ?"
        )
        if ids is None:
            rows = self.database.execute(f"{select} ORDER BY c.id", (newer_than,))
        else:
            rows = self._select_by_ids(f"{select} AND", "c.id", ids, (newer_than,))
        return [(int(r["id"]), chunk_passage(r["title"], r["body"])) for r in rows]

    def _select_by_ids(
        self, select: str, column: str, ids: Collection[int], parameters: Sequence[object] = ()
    ) -> list[Row]:
        """The rows of `select` (ending in WHERE or AND; its own `parameters` first) whose
        `column` is one of `ids`, by id, asked _IDS_PER_STATEMENT ids at a time."""
        wanted = sorted(int(i) for i in ids)
        rows: list[Row] = []
        for start in range(0, len(wanted), _IDS_PER_STATEMENT):
            part = wanted[start : start + _IDS_PER_STATEMENT]
            rows.extend(
                self.database.execute(
                    f"{select} {column} IN ({', '.join('?' * len(part))}) ORDER BY {column}",
                    (*parameters, *part),
                )
            )
        return rows

    def chunks(self, chunk_ids: Sequence[int]) -> list[StoredChunk]:
        """The chunks with these ids, in that order (unknown ids are skipped: deleted meanwhile)."""
        found: list[StoredChunk] = []
        articles: dict[str, Article] = {}
        with self.database.transaction(write=False):
            for chunk_id in chunk_ids:
                rows = self.database.execute("SELECT * FROM chunks WHERE id = ?", (int(chunk_id),))
                if not rows:
                    continue
                row = rows[0]
                article_id = row["article_id"]
                if article_id not in articles:
                    [article_row] = self.database.execute(
                        "SELECT * FROM articles WHERE id = ?", (article_id,)
                    )
                    articles[article_id] = article_from_row(article_row)
                article = articles[article_id]
                sentence_rows = self.database.execute(
                    'SELECT position, start, "end", entities, vector FROM sentences '
                    "WHERE article_id = ? AND position BETWEEN ? AND ? ORDER BY position",
                    (article_id, row["first_sentence"], row["last_sentence"]),
                )
                sentences = tuple(self._sentence(article, r) for r in sentence_rows)
                start, end = sentences[0].start, sentences[-1].end
                chunk = Chunk(
                    article_id,
                    int(row["position"]),
                    int(row["first_sentence"]),
                    int(row["last_sentence"]),
                    article.text[start:end],
                )
                vectors = vectors_from_rows(sentence_rows, self.dimension)
                found.append(StoredChunk(int(chunk_id), chunk, article, sentences, vectors))
        return found
