"""Keyword search inside PostgreSQL: each chunk's passage words kept as a tsvector under a GIN
index, ranked by the database (`PostgresLexicalIndex`, the `LexicalIndex` of PostgreSQL stores).

The tsvector holds exactly the `content_words` that in-memory BM25 (`qa.store.lexical.BM25Index`)
indexes, written by the store in the transaction that writes the chunk, so both indexes see the
same words and a replica sees another replica's writes on its next question. Nothing
corpus-sized is held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from qa.store.database import Database
from qa.store.lexical import bm25_idf
from qa.store.rows import where_clause
from qa.types import ArticleFilter
from qa.words import content_words

# PostgreSQL keeps at most this many positions of one lexeme in a tsvector, and refuses a
# lexeme longer than this many bytes.
_MAX_POSITIONS = 256
_MAX_LEXEME_BYTES = 2046
# The column and its index; a store made before them gains both on open (add_passage_terms).
_PASSAGE_TERMS_COLUMN = "ALTER TABLE chunks ADD COLUMN IF NOT EXISTS passage_terms tsvector"
_PASSAGE_TERMS_INDEX = (
    "CREATE INDEX IF NOT EXISTS chunks_passage_terms ON chunks USING GIN (passage_terms)"
)


def fits_tsvector(word: str) -> bool:
    """Whether PostgreSQL can hold `word` as a lexeme (a run of letters thousands long cannot,
    and is left out of the tsvector and of queries)."""
    return len(word.encode("utf-8")) <= _MAX_LEXEME_BYTES


def tsquery_lexeme(word: str) -> str:
    """`word` quoted as one PostgreSQL tsquery/tsvector lexeme, taken as it is (no parsing or
    stemming by the database: the words are `content_words` already)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(words: Sequence[str]) -> str:
    """A PostgreSQL tsvector literal of `words` with their positions (from 1), so that the
    database sees exactly the words BM25 does and how often each occurs."""
    positions: dict[str, list[int]] = {}
    for position, word in enumerate(words, start=1):
        if fits_tsvector(word):
            positions.setdefault(word, []).append(position)
    return " ".join(
        f"{tsquery_lexeme(word)}:{','.join(map(str, places[:_MAX_POSITIONS]))}"
        for word, places in positions.items()
    )


def passage_terms(passage: str) -> str:
    """The passage's words as PostgreSQL full-text search sees them: the same `content_words`
    that in-memory BM25 indexes, with their positions."""
    return tsvector_literal(content_words(passage))


def add_passage_terms(
    database: Database, chunk_passages: Callable[[list[int]], list[tuple[int, str]]]
) -> None:
    """Give a PostgreSQL store the passage_terms column and its index if it lacks them, and
    fill the column for chunks written without it (by a qa from before it), their passages
    read by `chunk_passages(ids)`. The catalog is asked first, so that opening a current store
    takes no lock on its tables; replicas opening an old store at once take turns
    (`schema_change`)."""
    with database.schema_change():
        if not database.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = 'chunks' AND column_name = 'passage_terms'"
        ):
            database.execute(_PASSAGE_TERMS_COLUMN)
        [index] = database.execute("SELECT to_regclass('chunks_passage_terms') AS name")
        if index["name"] is None:
            database.execute(_PASSAGE_TERMS_INDEX)
        missing = database.execute("SELECT id FROM chunks WHERE passage_terms IS NULL")
        if missing:
            database.execute_many(
                "UPDATE chunks SET passage_terms = CAST(? AS tsvector) WHERE id = ?",
                [
                    (passage_terms(passage), chunk_id)
                    for chunk_id, passage in chunk_passages([r["id"] for r in missing])
                ],
            )


class PassageTermStore(Protocol):
    """What full-text search needs from the store (`qa.store.articles.ArticleStore` on
    PostgreSQL)."""

    database: Database


