"""Keyword search: BM25 over the store's chunk passages (headline + chunk text), in the words of
`qa.words`.

Two `LexicalIndex`es, chosen with the store (`qa.wiring`):
- `BM25Index` (SQLite stores): BM25 in memory, kept in step with the store incrementally. When
  the store's generation moves it reads only the chunks added since (and, when some were
  removed, the list of chunk ids), instead of re-reading and re-tokenizing every passage. Scores
  are computed at question time from live term statistics, so an added or deleted chunk changes
  every idf without touching the other chunks' postings (bm25s precomputes every chunk's score
  for every word, so each write would mean a whole rebuild). The scores are bm25s' Lucene
  variant to the bit.
- `qa.store.full_text.PostgresLexicalIndex` (PostgreSQL stores): the database ranks the passages
  with its full-text search (a tsvector of the same words, a GIN index), so a replica keeps nothing
  corpus-sized in memory and sees another replica's writes on its next question.

A search can be restricted to some articles' chunks (`ArticleFilter`): the others are left out
before the best are taken, so a restricted search is as deep as an open one.
"""

from __future__ import annotations

import bisect
import math
import threading
from array import array
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Protocol

import numpy as np

from qa.types import ArticleFilter
from qa.words import content_words

# BM25's term-frequency saturation and length normalization (Lucene's and bm25s' defaults).
K1 = 1.5
B = 0.75


def bm25_saturation(counts: np.ndarray, lengths: np.ndarray, average: float) -> np.ndarray:
    """BM25's (Lucene variant) weight of a word's count in each passage, between 0 and 1: counts
    saturate, and long passages need more of them."""
    return np.asarray(counts / (K1 * ((1 - B) + B * lengths / average) + counts))


def bm25_idf(document_frequency: int, documents: int) -> float:
    """BM25's (Lucene variant) inverse document frequency: always positive, highest for a word
    no document holds."""
    return math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


