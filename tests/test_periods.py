"""The period a question names, read as publication dates."""

from __future__ import annotations

import datetime as dt

import pytest

from qa.answering.periods import named_period, without_period

FIRST, LAST = dt.date(2019, 1, 4), dt.date(2020, 12, 28)


@pytest.mark.parametrize(
    ("question", "since", "until", "named"),
    [
        # A period "in" a month or year takes the week after it, when it is reported.
        ("how many covid deaths in march 2020?", "2020-03-01", "2020-04-07", "in march 2020"),
        ("how many had it killed by january 2020?", None, "2020-01-31", "by january 2020"),
        ("how many cases as of february 10 2020", None, "2020-02-10", "as of february 10 2020"),
        ("who was governor on august 4, 2019?", "2019-08-04", "2019-08-11", "on august 4, 2019"),
        ("how many delegates before march 2020?", None, "2020-02-29", "before march 2020"),
        ("what happened after june 2019", "2019-07-01", None, "after june 2019"),
        ("what did trump declare in 2019?", "2019-01-01", "2020-01-07", "in 2019"),
        # Relative words count back from the newest article's date (2020-12-28).
        ("what happened last march", "2020-03-01", "2020-04-07", "last march"),
        ("how many died last year", "2019-01-01", "2020-01-07", "last year"),
        ("what happened in december", "2020-12-01", "2020-12-28", "in december"),  # "now" ends it
    ],
)
def test_named_period(question: str, since: str | None, until: str | None, named: str) -> None:
    period = named_period(question, FIRST, LAST)
    assert period is not None
    day = dt.date.fromisoformat
    assert (period.since, period.until) == (since and day(since), until and day(until))
    assert period.named == named


@pytest.mark.parametrize(
    ("question", "ends"),
    [
        ("how many covid deaths in march 2020?", "2020-03-31"),  # not the week reporting on it
        ("who was governor on august 4, 2019?", "2019-08-04"),
        ("how many had it killed by january 2020?", "2020-01-31"),
        ("how many delegates before march 2020?", "2020-02-29"),
        ("what happened after june 2019", None),
    ],
)
def test_a_period_ends_on_the_last_day_it_names(question: str, ends: str | None) -> None:
    period = named_period(question, FIRST, LAST)
    assert period is not None
    assert period.ends == (ends and dt.date.fromisoformat(ends))


@pytest.mark.parametrize(
    "question",
    [
        "who won the 2019 nobel prize in physics?",  # a year that names the prize, not a period
        "when did the oil crisis begin in 1973?",  # outside the archive's dates
        "may i ask who won?",
        "how many delegates does joe biden have?",
    ],
)
def test_no_period(question: str) -> None:
    assert named_period(question, FIRST, LAST) is None


def test_an_undated_archive_reads_no_period() -> None:
    assert named_period("what happened in march 2020?", None, None) is None


def test_the_period_words_leave_the_question() -> None:
    period = named_period("how many had died in march 2020?", FIRST, LAST)
    assert without_period("how many had died in march 2020?", period) == "how many had died?"
    assert without_period("in 2019", named_period("in 2019", FIRST, LAST)) == "in 2019"
