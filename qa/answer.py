"""Answering: find the sentence of the retrieved chunks that answers, cite it with the short
answer inside it, or abstain.

Two stages, the cheap one first:

- the fitted sentence ranker (qa/ranker.py) scores every sentence of the chunks, and its
  answerability model turns the best sentence's evidence into a first logit;
- the extractive reader (qa/reader.py, trained on SQuAD 1.1) reads the ranker's best few
  sentences: the one with the best reader score (plus a little of the ranker's) is cited, the
  reader's span in it is the short answer, and the confidence is a logistic function of the
  reader's score and the ranker's logit (ReaderCalibration, chosen by benchmarks/fit_reader.py
  on questions the reader never learnt from). Below `min_confidence` the answer is "the
  articles do not say", and the ranked sentences are still returned as closest matches.

Without a reader (answer.reader: false) the ranker's first sentence is cited and given whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from qa.dates import resolve_dates
from qa.embed import Vectors
from qa.lexical import LexicalIndex, content_words
from qa.ranker import (
    AnswerModel,
    Candidate,
    QuestionTerms,
    abstain_features,
    candidate_sentences,
    linear_score,
    logistic,
    rank_candidates,
)
from qa.reader import ReaderCalibration, Reading, SpanReader
from qa.store import StoredChunk
from qa.types import Answer, Citation, Entity, Sentence


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


def combine_reading(
    ranked: Sequence[Candidate],
    readings: Sequence[Reading],
    calibration: ReaderCalibration,
    base_logit: float,
) -> tuple[list[Candidate], float, tuple[int, int]]:
    """The ranked candidates with the first len(readings) re-ordered by the reader, the
    confidence that the new first one answers, and the reader's answer span in it (character
    offsets in its text). See ReaderCalibration for how the scores combine."""
    spans = [r.best_span() for r in readings]
    head = [
        (replace(c, score=span[0] + calibration.rank_weight * c.score), span)
        for c, span in zip(ranked, spans, strict=False)
    ]
    head.sort(key=lambda item: item[0].score, reverse=True)
    top_score, start, end = head[0][1]
    logit = (
        calibration.abstain_reader * top_score
        + calibration.abstain_base * base_logit
        + calibration.abstain_bias
    )
    reordered = [c for c, _ in head] + list(ranked[len(head) :])
    return reordered, logistic(logit), (start, end)


class SentenceAnswerer:
    """Cites the best-ranked sentences and the short answer inside the first; abstains when the
    answerability confidence is below `min_confidence`. `lexical` supplies idf weights (uniform
    without it); `missing_type_penalty` lowers the score of sentences without the entity type
    the question asks for (answer.missing_type_penalty); `reader`, if given, reads the best
    sentences (see the module docstring)."""

    def __init__(
        self,
        min_confidence: float,
        lexical: LexicalIndex | None = None,
        model: AnswerModel | None = None,
        missing_type_penalty: float = 0.0,
        reader: SpanReader | None = None,
    ) -> None:
        self.min_confidence = min_confidence
        self.reader = reader
        self.lexical = lexical
        self.model = model or AnswerModel.fitted()
        # A product prior on top of the fitted ranker: news readers asking "when" want the
        # sentence that holds a time more strictly than SQuAD's annotators did.
        self.sentence_weights = dict(self.model.sentence_weights)
        self.sentence_weights["type_missing"] = (
            self.sentence_weights.get("type_missing", 0.0) - missing_type_penalty
        )

    def warm_up(self) -> None:
        """Load the reader and the lexical index (in-memory BM25 builds on first use) now, not
        on the first question (a server calls this at start)."""
        if self.reader is not None:
            self.reader.warm_up()
        if self.lexical is not None:
            self.lexical.idf([])

    def rank(
        self,
        question: str,
        query_vector: Vectors,
        chunks: Sequence[tuple[StoredChunk, float]],
        context: str = "",
    ) -> tuple[QuestionTerms, list[Candidate]]:
        terms = QuestionTerms.of(question, self.lexical, context)
        candidates = candidate_sentences(terms, query_vector, chunks)
        return terms, rank_candidates(candidates, self.sentence_weights, self.model.sentence_bias)

    def abstain_logit(
        self, question: str, terms: QuestionTerms, ranked: Sequence[Candidate]
    ) -> float:
        """The fitted answerability model's logit that the top sentence answers the question."""
        features = abstain_features(question, terms, ranked)
        return linear_score(features, self.model.abstain_weights, self.model.abstain_bias)

    def answer(
        self,
        question: str,
        query_vector: Vectors,
        chunks: Sequence[tuple[StoredChunk, float]],
        top_k: int,
        context: str = "",
    ) -> Answer:
        terms, ranked = self.rank(question, query_vector, chunks, context)
        if not ranked:
            return Answer(question, False, None, 0.0, ())
        base_logit = self.abstain_logit(question, terms, ranked)
        if self.reader is None:
            confidence, span = logistic(base_logit), (0, len(ranked[0].sentence.text))
        else:
            calibration = self.reader.calibration
            head = [c.sentence.text for c in ranked[: calibration.depth]]
            readings = self.reader.read_ranked(question, head)
            ranked, confidence, span = combine_reading(ranked, readings, calibration, base_logit)
        top_confidence = round(confidence, 4)
        citations = tuple(
            Citation(
                rank,
                c.article,
                c.sentence,
                round(logistic(c.score), 4),
                resolve_dates(c.sentence, c.article.published),
            )
            for rank, c in enumerate(ranked[:top_k], start=1)
        )
        if top_confidence < self.min_confidence:
            return Answer(question, False, None, top_confidence, citations)
        short = bounded_span(ranked[0].sentence, *span)
        return Answer(question, True, short, top_confidence, citations)


