"""Relative time expressions resolved against the sentence's anchor and the publication date."""

from __future__ import annotations

import datetime as dt

from qa.answering.dates import resolve_dates
from qa.ingest.sentences import SpacySplitter, to_sentences
from qa.types import Entity, ResolvedDate, Sentence

PUBLISHED = dt.date(2020, 10, 11)
SEED = (
    "On Aug. 20, U.S. President Donald Trump confirmed to Iraqi Prime Minister Mustafa "
    "al-Kadhimi during the latter's official visit to the United States that the U.S.-led "
    "coalition forces will rapidly withdraw from Iraq within three years."
)


def sentence_with_dates(text: str, *expressions: str) -> Sentence:
    """A sentence whose DATE entities are the given substrings (deterministic, no tagger)."""
    entities = tuple(Entity("DATE", text.index(e), text.index(e) + len(e)) for e in expressions)
    return Sentence("a", 0, 0, len(text), text, entities)


def test_seed_sentence_with_real_entities(splitter: SpacySplitter) -> None:
    [spans] = splitter.split([SEED])
    [sentence] = to_sentences("seed", SEED, spans)
    resolved = resolve_dates(sentence, PUBLISHED)
    assert ResolvedDate("Aug. 20", "2020-08-20", "on") in resolved
    assert ResolvedDate("within three years", "2023-08-20", "by") in resolved


def test_relative_to_publication_without_anchor_in_sentence() -> None:
    text = (
        "Pompeo warned Iraq last month, and talks resume next week; the attack came two weeks ago."
    )
    resolved = resolve_dates(
        sentence_with_dates(text, "last month", "next week", "two weeks ago"), PUBLISHED
    )
    assert resolved == (
        ResolvedDate("last month", "2020-09-11", "on"),
        ResolvedDate("next week", "2020-10-18", "on"),
        ResolvedDate("two weeks ago", "2020-09-27", "on"),
    )


def test_durations_take_their_preposition() -> None:
    text = (
        "On March 3, officials said troops would leave in 18 months, and reforms come after a year."
    )
    resolved = resolve_dates(sentence_with_dates(text, "March 3", "18 months", "a year"), PUBLISHED)
    assert resolved == (
        ResolvedDate("March 3", "2020-03-03", "on"),
        ResolvedDate("in 18 months", "2021-09-03", "on"),
        ResolvedDate("after a year", "2021-03-03", "after"),
    )


def test_calendar_dates_and_unanchored_sentences_are_left_alone() -> None:
    dated = sentence_with_dates(
        "The war began in 1980 and ended in August 1988.", "1980", "August 1988"
    )
    assert resolve_dates(dated, PUBLISHED) == ()
    relative = sentence_with_dates("The deal was signed last month.", "last month")
    assert resolve_dates(relative, None) == ()


def test_a_day_without_its_year_is_the_nearest_one_ahead_or_behind() -> None:
    """Wikinews, 2019-09-11: a day ahead of publication is this year's, not last year's; a day
    months ahead is still last one's, since news mostly tells what happened."""
    ahead = sentence_with_dates(
        "Parliament is to remain out-of-session through October 14; the Brexit deadline is "
        "October 31.",
        "October 14",
    )
    assert resolve_dates(ahead, dt.date(2019, 9, 11)) == (
        ResolvedDate("October 14", "2019-10-14", "on"),
    )
    leap = sentence_with_dates("The South Carolina primary is on February 29.", "February 29")
    assert resolve_dates(leap, dt.date(2020, 2, 23))[0].date == "2020-02-29"
    behind = sentence_with_dates("On March 3, the talks began.", "March 3")
    assert resolve_dates(behind, dt.date(2020, 10, 11))[0].date == "2020-03-03"


def test_a_calendar_day_is_read_from_its_month_and_day() -> None:
    """Wikinews sentences dateparser misread whole: "July 27–28" as 2028, "an April 30" as 2030,
    and "Saturday, April 4" (after the sentence's "March 26") as a weekday of 2019."""
    weekend = sentence_with_dates(
        "Wikinews attended the convention on the last weekend of July — July 27–28 — in Texas.",
        "July 27–28",
    )
    assert resolve_dates(weekend, dt.date(2019, 8, 5))[0].date == "2019-07-27"
    poll = sentence_with_dates("In an April 30 – May 4 Monmouth poll, Biden led.", "an April 30")
    assert resolve_dates(poll, dt.date(2020, 6, 19))[0].date == "2020-04-30"
    shutdown = sentence_with_dates(
        "The shutdown had started on March 26 and was planned to end on Saturday, April 4.",
        "March 26",
        "Saturday, April 4",
    )
    assert resolve_dates(shutdown, dt.date(2020, 4, 8)) == (
        ResolvedDate("March 26", "2020-03-26", "on"),
        ResolvedDate("Saturday, April 4", "2020-04-04", "on"),
    )
