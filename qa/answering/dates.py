"""Time expressions in a cited sentence, pinned to the calendar.

News states time relative to something: "within three years" of the day the sentence is about
("On Aug. 20, … confirmed …"), "last month" of the day the article was published. A sentence's
anchor is its first day-and-month date (without a year, the one nearest the publication date),
else the publication date. Relative expressions (durations after within/in/by/after, "… ago",
"last/next/this …", "yesterday", weekdays) are resolved against it with dateparser; a day and
month without a year is the one nearest it, read from the month and day alone ("Saturday,
April 4"; "July 27–28"); expressions that already are calendar dates with a year are left alone.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import warnings
from collections.abc import Sequence
from typing import Any

from qa.types import Entity, ResolvedDate, Sentence

_UNITS = r"(day|week|fortnight|month|year|decade|century)s?"
_AMOUNT = (
    r"(a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|a few|several|\d+(\.\d+)?)"
)
_DURATION = re.compile(rf"^(the next |the coming )?{_AMOUNT}[ -]{_UNITS}$", re.I)
_AGO = re.compile(r"\bago$", re.I)
_RELATIVE = re.compile(
    r"\b(last|next|this|coming|previous|yesterday|today|tomorrow|tonight|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.I,
)
_YEAR = re.compile(r"\b\d{4}\b")
_MONTH = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|"
    r"\b\d{1,2}\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b",
    re.I,
)
# Preposition before a duration → how the resulting day bounds the event.
_DURATION_RELATIONS = {"within": "by", "by": "by", "in": "on", "after": "after", "before": "before"}


# A cited sentence is cited again by the next question about it, and dateparser took about a
# millisecond an expression, a thirtieth of a question's CPU outside the reader.
@functools.lru_cache(maxsize=8192)
def _parse(expression: str, base: dt.date, future: bool) -> dt.date | None:
    import dateparser

    settings: dict[str, Any] = {
        "RELATIVE_BASE": dt.datetime(base.year, base.month, base.day),
        "PREFER_DATES_FROM": "future" if future else "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dateparser's own deprecation noise, not ours to fix
        parsed = dateparser.parse(expression, languages=["en"], settings=settings)
    return parsed.date() if parsed else None


def _preposition(text: str, start: int) -> str:
    """The word directly before offset `start` in `text`, lower-cased ("" if none)."""
    match = re.search(r"([A-Za-z]+)\s+$", text[:start])
    return match.group(1).lower() if match else ""


# News tells more of what happened than of what is to come: a day ahead of publication counts as
# this many days behind it when a date without a year is placed.
AHEAD_WEIGHT = 2


def nearest_day(expression: str, published: dt.date) -> dt.date | None:
    """The day a month-and-day date without a year names: the one nearest the publication
    date, ahead of it as well as behind ("the Brexit deadline is October 31" in September,
    "the primary on February 29" a week before it), a day ahead weighing AHEAD_WEIGHT."""
    days = [_parse(expression, published, future) for future in (False, True)]

    def distance(day: dt.date) -> int:
        days_apart = (day - published).days
        return days_apart * AHEAD_WEIGHT if days_apart > 0 else -days_apart

    return min((d for d in days if d is not None), key=distance, default=None)


def sentence_anchor(
    sentence: Sentence, expressions: Sequence[tuple[Entity, str]], published: dt.date | None
) -> tuple[dt.date | None, Entity | None]:
    """The day the sentence speaks from: its first month-and-day date (without a year, the
    one nearest `published`), else `published`."""
    for entity, expression in expressions:
        day = calendar_day(expression, published)
        if day is not None:
            return day, entity
    return published, None


def calendar_day(expression: str, published: dt.date | None) -> dt.date | None:
    """The day a month-and-day date names, read from its month and day alone (dateparser takes
    "July 27–28" for 2028 and "an April 30" for 2030): with its year, else the one nearest
    `published` (None without either)."""
    month_day = _MONTH.search(expression)
    if month_day is None:
        return None
    year = _YEAR.search(expression)
    if year is not None:
        return _parse(f"{month_day.group()} {year.group()}", published or dt.date.today(), False)
    return nearest_day(month_day.group(), published) if published is not None else None


def _resolve(expression: str, preposition: str, anchor: dt.date) -> tuple[dt.date, str] | None:
    if _MONTH.search(expression):
        # A calendar day, even with its weekday ("Saturday, April 4"): not relative to the anchor.
        if _YEAR.search(expression):
            return None
        day = calendar_day(expression, anchor)
        return (day, "on") if day else None
    if _DURATION.match(expression) and preposition in _DURATION_RELATIONS:
        day = _parse(f"in {expression}", anchor, future=True)
        return (day, _DURATION_RELATIONS[preposition]) if day else None
    if _AGO.search(expression):
        day = _parse(expression, anchor, future=False)
        return (day, "on") if day else None
    if _RELATIVE.search(expression) and not _YEAR.search(expression):
        future = bool(re.search(r"\b(next|coming|tomorrow)\b", expression, re.I))
        day = _parse(expression, anchor, future=future)
        return (day, "on") if day else None
    return None


def resolve_dates(sentence: Sentence, published: dt.date | None) -> tuple[ResolvedDate, ...]:
    """Every DATE expression of the sentence that needed resolving, pinned to a day.

    Uses the sentence's spaCy DATE entities (offsets into the article text); the duration's
    preposition joins its expression ("within three years"). Empty when nothing resolves.
    """
    expressions = [
        (e, sentence.text[e.start - sentence.start : e.end - sentence.start])
        for e in sentence.entities
        if e.label == "DATE"
    ]
    anchor, anchor_entity = sentence_anchor(sentence, expressions, published)
    if anchor is None:
        return ()
    resolved: list[ResolvedDate] = []
    for entity, expression in expressions:
        local_start = entity.start - sentence.start
        if entity == anchor_entity:
            if not _YEAR.search(expression):
                resolved.append(ResolvedDate(expression, anchor.isoformat(), "on"))
            continue
        preposition = _preposition(sentence.text, local_start)
        result = _resolve(expression, preposition, anchor)
        if result is None:
            continue
        day, relation = result
        shown = f"{preposition} {expression}" if preposition in _DURATION_RELATIONS else expression
        resolved.append(ResolvedDate(shown, day.isoformat(), relation))
    return tuple(resolved)
