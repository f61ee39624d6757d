"""What kind of answer a question asks for, and whether a span is one.

The reader finds the span most like an answer to the question's words, not to its kind: asked
"what time did Kosgei run?", it may take "2019" from one sentence over "2:14:04" in another;
asked "who won?", the announcer. Knowing the kind lets the answerer prefer a span that fits
among the sentences it read, and count a span that does not fit against answering at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from qa.types import Entity
from qa.words import STOPWORDS

# Verbs of saying: who announced the winners is not who won.
_SPEECH = (
    r"said|says|announced|announces|told|tells|reported|reports|confirmed|confirms|stated|"
    r"claimed|warned|wrote|declared"
)
_SPEAKS = re.compile(rf"^\s*(has |had |have )?({_SPEECH})\b", re.I)
# Question cue → kind. The cue found first in the question wins ("how old was she when …" asks
# for a quantity); at the same place, the earlier pattern ("what time" before "what").
_KINDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(cue, re.I), kind)
    for cue, kind in (
        (r"\bwhat time\b|\bat what time\b", "clock"),
        (r"\bhow (long|soon|often)\b", "duration"),
        (
            r"\b(when|what (year|years|date|day|month|century|decade)|"
            r"which (year|day|month|century|decade)|since when|by when)\b",
            "date",
        ),
        (
            r"\bhow (many|much|far|big|large|tall|high|old|heavy|fast|deep|wide)\b|"
            r"\bwhat (number|amount|percentage|percent|share|age)\b",
            "quantity",
        ),
        (r"\bwhat (killed|caused|causes|led to|started|triggered)\b|\bcause of\b", "cause"),
        (rf"\b(who|whom)\s+(\w+\s+)?({_SPEECH})\b", "speaker"),
        (r"\b(who|whom|whose)\b", "person"),
        (
            r"\bwhere\b|\b(what|which|in what|in which) (country|countries|city|cities|state|"
            r"region|place|continent|town|province)\b",
            "place",
        ),
    )
)

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|hundreds|thousand|thousands|million|millions|billion|billions|"
    r"dozen|dozens|half|a few|several"
)
_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I)
_YEAR_ONLY = re.compile(r"^(in |by |since |until |before |after |the )?(1[6-9]|20)\d\d[s]?$", re.I)
_CLOCK = re.compile(
    r"\b\d{1,2}[:.]\d\d\b|\b\d{1,2} ?(am|pm|a\.m\.|p\.m\.)|\b(noon|midnight)\b", re.I
)
_TIME_UNIT = re.compile(
    r"\b(second|minute|hour|day|night|week|fortnight|month|year|decade|century)s?\b", re.I
)
_CALENDAR = re.compile(
    r"\b(1[6-9]|20)\d\d\b|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\b|"
    r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|"
    r"tonight|spring|summer|autumn|fall|winter|week|month|year)\b",
    re.I,
)
_NUMBER_WITH_UNIT = re.compile(r"(\d[\d,.:]*\d|\d)(?:\s+([A-Za-z%]+))?")
_NAME_LABELS = frozenset({"PERSON", "ORG", "NORP"})
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
_TIME_LABELS = frozenset({"DATE", "TIME"})
_NUMBER_LABELS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"})


def question_kind(question: str) -> str | None:
    """The kind of answer `question` asks for: clock, duration, date, quantity, cause, person,
    speaker (who said) or place; None when the question does not say (what, which, why,
    how)."""
    found = [
        (match.start(), order, kind)
        for order, (pattern, kind) in enumerate(_KINDS)
        if (match := pattern.search(question))
    ]
    return min(found)[2] if found else None


def span_fits(kind: str | None, span: str, labels: Iterable[str]) -> bool:
    """Whether `span`, holding entities labelled `labels` (spaCy's), is an answer of `kind`.
    Any span fits an unknown kind."""
    labels = set(labels)
    has_number = bool(_NUMBER.search(span))
    year_only = bool(_YEAR_ONLY.match(span.strip()))
    if kind is None:
        return True
    if kind == "clock":
        return bool(_CLOCK.search(span)) or ("TIME" in labels and has_number)
    if kind == "duration":
        return bool(labels & _TIME_LABELS) or (has_number and bool(_TIME_UNIT.search(span)))
    if kind == "date":
        return bool(labels & _TIME_LABELS) or bool(_CALENDAR.search(span))
    if kind == "quantity":  # a count, not the year or the time of day it was counted at
        return has_number and not year_only and bool(_NUMBER.search(_CLOCK.sub(" ", span)))
    if kind == "cause":
        return not (labels and labels <= _NAME_LABELS | _TIME_LABELS) and not year_only
    if kind in {"person", "speaker"}:
        return bool(labels & _NAME_LABELS) or (
            not labels & (_TIME_LABELS | _NUMBER_LABELS) and not has_number
        )
    if kind == "place":
        return bool(labels & _PLACE_LABELS) or (
            not labels & (_TIME_LABELS | _NUMBER_LABELS | {"PERSON"}) and not has_number
        )
    return True


def speaks(text: str, end: int) -> bool:
    """Whether the span ending at `end` is followed by a verb of saying: the one who announced
    the winners, where a person asked for is who won."""
    return bool(_SPEAKS.match(text[end:]))


def labels_in(entities: Sequence[Entity], start: int, end: int) -> set[str]:
    """The labels of the entities overlapping `start:end` (offsets in the same text)."""
    return {e.label for e in entities if e.start < end and start < e.end}


def fitting_spans(kind: str | None, text: str, entities: Sequence[Entity]) -> list[tuple[int, int]]:
    """Spans of `text` that are answers of `kind` on their own: its entities that fit, and for
    numeric kinds its numbers with the word after them ("2:14:04", "16 years")."""
    if kind is None:
        return []
    spans = [
        (e.start, e.end) for e in entities if span_fits(kind, text[e.start : e.end], {e.label})
    ]
    if kind in {"clock", "duration", "quantity"}:
        for match in _NUMBER_WITH_UNIT.finditer(text):
            start, end = match.span()
            if match.group(2) and match.group(2).lower() in STOPWORDS:
                end = match.end(1)  # "2:14:04 to win": the number alone
            if span_fits(kind, text[start:end], labels_in(entities, start, end)):
                spans.append((start, end))
    return spans


_LIST_CUE = re.compile(
    r"\b(who|(which|what) (?!(is|was|has|does|this|its|his)\b)\w+s|what (are|were) the|"
    r"name (the|all)|list|winners|candidates|members)\b",
    re.I,
)
# What may stand between two items of a list: a comma, "and" or "or", and a few lower-case
# words ("A, B and C", "A and the duo of B and C", "Baker, Bruce and singer/guitarist Eric
# Clapton").
_LIST_GAP = re.compile(
    r"^\s*(,|;|&|,? and|,? or|,? as well as|,? along with)\s+([a-z][\w/'-]*\s+){0,3}$"
)
_NAME_TAIL = re.compile(r"( [A-Z][\w'-]+){1,2}(?=[.,;:]|$)")
_LABEL_FAMILY = {"PERSON": "name", "ORG": "name", "NORP": "name", "GPE": "place", "LOC": "place"}


# "what category is Humberto?": the noun a bare number answers is part of the answer. Not
# a unit or a measure ("what year": "2019", not "the year 2019").
_ASKED_NOUN = re.compile(r"\b(?:what|which)\s+([a-z]+)\b", re.I)
_MEASURE_NOUNS = frozenset(
    "year years month day date time decade century week age number amount percentage percent "
    "share size score price cost".split()
)


def asked_noun(question: str) -> str | None:
    """The noun after "what"/"which" ("category" in "what category is Humberto?"), lower case;
    None if the question has none or it names a measure."""
    match = _ASKED_NOUN.search(question)
    noun = match.group(1).lower() if match else None
    return None if noun is None or noun in STOPWORDS or noun in _MEASURE_NOUNS else noun


_BARE_NUMBER = re.compile(rf"^\s*(\d[\d,.]*|{_NUMBER_WORDS})\s*$", re.I)


def with_asked_noun(text: str, start: int, end: int, noun: str | None) -> int:
    """Where a bare-number span `text[start:end]` begins once the noun the question asked
    for is taken in ("Category 5" for "what category", not "5"); `start` otherwise."""
    if noun is None or not _BARE_NUMBER.match(text[start:end]):
        return start
    before = re.search(rf"\b{re.escape(noun)}s?\s+$", text[:start], re.I)
    return before.start() if before else start


def asks_for_a_list(question: str) -> bool:
    """Whether the question may want several things ("who won", "which countries")."""
    return bool(_LIST_CUE.search(question))


def list_span(text: str, entities: Sequence[Entity], start: int, end: int) -> tuple[int, int]:
    """`start:end` widened to the whole list it is part of: the entities of its family (names,
    places) joined to it by commas, "and", "or" ("James Peebles and the duo of Didier Queloz
    and Michel Mayor"). Offsets are in `text`, as the entities' are."""
    inside = [e for e in entities if e.start < end and start < e.end and e.label in _LABEL_FAMILY]
    if not inside:
        return start, end
    family = _LABEL_FAMILY[inside[0].label]
    items = sorted(
        (e for e in entities if _LABEL_FAMILY.get(e.label) == family), key=lambda e: e.start
    )
    first = min(start, *(e.start for e in inside))
    last = max(end, *(e.end for e in inside))
    for item in items:  # rightwards
        if item.start >= last and _LIST_GAP.match(text[last : item.start]):
            last = item.end
    for item in reversed(items):  # leftwards
        if item.end <= first and _LIST_GAP.match(text[item.end : first]):
            first = item.start
    if family == "name":  # a surname the tagger left out ("Michel" of "Michel Mayor")
        tail = _NAME_TAIL.match(text, last)
        last = tail.end() if tail else last
    return first, last