class LexicalIndex(Protocol):
    """Keyword search over the chunk passages, and the corpus statistics sentence scoring
    weighs question words by."""

    def search(
        self, question: str, k: int, where: ArticleFilter | None = None
    ) -> list[tuple[int, float]]:
        """Up to `k` (chunk id, score) pairs with a positive score, best first, among the chunks
        of the articles matching `where` (all when None)."""
        ...

    def idf(self, words: Sequence[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each (already normalized) word over the chunk
        passages; a word no passage holds gets the highest value, as the rarest possible."""
        ...

    def known_words(self, words: Sequence[str]) -> set[str]:
        """Those of `words` (already normalized) that some passage holds."""
        ...

    def known_prefixes(self, prefixes: Sequence[str]) -> set[str]:
        """Those of `prefixes` that begin a word some passage holds."""
        ...


class PassageStore(Protocol):
    """What the BM25 index reads from the store (`qa.store.articles.ArticleStore` is one)."""

    def chunk_passages(
        self, ids: Collection[int] | None = None, newer_than: int = 0
    ) -> list[tuple[int, str]]: ...

    def removed_chunk_ids(self, since: int) -> list[int]: ...

    def chunk_count(self) -> int: ...

    def chunk_ids(self, where: ArticleFilter | None = None) -> list[int]: ...


class PassageSource(Protocol):
    """What the BM25 index reads (`qa.store.index.Index` is one): the store generation that the
    in-memory index should reflect, and the store's chunk passages."""

    @property
    def generation(self) -> int: ...

    @property
    def store(self) -> PassageStore: ...


class BM25Index:
    """BM25 (Lucene variant, k1 1.5, b 0.75) over the chunk passages, in memory, brought up to
    the store's generation before each search by applying only what changed.

    Postings are kept per word (chunk slots and term counts); a removed chunk's slot is marked
    dead and its words' document frequencies go down at once, its postings are dropped at the
    next compaction (when dead slots outnumber a quarter of all). Scores are summed in float32
    in question-word order, as bm25s did. A chunk's score depends only on its own term counts
    and the live corpus statistics, and slots stay in chunk id order (compaction restores it),
    so updating incrementally ranks exactly as building from scratch, ties included.

    Thread-safe: searches and updates run under one lock.
    """

    def __init__(self, source: PassageSource) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._generation = -1
        self._reset()

    def _reset(self) -> None:
        self._vocabulary: dict[str, int] = {}
        self._words: list[str] = []
        self._document_frequency = array("q")
        self._posting_slots: list[array[int]] = []
        self._posting_counts: list[array[int]] = []
        self._slot_of: dict[int, int] = {}
        self._slot_ids = array("q")  # chunk id of each slot, -1 once removed
        self._slot_lengths = array("q")
        self._slot_terms: list[tuple[array[int], array[int]] | None] = []
        self._total_length = 0
        self._dead = 0
        self._newest = 0
        self._sorted_words: list[str] | None = None  # live words in order, for prefixes

    # -- keeping in step with the store ---------------------------------------------------

    def _refresh(self) -> None:
        generation = self.source.generation
        if generation == self._generation:
            return
        store = self.source.store
        if self._generation < 0:
            for chunk_id, text in store.chunk_passages():
                self._add(chunk_id, content_words(text))
        else:
            # Chunk ids only grow (SQLite AUTOINCREMENT): what is new has an id above the newest
            # seen. Removals are logged by generation. The count catches anything else (a log
            # that does not reach back far enough), and then the ids are compared.
            for chunk_id, text in store.chunk_passages(newer_than=self._newest):
                self._add(chunk_id, content_words(text))
            for chunk_id in store.removed_chunk_ids(since=self._generation):
                if chunk_id in self._slot_of:
                    self._remove(chunk_id)
            if store.chunk_count() != len(self._slot_of):
                self._reconcile(set(store.chunk_ids()))
        if self._dead * 4 > len(self._slot_ids):
            self._compact()
        self._generation = generation
        self._sorted_words = None

    def _reconcile(self, present: set[int]) -> None:
        """Drop the chunks the store no longer has; add any it has that were missed (a chunk id
        below the newest one seen: only possible where ids do not commit in order)."""
        for chunk_id in [i for i in self._slot_of if i not in present]:
            self._remove(chunk_id)
        missing = sorted(present.difference(self._slot_of))
        if missing:
            for chunk_id, text in self.source.store.chunk_passages(missing):
                self._add(chunk_id, content_words(text))
            self._compact()  # back to chunk id order

    def _add(self, chunk_id: int, words: Sequence[str]) -> None:
        if chunk_id in self._slot_of:
            return
        counts = Counter(words)
        terms = array("q", [self._term(word) for word in counts])
        self._place(chunk_id, terms, array("q", counts.values()), len(words))

    def _term(self, word: str) -> int:
        term = self._vocabulary.get(word)
        if term is None:
            term = self._vocabulary[word] = len(self._words)
            self._words.append(word)
            self._document_frequency.append(0)
            self._posting_slots.append(array("q"))
            self._posting_counts.append(array("q"))
        return term

    def _place(self, chunk_id: int, terms: array[int], counts: array[int], length: int) -> None:
        slot = len(self._slot_ids)
        self._slot_of[chunk_id] = slot
        self._slot_ids.append(chunk_id)
        self._slot_lengths.append(length)
        self._slot_terms.append((terms, counts))
        self._total_length += length
        self._newest = max(self._newest, chunk_id)
        frequency, slots, occurrences = (
            self._document_frequency,
            self._posting_slots,
            self._posting_counts,
        )
        for term, count in zip(terms, counts, strict=True):
            frequency[term] += 1
            slots[term].append(slot)
            occurrences[term].append(count)

    def _remove(self, chunk_id: int) -> None:
        slot = self._slot_of.pop(chunk_id)
        terms = self._slot_terms[slot]
        assert terms is not None
        for term in terms[0]:
            self._document_frequency[term] -= 1
        self._total_length -= self._slot_lengths[slot]
        self._slot_ids[slot] = -1
        self._slot_terms[slot] = None
        self._dead += 1

    def _compact(self) -> None:
        """Rebuild the postings without dead slots, slots in chunk id order (no re-tokenizing:
        each live chunk's term counts are kept)."""
        live = sorted(
            (chunk_id, self._slot_lengths[slot], self._slot_terms[slot])
            for chunk_id, slot in self._slot_of.items()
        )
        words = self._words
        self._reset()
        for chunk_id, length, held in live:
            assert held is not None
            terms = array("q", (self._term(words[term]) for term in held[0]))
            self._place(chunk_id, terms, held[1], length)

    # -- searching ----------------------------------------------------------------------------

    def _scores(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, BM25 scores) of every live chunk, in chunk id order."""
        slot_ids = np.array(self._slot_ids, dtype=np.int64)
        live = slot_ids >= 0
        documents = len(self._slot_of)
        scores = np.zeros(len(slot_ids), dtype=np.float32)
        if not documents:
            return slot_ids[live], scores[live]
        lengths = np.array(self._slot_lengths, dtype=np.int64)
        average = np.float64(self._total_length) / documents
        for word in words:  # a repeated word counts again, as in bm25s
            term = self._vocabulary.get(word)
            if term is None or self._document_frequency[term] == 0:
                continue
            idf = np.float32(bm25_idf(self._document_frequency[term], documents))
            slots = np.array(self._posting_slots[term], dtype=np.int64)
            counts = np.array(self._posting_counts[term], dtype=np.float32)
            saturation = bm25_saturation(counts, lengths[slots], float(average))
            scores[slots] += (idf * saturation).astype(np.float32)
        return slot_ids[live], scores[live]

    def search(
        self, question: str, k: int, where: ArticleFilter | None = None
    ) -> list[tuple[int, float]]:
        """Up to `k` (chunk id, BM25 score) pairs with a positive score, best first, among the
        chunks of the articles matching `where` (all when None)."""
        words = content_words(question)
        if not words:
            return []
        allowed = None if where is None else self.source.store.chunk_ids(where)
        if allowed is not None and not allowed:
            return []
        with self._lock:
            self._refresh()
            ids, float32_scores = self._scores(words)
        scores = float32_scores.astype(np.float64)
        if allowed is not None:
            scores = np.where(np.isin(ids, np.asarray(allowed, dtype=np.int64)), scores, 0.0)
        k = min(k, len(scores))
        if k < 1:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, words: Sequence[str]) -> dict[str, float]:
        with self._lock:
            self._refresh()
            documents = len(self._slot_of)
            frequency = {
                w: self._document_frequency[self._vocabulary[w]] if w in self._vocabulary else 0
                for w in words
            }
        return {w: bm25_idf(frequency[w], documents) for w in words}

    def known_words(self, words: Sequence[str]) -> set[str]:
        with self._lock:
            self._refresh()
            vocabulary, frequency = self._vocabulary, self._document_frequency
            return {w for w in words if w in vocabulary and frequency[vocabulary[w]] > 0}

    def known_prefixes(self, prefixes: Sequence[str]) -> set[str]:
        with self._lock:
            self._refresh()
            if self._sorted_words is None:
                frequency = self._document_frequency
                self._sorted_words = sorted(
                    w for w, term in self._vocabulary.items() if frequency[term] > 0
                )
            ordered = self._sorted_words
        found = set()
        for prefix in prefixes:
            at = bisect.bisect_left(ordered, prefix)
            if at < len(ordered) and ordered[at].startswith(prefix):
                found.add(prefix)
        return found
