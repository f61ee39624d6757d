"""What kind of answer a question asks for, and whether a span is one."""

from __future__ import annotations

import pytest

from qa.answering.answer_kind import (
    asked_noun,
    asks_for_a_list,
    fitting_spans,
    list_span,
    question_kind,
    span_fits,
    with_asked_noun,
)
from qa.types import Entity


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("what time did Kosgei run in Chicago?", "clock"),
        ("how long will the talks last?", "duration"),
        ("when will coalition forces withdraw?", "date"),
        ("In what year did the crisis start?", "date"),
        ("how many troops remain?", "quantity"),
        ("how old was Greta Thunberg when Time named her?", "quantity"),  # the first cue
        ("what killed the president?", "cause"),
        ("who coaches the university side?", "person"),
        ("who confirmed the withdrawal?", "speaker"),  # who said, not who did
        ("in which country did it land?", "place"),
        ("why are they leaving?", None),
    ],
)
def test_question_kind(question: str, kind: str | None) -> None:
    assert question_kind(question) == kind


@pytest.mark.parametrize(
    ("kind", "span", "labels", "fits"),
    [
        ("clock", "2:14:04", set(), True),
        ("clock", "2019", {"DATE"}, False),
        ("quantity", "sixteen", {"CARDINAL"}, True),
        ("quantity", "2019", {"DATE"}, False),  # a year is not how old or how many
        ("quantity", "the 1990s", set(), False),
        ("quantity", "about 20:00", {"TIME"}, False),  # the time of day is not an age
        ("quantity", "12:30 and 40 people", set(), True),
        ("date", "Aug. 20", {"DATE"}, True),
        ("date", "police", set(), False),
        ("duration", "three years", {"DATE"}, True),
        ("person", "James Peebles", {"PERSON"}, True),
        ("person", "2019", {"DATE"}, False),
        ("place", "Chicago", {"GPE"}, True),
        ("cause", "a cardiac arrest", set(), True),
        ("cause", "police", {"ORG"}, False),
        ("cause", "overnight", {"TIME"}, False),
        (None, "anything", set(), True),
    ],
)
def test_span_fits(kind: str, span: str, labels: set[str], fits: bool) -> None:
    assert span_fits(kind, span, labels) is fits


def test_fitting_spans_find_numbers_the_tagger_missed() -> None:
    text = "Kosgei won in 2019, completing the race in 2:14:04 to win."
    year = text.index("2019")
    spans = fitting_spans("clock", text, [Entity("DATE", year, year + 4)])
    assert [text[a:b] for a, b in spans] == ["2:14:04"]  # not the year, nor the "to" after
    assert fitting_spans(None, text, []) == []


def _people(text: str, *names: str) -> list[Entity]:
    return [Entity("PERSON", text.index(n), text.index(n) + len(n)) for n in names]


@pytest.mark.parametrize(
    ("text", "names", "picked", "listed"),
    [
        (
            "The prize was shared between James Peebles and the duo of Didier Queloz and "
            "Michel Mayor.",
            ("James Peebles", "Didier Queloz", "Michel Mayor"),
            "James Peebles",
            "James Peebles and the duo of Didier Queloz and Michel Mayor",
        ),
        (
            "Cream was formed by Baker, Bruce and singer/guitarist Eric Clapton.",
            ("Baker", "Bruce", "Eric Clapton"),
            "Eric Clapton",
            "Baker, Bruce and singer/guitarist Eric Clapton",
        ),
        (  # not a list: the names are not joined by a comma, "and" or "or"
            "Trump confirmed to Iraqi Prime Minister Mustafa al-Kadhimi that they would go.",
            ("Trump", "Mustafa al-Kadhimi"),
            "Trump",
            "Trump",
        ),
    ],
)
def test_a_list_span_names_every_item(
    text: str, names: tuple[str, ...], picked: str, listed: str
) -> None:
    start = text.index(picked)
    first, last = list_span(text, _people(text, *names), start, start + len(picked))
    assert text[first:last] == listed


def test_list_questions() -> None:
    assert asks_for_a_list("who won the 2019 nobel prize in physics?")
    assert asks_for_a_list("which countries are in the g7")
    assert not asks_for_a_list("when did the oil crisis begin?")
    assert not asks_for_a_list("what is the official name of the disease?")


@pytest.mark.parametrize(
    ("question", "noun"),
    [
        ("what category is hurricane humberto?", "category"),
        ("which stage is the trial at?", "stage"),
        ("what year did it open?", None),  # a measure: "2019", not "the year 2019"
        ("what is the name?", None),
        ("how many died?", None),
    ],
)
def test_asked_noun(question: str, noun: str | None) -> None:
    assert asked_noun(question) == noun


def test_a_bare_number_takes_the_noun_asked_for() -> None:
    text = "Humberto became a Category 3 hurricane; 3 people died."
    three = text.index("3")
    assert text[with_asked_noun(text, three, three + 1, "category") : three + 1] == "Category 3"
    people = text.index("3 people")
    assert with_asked_noun(text, people, people + 1, "category") == people  # not after it
    assert with_asked_noun(text, three, three + 1, None) == three
    words = text.index("a Category")
    assert with_asked_noun(text, words, three + 1, "category") == words  # not a bare number
