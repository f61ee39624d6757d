"""Answers in time: which short answers agree, and the story several dated answers tell."""

from __future__ import annotations

import datetime as dt

import pytest

from qa.answering.developing import (
    STORY_CONFIDENCE,
    STORY_RELEVANCE_MARGIN,
    Found,
    as_of,
    figure,
    in_time,
    same_answer,
)
from qa.types import Article, ResolvedDate, Sentence


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("813", "more than 800", True),  # one figure told twice
        ("5,900", "about 6,000", True),
        ("52 thousand", "51,970", True),
        ("180 mph", "185 mph", False),  # two exact figures: the wind picked up
        ("1.7 million", "1,700,000", True),
        ("54", "1,217", False),  # a count that grew
        ("six", "6", True),
        ("Biden", "Joe Biden", True),  # a name with and without its first name
        ("Ricardo Rosselló", "Wanda Vázquez Garced", False),
        ("within three years", "by the end of 2020", False),
        ("suspended", "officially withdrawn", False),
        ("Mississippi and Arkansas", "Colorado, Arkansas, Mississippi, and Vermont", False),
        ("Joe Biden and Kamala Harris", "Biden and Harris", True),
    ],
)
def test_same_answer(first: str, second: str, same: bool) -> None:
    assert same_answer(first, second) is same
    assert same_answer(second, first) is same


def test_figure_reads_scales() -> None:
    assert figure("at least 1.7 million") == 1_700_000
    assert figure("no number") is None


def _found(identifier: str, published: dt.date | None, answer: str) -> Found:
    article = Article(identifier, f"Title {identifier}", "text", published=published)
    return Found(article, Sentence(identifier, 0, 0, 4, "text"), answer)


FEBRUARY = _found("feb", dt.date(2020, 2, 10), "813")
APRIL = _found("apr", dt.date(2020, 4, 5), "5,900")
APRIL_AGAIN = _found("apr", dt.date(2020, 4, 5), "a later sentence")
MAY = _found("may", dt.date(2020, 5, 29), "more than 800")
UNDATED = _found("notes", None, "6,000")


def test_answers_that_differ_over_time_tell_the_newest_with_a_timeline() -> None:
    story = in_time([FEBRUARY, APRIL, APRIL_AGAIN, UNDATED])
    assert story.chosen == 1  # April's, the newest dated
    assert story.timeline == (0, 1)  # each dated article once, oldest first; undated left out
    assert story.agreeing == ()


def test_a_report_after_the_period_asked_about_answers_only_when_none_in_it_does() -> None:
    end_of_march = dt.date(2020, 3, 31)
    story = in_time([APRIL, FEBRUARY], latest=end_of_march)
    assert story.chosen == 1  # February's: April's 5,900 is the toll on its own day
    assert story.timeline == (1, 0)  # how it changed, the later report included
    assert in_time([APRIL, FEBRUARY]).chosen == 0  # no period named: the newest
    assert in_time([APRIL, MAY], latest=end_of_march).chosen == 1  # only later reports: the newest


def test_answers_that_agree_are_one_answer_from_every_article() -> None:
    story = in_time([FEBRUARY, MAY])
    assert (story.chosen, story.timeline, story.agreeing) == (0, (), (1,))


def test_one_article_is_no_story() -> None:
    assert in_time([FEBRUARY]) == in_time([FEBRUARY, _found("feb", None, "x")])
    assert in_time([FEBRUARY]).timeline == ()


def _scored(found: Found, relevance: float, confidence: float) -> Found:
    return Found(found.article, found.sentence, found.answer, relevance, confidence)


def test_an_answer_joins_the_story_by_how_well_it_matches_and_how_sure_the_decision_is() -> None:
    best = _scored(FEBRUARY, 10.0, 0.9)
    # A newer report the ranker matched at least as well joins, however unsure the decision.
    assert in_time([best, _scored(APRIL, 10.5, 0.25)]).chosen == 1
    # Nearly as well (within STORY_RELEVANCE_MARGIN) needs STORY_CONFIDENCE too.
    assert in_time([best, _scored(APRIL, 10.0 - STORY_RELEVANCE_MARGIN + 0.5, 0.6)]).chosen == 1
    assert in_time([best, _scored(APRIL, 9.0, STORY_CONFIDENCE - 0.1)]) == in_time([best])
    # A newer figure about something else, matched much worse, leaves the answer alone.
    assert in_time([best, _scored(APRIL, 10.0 - STORY_RELEVANCE_MARGIN - 1, 0.95)]).chosen == 0


def test_as_of_is_the_day_the_sentence_names_else_the_articles() -> None:
    published = dt.date(2020, 2, 12)
    monday = ResolvedDate("Monday", "2020-02-10", "on")
    later = ResolvedDate("within three years", "2023-02-12", "by")
    assert as_of(published, [monday, later]) == dt.date(2020, 2, 10)
    assert as_of(published, [later]) == published
