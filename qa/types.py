"""The typed records that flow between stages: load → split → store → retrieve → answer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """A cleaned article. `text` is the body that every offset in the system points into."""

    id: str
    title: str
    text: str
    source: str | None = None
    published: dt.date | None = None
    url: str | None = None
    dateline: str | None = None
    origin: str | None = None  # the file (or upload) it came from, for error messages and listing


@dataclass(frozen=True)
class Entity:
    """A named entity (spaCy label: DATE, TIME, PERSON, GPE, CARDINAL, …) by article offsets."""

    label: str
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article; `text == article.text[start:end]`."""

    article_id: str
    position: int
    start: int
    end: int
    text: str
    entities: tuple[Entity, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A retrieval unit: sentences `first..last` (inclusive) of one article, text spanning them."""

    article_id: str
    position: int
    first_sentence: int
    last_sentence: int
    text: str


@dataclass(frozen=True)
class ResolvedDate:
    """A time expression in a cited sentence, pinned to the calendar.

    `relation` says how the date bounds the event: "on" (that day or period), "by" (no later
    than), "after", "before". `date` is ISO `YYYY-MM-DD`.
    """

    expression: str
    date: str
    relation: str


@dataclass(frozen=True)
class Citation:
    rank: int
    article: Article
    sentence: Sentence
    score: float
    resolved_dates: tuple[ResolvedDate, ...] = ()


@dataclass(frozen=True)
class Answer:
    """What `ask` returns. When `answerable` is false, `citations` are the closest matches."""

    question: str
    answerable: bool
    answer: str | None
    confidence: float
    citations: tuple[Citation, ...]
    timing_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk the retriever found, with its fused retrieval score (higher is better)."""

    chunk_id: int
    score: float
