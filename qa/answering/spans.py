"""What the reader's view of a sentence comes to: the span it answers with, of the kind the
question asks for where the reader nearly agrees, kept whole where it is a time with its
bounding preposition ("within three years") or a list ("James Peebles and the duo of Didier
Queloz and Michel Mayor").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.answering.answer_kind import (
    fitting_spans,
    labels_in,
    list_span,
    span_fits,
    speaks,
    with_asked_noun,
)
from qa.answering.ranker import Candidate
from qa.models.reader import Reading
from qa.types import Entity, Sentence


def sentence_entities(sentence: Sentence) -> list[Entity]:
    """The sentence's entities with offsets relative to the sentence text."""
    return [
        Entity(e.label, e.start - sentence.start, e.end - sentence.start) for e in sentence.entities
    ]


# Prepositions that change what a time means ("within three years" is not "three years"): a
# time span the reader picks keeps one it follows. "in 1973" means the bare date.
BOUNDING_PREPOSITIONS = frozenset(
    "within by since until till before after during over around about nearly almost "
    "approximately".split()
)
_LAST_WORD = re.compile(r"([A-Za-z]+)\s+$")


def bounded_span(sentence: Sentence, start: int, end: int) -> str:
    """The text of `sentence[start:end]`, widened to a bounding preposition just before it when
    the span is a time (it overlaps a DATE or TIME entity)."""
    is_time = any(
        e.label in {"DATE", "TIME"} and e.start < end and start < e.end
        for e in sentence_entities(sentence)
    )
    if is_time:
        match = _LAST_WORD.search(sentence.text[:start])
        if match and match.group(1).lower() in BOUNDING_PREPOSITIONS:
            start = match.start(1)
    return sentence.text[start:end]


@dataclass(frozen=True)
class ReadSentence:
    """A read candidate: its span (score minus no-answer, offsets in the sentence) and whether
    the span is the kind of answer the question asks for."""

    candidate: Candidate
    span_score: float
    start: int
    end: int
    fits: bool
    announces: bool = False  # a body that announced what a person asked for did (`announcer`)


def announcer(kind: str | None, labels: set[str], text: str, end: int) -> bool:
    """Whether a span asked for as a person is a body that announced or reported the answer
    ("the Royal Swedish Academy of Sciences announced the winners"): not who won. A person
    quoted ("coach Brad Tronc said") often is the answer, and stays."""
    return kind == "person" and "PERSON" not in labels and speaks(text, end)


def choose_span(
    kind: str | None,
    candidate: Candidate,
    reading: Reading,
    margin: float,
) -> ReadSentence:
    """The reader's best span in the candidate, or, when that is not of the question's kind,
    the best-scoring span of that kind within `margin` of it (logits: close enough to be the
    reader's second thought, not a number picked from a sentence it found nothing in)."""
    score, start, end = reading.best_span()
    sentence = candidate.sentence
    entities = sentence_entities(sentence)
    labels = labels_in(entities, start, end)
    announces = announcer(kind, labels, sentence.text, end)
    if span_fits(kind, sentence.text[start:end], labels):
        return ReadSentence(candidate, score, start, end, True, announces)
    scored = [
        (reading.span_score(a, b), a, b) for a, b in fitting_spans(kind, sentence.text, entities)
    ]
    best = max(scored, default=None)
    if best is not None and best[0] >= score - margin:
        a, b = best[1], best[2]
        announces = announcer(kind, labels_in(entities, a, b), sentence.text, b)
        return ReadSentence(candidate, best[0], a, b, True, announces)
    return ReadSentence(candidate, score, start, end, False, announces)


def short_answer(read: ReadSentence, listed: bool, noun: str | None = None) -> tuple[str, int]:
    """The short answer in a read sentence and how many names it holds: its span, widened to
    a bounding preposition of a time ("within three years"), to the noun the question asked
    for before a bare number ("Category 5", `noun` from `asked_noun`) and, for a question that
    may want several things, to the whole list the span is part of ("James Peebles and the
    duo of Didier Queloz and Michel Mayor")."""
    sentence, start, end = read.candidate.sentence, read.start, read.end
    entities = sentence_entities(sentence)
    start = with_asked_noun(sentence.text, start, end, noun)
    if listed:
        start, end = list_span(sentence.text, entities, start, end)
    named = sum(start <= e.start and e.end <= end for e in entities)
    return bounded_span(sentence, start, end), named