class PostgresLexicalIndex:
    """Keyword search run by PostgreSQL over each chunk's `passage_terms` tsvector (the chunk's
    `content_words` with positions, GIN-indexed): chunks holding any question word, each scored
    as the sum over question words of BM25's idf × `ts_rank(passage, word, 1)` (term frequency
    saturating, length-normalized). With idf weights it ranked like in-memory BM25 on the
    evaluation sets; ts_rank_cd alone, which has no idf, found the right article first far less
    often (docs/deployment.md, PostgreSQL). Nothing is held in memory: every search sees
    committed writes.
    """

    def __init__(self, store: PassageTermStore) -> None:
        self.store = store

    def search(
        self, question: str, k: int, where: ArticleFilter | None = None
    ) -> list[tuple[int, float]]:
        words = [word for word in content_words(question) if fits_tsvector(word)]
        if not words or k < 1:
            return []
        documents, frequency = self._frequencies(list(dict.fromkeys(words)))
        weights = [
            (word, bm25_idf(frequency[word], documents) * words.count(word))
            for word in dict.fromkeys(words)
            if frequency.get(word, 0) > 0
        ]
        if not weights:
            return []
        return self._rank(weights, k, where)

    def idf(self, words: Sequence[str]) -> dict[str, float]:
        counted = [word for word in dict.fromkeys(words) if fits_tsvector(word)]
        documents, frequency = self._frequencies(counted) if words else (0, {})
        return {w: bm25_idf(frequency.get(w, 0), documents) for w in words}

    def known_words(self, words: Sequence[str]) -> set[str]:
        fitting = [w for w in words if fits_tsvector(w)]
        return self._matching([tsquery_lexeme(w) for w in fitting], fitting)

    def known_prefixes(self, prefixes: Sequence[str]) -> set[str]:
        fitting = [p for p in prefixes if fits_tsvector(p)]
        return self._matching([f"{tsquery_lexeme(p)}:*" for p in fitting], fitting)

    def _matching(self, queries: Sequence[str], words: Sequence[str]) -> set[str]:
        """The `words` whose tsquery (the same position in `queries`) some passage matches,
        each looked up through the GIN index in one statement."""
        if not queries:
            return set()
        [row] = self.store.database.execute(
            "SELECT ARRAY(SELECT EXISTS (SELECT 1 FROM chunks WHERE passage_terms @@ "
            "CAST(q.query AS tsquery)) FROM unnest(CAST(? AS text[])) WITH ORDINALITY "
            "AS q(query, n) ORDER BY q.n) AS held",
            (list(queries),),
        )
        return {word for word, held in zip(words, row["held"], strict=True) if held}

    def _frequencies(self, words: Sequence[str]) -> tuple[int, dict[str, int]]:
        """The number of chunks, and for each word the number whose passage holds it (BM25's
        statistics), counted through the GIN index in one statement."""
        [row] = self.store.database.execute(
            "SELECT (SELECT COUNT(*) FROM chunks) AS total, ARRAY(SELECT (SELECT COUNT(*) "
            "FROM chunks WHERE passage_terms @@ CAST(w.lexeme AS tsquery)) "
            "FROM unnest(CAST(? AS text[])) WITH ORDINALITY AS w(lexeme, n) ORDER BY w.n) "
            "AS frequencies",
            ([tsquery_lexeme(word) for word in words],),
        )
        return int(row["total"]), dict(zip(words, map(int, row["frequencies"]), strict=True))

    def _rank(
        self, weights: Sequence[tuple[str, float]], k: int, where: ArticleFilter | None
    ) -> list[tuple[int, float]]:
        """Up to `k` (chunk id, score) pairs, best first (ties by id), among chunks whose
        passage holds at least one of the words and whose article matches `where`; score = Σ
        weight × ts_rank(passage, word, 1) over the (word, weight) pairs (ts_rank normalization
        1: divided by 1 + log of the passage's length in words)."""
        conditions, parameters = where_clause(where)
        join = " JOIN articles a ON a.id = c.article_id" if where is not None else ""
        score = " + ".join("? * ts_rank(c.passage_terms, CAST(? AS tsquery), 1)" for _ in weights)
        matches = "c.passage_terms @@ CAST(? AS tsquery)"
        condition = f"{conditions} AND {matches}" if conditions else f" WHERE {matches}"
        rows = self.store.database.execute(
            f"SELECT c.id, {score} AS score FROM chunks c{join}{condition} "
            "ORDER BY score DESC, c.id LIMIT ?",
            [
                *(value for word, weight in weights for value in (weight, tsquery_lexeme(word))),
                *parameters,
                " | ".join(tsquery_lexeme(word) for word, _ in weights),
                k,
            ],
        )
        return [(int(r["id"]), float(r["score"])) for r in rows]
