"""The JSON of an answer: a developing story's timeline, its as-of day and the period the
question named, built from hand-made records (no models)."""

from __future__ import annotations

import datetime as dt

from qa.service.serialize import TIMELINE_ANSWER_CHARS, answer_to_json, shorten
from qa.types import Answer, Article, Citation, Period, Sentence, TimelineEntry

LONG = (
    "The ministry said on Friday that the last of the coalition's combat units would leave the "
    "country's western bases once the handover of equipment, training grounds and airfields to "
    "the national army was complete, which officials expected to take at least eighteen months."
)


def _article(identifier: str, published: dt.date | None) -> Article:
    return Article(identifier, f"Title {identifier}", "text", "Wire", published)


def _entry(article: Article, answer: str) -> TimelineEntry:
    sentence = Sentence(article.id, 2, 10, 60, f"They said {answer}.")
    return TimelineEntry(article, sentence, answer)


OLD = _article("old", dt.date(2019, 5, 2))
NEW = _article("new", dt.date(2021, 7, 27))


def test_a_developing_story_carries_each_articles_answer_and_the_day_it_holds_for() -> None:
    citation = Citation(1, NEW, Sentence("new", 0, 0, 10, "By Dec. 31."), 0.9)
    answer = Answer(
        "when?",
        True,
        "by Dec. 31, 2021",
        0.9,
        (citation,),
        as_of=dt.date(2021, 7, 26),
        timeline=(_entry(OLD, "by the end of 2020"), _entry(NEW, LONG)),
    )
    data = answer_to_json(answer)
    assert data["as_of"] == "2021-07-26"
    first, second = data["timeline"]
    assert first == {
        "published": "2019-05-02",
        "article_id": "old",
        "title": "Title old",
        "answer": "by the end of 2020",
        "sentence": "They said by the end of 2020.",
        "start": 10,
        "end": 60,
    }
    long = second["answer"]
    assert len(long) <= TIMELINE_ANSWER_CHARS < len(LONG)
    assert long.endswith("…") and LONG.startswith(long[:-1])


def test_an_answer_without_a_story_or_period_says_so() -> None:
    data = answer_to_json(Answer("when?", True, "soon", 0.9, ()))
    assert (data["as_of"], data["timeline"], data["period"]) == (None, [], None)


def test_the_period_the_question_named() -> None:
    period = Period(dt.date(2020, 3, 1), dt.date(2020, 3, 31), "in march 2020")
    data = answer_to_json(Answer("how many?", True, "6,606", 0.9, (), period=period))
    assert data["period"] == {
        "since": "2020-03-01",
        "until": "2020-03-31",
        "named": "in march 2020",
    }
    open_ended = Period(None, dt.date(2020, 1, 31), "by january 2020")
    data = answer_to_json(Answer("how many?", True, "80", 0.9, (), period=open_ended))
    assert data["period"]["since"] is None


def test_shorten() -> None:
    assert shorten("short enough", 20) == "short enough"
    assert shorten("one two three four five six", 15) == "one two three…"
    assert len(shorten("x" * 300, 200)) == 200  # no space to cut at: cut inside the word
