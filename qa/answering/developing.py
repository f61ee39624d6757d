"""Answers in time: when dated articles answer a question differently (a toll that grew,
another office holder, a new stage of a trial), the answer is the newest one, dated, with each
article's own answer in a timeline; when they agree, one answer with every article among its
sources.

Whether two short answers agree is judged as a reader would: "813" and "more than 800" are the
same figure told twice, "Biden" and "Joe Biden" the same man; "54" and "1,217" delegates,
"Rosselló" and "Vázquez", or two states on a ballot and then four, are a story that moved on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.types import Article, ResolvedDate, Sentence
from qa.words import content_words

_NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)(?:\s*(thousand|million|billion|trillion))?", re.I)
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
# Figures within this share of each other are one figure said two ways ("813", "more than 800"),
# when one of them is rounded: hedged ("more than"), scaled ("52 thousand"), in words, or ending
# in 00. Two exact figures that differ ("180 mph", "185 mph") are a story that moved on.
SAME_FIGURE = 0.1
_HEDGE = re.compile(
    r"\b(about|around|almost|nearly|over|under|more than|less than|fewer than|at least|"
    r"at most|some|roughly|approximately|up to|close to|upwards of)\b",
    re.I,
)
# What separates the items of a list answer ("Colorado, Arkansas, Mississippi, and Vermont").
_ITEM_SEPARATOR = re.compile(r",|;|&|\band\b|\bor\b", re.I)


def list_items(text: str) -> list[str]:
    """The items a short answer lists, one for a single name or phrase."""
    return [item for item in (part.strip() for part in _ITEM_SEPARATOR.split(text)) if item]


def figure(text: str) -> float | None:
    """The first number `text` states, with its scale ("1.7 million" → 1700000.0)."""
    match = _NUMBER.search(text)
    if match:
        value = float(match.group(1).replace(",", ""))
        return value * _SCALE.get((match.group(2) or "").lower(), 1.0)
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _NUMBER_WORDS:
            return float(_NUMBER_WORDS[word])
    return None


def rounded(text: str) -> bool:
    """Whether the figure `text` states is a rounded one (see SAME_FIGURE)."""
    match = _NUMBER.search(text)
    if match is None or match.group(2) or _HEDGE.search(text):
        return True
    return match.group(1).replace(",", "").split(".")[0].endswith("00")


def same_answer(first: str, second: str) -> bool:
    """Whether two short answers say the same: the same figure (within SAME_FIGURE of a
    rounded one), or as many items with the words of one all in the other ("Biden" in "Joe
    Biden"; but "Mississippi and Arkansas" is a list that grew into "Colorado, Arkansas,
    Mississippi, and Vermont")."""
    one, other = figure(first), figure(second)
    if one is not None or other is not None:
        if one is None or other is None:
            return False
        if one == other:
            return True
        close = abs(one - other) <= SAME_FIGURE * max(abs(one), abs(other))
        return close and (rounded(first) or rounded(second))
    if len(list_items(first)) != len(list_items(second)):
        return False
    words, other_words = set(content_words(first)), set(content_words(second))
    if not words or not other_words:
        return first.strip().lower() == second.strip().lower()
    return words <= other_words or other_words <= words


def as_of(published: dt.date | None, resolved: Sequence[ResolvedDate]) -> dt.date | None:
    """The day an answer holds for: the latest day its sentence names on or before the
    article's date ("on Monday" in a Wednesday article), else the article's date."""
    days = [
        dt.date.fromisoformat(d.date)
        for d in resolved
        if d.relation == "on" and (published is None or d.date <= published.isoformat())
    ]
    return max(days, default=published)


@dataclass(frozen=True)
class Found:
    """A sentence the answerer would answer from, with its own short answer, how well the
    ranker matched it to the question and the decision's confidence in it."""

    article: Article
    sentence: Sentence
    answer: str
    relevance: float = 0.0
    confidence: float = 1.0


# An answer from another article joins the story when the ranker matched its sentence to the
# question at least as well as the best one's, or nearly as well (within this many logits) and
# the decision is this sure of it: a newer figure about something else ("six million" votes
# counted, asked for a state's electoral votes) must not replace the answer, but a newer report
# the reader found harder to read (a longer sentence, a figure given in words) still counts.
STORY_RELEVANCE_MARGIN = 5.0
STORY_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Story:
    """How answers from several articles come together (indices into the answers found, best
    first): `chosen` gives the answer; a developing story lists every answering article in
    `timeline`, oldest first; otherwise `agreeing` are the other articles that say the same."""

    chosen: int
    timeline: tuple[int, ...] = ()
    agreeing: tuple[int, ...] = ()


def in_time(found: Sequence[Found], latest: dt.date | None = None) -> Story:
    """The story the answers found tell: the best one alone, the same answer from several
    articles, or, when dated articles answer differently, the newest article's answer: the
    newest published by `latest` (the end of the period the question names) if any was, since
    a later report ("52 thousand" deaths on April 5) answers for its own day, not for the
    month asked about."""
    best = found[0]
    firsts: dict[str, int] = {best.article.id: 0}
    for index, item in enumerate(found):
        if item.relevance >= best.relevance or (
            item.relevance >= best.relevance - STORY_RELEVANCE_MARGIN
            and item.confidence >= STORY_CONFIDENCE
        ):
            firsts.setdefault(item.article.id, index)
    others = list(firsts.values())[1:]
    agreeing = tuple(i for i in others if same_answer(found[0].answer, found[i].answer))
    dated = [i for i in firsts.values() if found[i].article.published is not None]
    if len(agreeing) == len(others) or len(dated) < 2:
        return Story(0, (), agreeing)

    def day(index: int) -> dt.date:
        published = found[index].article.published
        assert published is not None
        return published

    in_period = [i for i in dated if latest is None or day(i) <= latest]
    newest = max(in_period or dated, key=lambda i: (day(i), -i))
    return Story(newest, tuple(sorted(dated, key=lambda i: (day(i), i))))
