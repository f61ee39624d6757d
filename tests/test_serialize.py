"""The JSON of an answer: the timeline and the newest article when the citations come from
several articles, built from hand-made citations (no models)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from qa.serialize import TIMELINE_ANSWER_CHARS, answer_to_json, placed_in_time, shorten
from qa.types import Answer, Article, Citation, Sentence

LONG = (
    "The ministry said on Friday that the last of the coalition's combat units would leave the "
    "country's western bases once the handover of equipment, training grounds and airfields to "
    "the national army was complete, which officials expected to take at least eighteen months."
)


def _citation(rank: int, article: Article, text: str) -> Citation:
    return Citation(rank, article, Sentence(article.id, 0, 0, len(text), text), 0.5)


def _article(identifier: str, published: dt.date | None) -> Article:
    return Article(identifier, f"Title {identifier}", "text", "Wire", published)


OLD = _article("old", dt.date(2019, 5, 2))
MIDDLE = _article("middle", dt.date(2020, 10, 11))
NEW = _article("new", dt.date(2021, 7, 27))
UNDATED = _article("undated", None)


def _answer(*citations: Citation, answerable: bool = True) -> Answer:
    return Answer("when?", answerable, "within three years" if answerable else None, 0.9, citations)


def test_timeline_is_in_date_order_with_undated_last_and_names_the_newest() -> None:
    answer = _answer(
        _citation(1, MIDDLE, "They will withdraw within three years."),
        _citation(2, UNDATED, "They will withdraw within two years."),
        _citation(3, NEW, LONG),
        _citation(4, OLD, "They will leave by the end of 2020."),
        _citation(5, MIDDLE, "A timetable exists."),
    )
    placed = placed_in_time(answer)
    timeline = placed["timeline"]
    assert [(e["published"], e["rank"]) for e in timeline] == [
        ("2019-05-02", 4),
        ("2020-10-11", 1),
        ("2020-10-11", 5),
        ("2021-07-27", 3),
        (None, 2),
    ]
    assert placed["newest"] == "new"
    first = next(e for e in timeline if e["rank"] == 1)
    assert first == {
        "published": "2020-10-11",
        "article_id": "middle",
        "title": "Title middle",
        "answer": "within three years",  # the short answer, not its sentence
        "rank": 1,
    }
    assert next(e for e in timeline if e["rank"] == 5)["answer"] == "A timetable exists."
    long = next(e for e in timeline if e["rank"] == 3)["answer"]
    assert len(long) <= TIMELINE_ANSWER_CHARS < len(LONG)
    assert long.endswith("…") and LONG.startswith(long[:-1])
    assert long[-2] != " " and LONG[len(long) - 1] == " "  # cut between words


def test_answer_json_carries_the_timeline_only_across_several_articles() -> None:
    one_article = _answer(
        _citation(1, MIDDLE, "They will withdraw within three years."),
        _citation(2, MIDDLE, "A timetable exists."),
    )
    assert placed_in_time(one_article) == {}
    assert "timeline" not in answer_to_json(one_article)
    two = dataclasses.replace(
        one_article, citations=(*one_article.citations, _citation(3, OLD, "By 2020."))
    )
    data = answer_to_json(two)
    assert [e["rank"] for e in data["timeline"]] == [3, 1, 2] and data["newest"] == "middle"
    # Closest matches of an abstention answer nothing: no timeline.
    abstained = dataclasses.replace(two, answerable=False, answer=None)
    assert "timeline" not in answer_to_json(abstained)


def test_newest_is_null_when_no_citation_is_dated_and_ties_go_to_the_better_rank() -> None:
    other_undated = _article("undated-2", None)
    placed = placed_in_time(
        _answer(_citation(1, UNDATED, "Soon."), _citation(2, other_undated, "Later."))
    )
    assert placed["newest"] is None and [e["rank"] for e in placed["timeline"]] == [1, 2]
    same_day = _article("same-day", NEW.published)
    tie = _answer(_citation(1, MIDDLE, "x"), _citation(2, same_day, "y"), _citation(3, NEW, "z"))
    assert placed_in_time(tie)["newest"] == "same-day"


def test_shorten() -> None:
    assert shorten("short enough", 20) == "short enough"
    assert shorten("one two three four five six", 15) == "one two three…"
    assert len(shorten("x" * 300, 200)) == 200  # no space to cut at: cut inside the word
