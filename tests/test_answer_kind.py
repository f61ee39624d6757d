"""What kind of answer a question asks for, and whether a span is one."""

from __future__ import annotations

import pytest

from qa.answer_kind import fitting_spans, question_kind, span_fits
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
        ("who confirmed the withdrawal?", "person"),
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
