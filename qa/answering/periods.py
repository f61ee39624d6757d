"""The period a question names ("in march 2020", "by april 2020", "in 2019", "last march"),
read as the publication dates to ask: a news question about March is answered from March's
articles, not from the newest.

A period "in" a month or year also takes the week after it (REPORTING_DAYS): what happened on
its last days is reported then. Only periods that overlap the archive's dates are applied:
"the 1973 oil crisis" asked of an archive of 2019-2020 news names what it asks about, not when
it was reported. Relative words ("last march", "last year", "last week") count back from the
newest article's date, the archive's "now". Named eras ("during the lockdown") are not read.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from qa.types import Period

# Days after a period ("in march 2020") whose articles still report on it.
REPORTING_DAYS = dt.timedelta(days=7)
_MONTHS = {
    name: number
    for number in range(1, 13)
    for name in {calendar.month_name[number].lower(), calendar.month_abbr[number].lower()}
}
_MONTHS["sept"] = 9
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_LEAD = r"(?P<lead>in|during|by|before|until|till|after|since|as of|on|last|this)"
_PATTERNS = (
    # A day: "as of march 2 2020", "on 17 march 2020", "by march 17, 2020".
    re.compile(rf"\b{_LEAD}\s+{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b{_LEAD}\s+{_DAY}\s+{_MONTH},?\s+{_YEAR}\b", re.I),
    # A month: "in march 2020", "by april 2020", "last march", "in march".
    re.compile(rf"\b{_LEAD}\s+{_MONTH}(?:,?\s+(?:of\s+)?{_YEAR})?\b(?!\s*[0-3]?\d\b)", re.I),
    # A year: "in 2019", "before 2020".
    re.compile(rf"\b{_LEAD}\s+{_YEAR}\b", re.I),
    # Relative: "last year", "this month", "last week".
    re.compile(r"\b(?P<lead>last|this|past)\s+(?P<unit>year|month|week)\b", re.I),
)


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _span(match: re.Match[str], now: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first and last day the match names, relative ones counted back from `now`."""
    groups = match.groupdict()
    unit = groups.get("unit")
    if unit:
        lead = groups["lead"].lower()
        back = 0 if lead == "this" else 1
        if unit.lower() == "year":
            return dt.date(now.year - back, 1, 1), dt.date(now.year - back, 12, 31)
        if unit.lower() == "month":
            back_year, back_month = divmod(now.year * 12 + now.month - 1 - back, 12)
            return dt.date(back_year, back_month + 1, 1), _month_end(back_year, back_month + 1)
        start = now - dt.timedelta(days=now.weekday() + 7 * back)
        return start, start + dt.timedelta(days=6)
    year = int(groups["year"]) if groups.get("year") else None
    month = _MONTHS[groups["month"].lower().rstrip(".")] if groups.get("month") else None
    if groups.get("day"):
        assert year is not None and month is not None
        try:
            day = dt.date(year, month, int(groups["day"]))
        except ValueError:
            return None
        return day, day
    if month is not None:
        if year is None:  # the latest such month up to now ("last march", "in march")
            year = now.year if month <= now.month else now.year - 1
        return dt.date(year, month, 1), _month_end(year, month)
    assert year is not None
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def named_period(question: str, first: dt.date | None, last: dt.date | None) -> Period | None:
    """The period `question` names, as publication dates, if it overlaps the archive's dates
    `first`..`last` (None when the archive holds no dated article)."""
    if first is None or last is None:
        return None
    for pattern in _PATTERNS:
        match = pattern.search(question)
        if match is None:
            continue
        span = _span(match, last)
        if span is None:
            continue
        start, end = span
        if end < first or start > last:
            return None
        lead = match.group("lead").lower()
        if lead in {"by", "until", "till", "as of"}:
            return Period(None, end, match.group().strip(), end)
        if lead == "before":
            day_before = start - dt.timedelta(days=1)
            return Period(None, day_before, match.group().strip(), day_before)
        if lead == "after":
            return Period(end + dt.timedelta(days=1), None, match.group().strip())
        if lead == "since":
            return Period(start, None, match.group().strip())
        # What happened in a period is reported in it and in the days after ("taken to
        # hospital in august", told on September 1).
        return Period(start, min(last, end + REPORTING_DAYS), match.group().strip(), end)
    return None


def without_period(question: str, period: Period | None) -> str:
    """The question without the words that named its period ("how many died in march 2020?"
    → "how many died?"): once the period filters the articles, they are not words to find."""
    if period is None:
        return question
    rest = question.replace(period.named, " ", 1)
    return re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s{2,}", " ", rest)).strip() or question