class NearestSentenceAnswerer:
    """A naive baseline: the sentence nearest the question by one signal, never abstaining.

    `signal` is "cosine" (dense) or "bm25" (BM25 of the sentence, corpus idf from `lexical`).
    """

    def __init__(self, signal: str, lexical: LexicalIndex | None = None) -> None:
        if signal not in {"cosine", "bm25"}:
            raise ValueError(f"unknown signal {signal!r}: use 'cosine' or 'bm25'")
        self.signal = signal
        self.lexical = lexical

    def warm_up(self) -> None:
        if self.lexical is not None:
            self.lexical.idf([])

    def _bm25(self, terms: QuestionTerms, candidates: Sequence[Candidate]) -> list[float]:
        k1, b = 1.5, 0.75
        texts = [content_words(c.sentence.text) for c in candidates]
        average = sum(map(len, texts)) / max(1, len(texts)) or 1.0
        scores = []
        for words in texts:
            norm = k1 * (1 - b + b * len(words) / average)
            scores.append(
                sum(
                    terms.idf[w] * words.count(w) * (k1 + 1) / (words.count(w) + norm)
                    for w in terms.words
                    if w in words
                )
            )
        return scores

    def answer(
        self,
        question: str,
        query_vector: Vectors,
        chunks: Sequence[tuple[StoredChunk, float]],
        top_k: int,
        context: str = "",
    ) -> Answer:
        terms = QuestionTerms.of(question, self.lexical, context)
        candidates = candidate_sentences(terms, query_vector, chunks)
        if not candidates:
            return Answer(question, False, None, 0.0, ())
        if self.signal == "cosine":
            scores = [c.features["cosine"] for c in candidates]
        else:
            scores = self._bm25(terms, candidates)
        order = sorted(range(len(candidates)), key=lambda i: scores[i], reverse=True)[:top_k]
        citations = tuple(
            Citation(rank, candidates[i].article, candidates[i].sentence, round(scores[i], 4))
            for rank, i in enumerate(order, start=1)
        )
        return Answer(question, True, citations[0].sentence.text, 1.0, citations)
