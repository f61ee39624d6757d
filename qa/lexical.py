"""Lexical matching: the word normalization shared by BM25 and sentence scoring, and a BM25
index (bm25s) over the store's chunk passages.

The BM25 index lives in memory only. It is built from `ArticleStore.chunk_passages()` (the same
title + chunk text that was embedded) and rebuilt whenever the index generation moves, so it is
always in step with the dense vectors without a second file to keep consistent. A search can be
restricted to some articles' chunks (`ArticleFilter`): the others' scores are dropped before the
best are taken, so a restricted search is as deep as an open one.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from qa.store import ArticleFilter

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
_POSSESSIVE = re.compile(r"'s?$")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom whose why will with would you your yours yourself yourselves many much long said says say
    tell told according""".split()
)


def stem(word: str) -> str:
    """A deliberately light suffix strip: enough to match withdraw/withdrawn/withdrawal."""
    for suffix in ("ations", "ation", "ings", "ing", "als", "al", "ies", "es", "ed", "n", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased, lightly stemmed words that carry meaning (no stopwords, no possessive 's),
    in text order."""
    words = (_POSSESSIVE.sub("", w) for w in _WORD.findall(text.lower()))
    return [stem(w) for w in words if w and w not in STOPWORDS]


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, stemmed lower-case word) for every word of `text`, stopwords included."""
    return [
        (m.start(), m.end(), stem(_POSSESSIVE.sub("", m.group().lower())))
        for m in _WORD.finditer(text)
    ]


class PassageStore(Protocol):
    def chunk_passages(self) -> list[tuple[int, str]]: ...

    def chunk_ids(self, where: ArticleFilter | None = None) -> list[int]: ...


class PassageSource(Protocol):
    """What the BM25 index reads (`qa.index.Index` is one): the store generation that the
    in-memory index reflects, and the store's chunk passages."""

    @property
    def generation(self) -> int: ...

    @property
    def store(self) -> PassageStore: ...


class BM25Index:
    """BM25 (bm25s, Lucene variant) over chunk passages, plus the corpus' inverse document
    frequencies for weighting question words at sentence level.

    Thread-safe: a rebuild swaps the whole state under a lock.
    """

    def __init__(self, source: PassageSource) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._generation = -1
        self._ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self._model: Any = None
        self._document_frequency: Counter[str] = Counter()

    def _refresh(self) -> None:
        generation = self.source.generation
        if generation == self._generation:
            return
        import bm25s

        # bm25s sets its own logger to DEBUG; under a server's root handler that prints a line
        # per rebuild.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        passages = self.source.store.chunk_passages()
        tokens = [content_words(text) for _, text in passages]
        model = None
        if passages:
            model = bm25s.BM25()
            model.index(tokens, show_progress=False)
        self._ids = np.asarray([chunk_id for chunk_id, _ in passages], dtype=np.int64)
        self._document_frequency = Counter(word for words in tokens for word in set(words))
        self._model = model
        self._generation = generation

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
            if self._model is None:
                return []
            scores = np.asarray(self._model.get_scores(words), dtype=np.float64)
            ids = self._ids
        if allowed is not None:
            scores = np.where(np.isin(ids, np.asarray(allowed, dtype=np.int64)), scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, words: Sequence[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each (already normalized) word; a word no
        passage holds gets the highest value, as the rarest possible word."""
        with self._lock:
            self._refresh()
            total = len(self._ids)
            frequency = self._document_frequency
        return {w: math.log(1 + (total - frequency[w] + 0.5) / (frequency[w] + 0.5)) for w in words}
