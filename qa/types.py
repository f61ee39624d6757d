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
class Period:
    """Publication dates a question was asked in (either bound may be open) and the words of
    the question that named them ("in march 2020"). `ends` is the last day those words name:
    `until` may run past it by the days whose articles still report on it."""

    since: dt.date | None
    until: dt.date | None
    named: str
    ends: dt.date | None = None


@dataclass(frozen=True)
class TimelineEntry:
    """One article's own answer to a question whose answer changed over time."""

    article: Article
    sentence: Sentence
    answer: str


@dataclass(frozen=True)
class Answer:
    """What `ask` returns. When `answerable` is false, `citations` are the closest matches,
    `abstain_reason` says why (one of ABSTAIN_REASONS) and `missing_terms` names the question's
    terms that no article holds, as the question wrote them. When dated articles answered
    differently, the answer is the newest one's, `as_of` the day it holds for and `timeline`
    each answering article's own answer, oldest first; `period` is the period the question
    named, when it was asked in it."""

    question: str
    answerable: bool
    answer: str | None
    confidence: float
    citations: tuple[Citation, ...]
    timing_ms: dict[str, float] = field(default_factory=dict)
    abstain_reason: str | None = None
    missing_terms: tuple[str, ...] = ()
    as_of: dt.date | None = None
    timeline: tuple[TimelineEntry, ...] = ()
    period: Period | None = None


# Why an answer abstained: a term of the question is in no article; the cited article lacks a
# name or the year the question gives; no sentence read holds the kind of answer asked for
# (a number for "how many"); or the evidence is too weak.
ABSTAIN_REASONS = ("not_in_archive", "not_in_cited_article", "no_fitting_answer", "low_confidence")


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk the retriever found, with its fused retrieval score (higher is better)."""

    chunk_id: int
    score: float


@dataclass(frozen=True)
class ArticleFilter:
    """Restricts retrieval to some articles; every given condition must hold. Sources match
    case-insensitively; an article without a publication date fails either date bound."""

    article_ids: frozenset[str] | None = None
    sources: frozenset[str] | None = None
    published_from: dt.date | None = None
    published_to: dt.date | None = None


@dataclass(frozen=True)
class ArticleSummary:
    id: str
    title: str
    source: str | None
    published: dt.date | None
    url: str | None
    sentence_count: int


@dataclass(frozen=True)
class Coverage:
    """What the store holds, for a reader deciding what to ask: how many articles, the first
    and last publication dates (None when no article is dated), and the articles per source
    (most first; undated or unsourced articles count under None)."""

    articles: int
    first_published: dt.date | None
    last_published: dt.date | None
    sources: list[tuple[str | None, int]]
