"""Answering: find the sentence of the retrieved chunks that answers, cite it with the short
answer inside it, or abstain and say why.

The cheap checks first:

- a term of the question that no article holds (qa.answering.grounding) means the articles cannot
  answer: the answer abstains (`not_in_archive`, naming the term) without reading;
- the fitted sentence ranker (qa/answering/ranker.py) scores every sentence of the chunks, and its
  answerability model turns the best sentence's evidence into a first logit;
- the extractive reader (qa/models/reader.py, trained on SQuAD 1.1) reads the ranker's best few
  sentences; in each, its best span, or a span of the kind the question asks for when that is
  nearly as good (qa.answering.answer_kind: a time for "what time", a number for "how many"). The
  read sentence with the best span score plus a little of the ranker's, less a penalty when its span
  is not of the kind asked for, is cited, and its span is the short answer;
- one calibrated decision (ReaderCalibration.abstention, fitted by
  training/fit_abstention.py on questions the reader never learnt from) weighs the reader's
  logit with how well the cited article holds what the question names and whether the span is
  of the kind asked for. Below its threshold (or answer.min_confidence) the answer is "the
  articles do not say", with the reason that weighed most, and the ranked sentences are still
  returned as closest matches;
- the sentences the decision would answer from, with the best sentence of two more dated
  articles, are placed in time (qa.answering.developing): when dated articles answer differently,
  the newest one's answer, with a timeline of each one's own.

Without a reader (answer.reader: false) the ranker's first sentence is cited and given whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from qa.answering.answer_kind import asked_noun, asks_for_a_list, question_kind
from qa.answering.dates import resolve_dates
from qa.answering.decision import abstain_reason, decision_logit, ruled_out
from qa.answering.developing import Found, as_of, in_time
from qa.answering.grounding import cited_article_evidence, missing_terms, question_names
from qa.answering.ranker import (
    AnswerModel,
    Candidate,
    QuestionTerms,
    abstain_features,
    candidate_sentences,
    linear_score,
    logistic,
    rank_candidates,
)
from qa.answering.spans import ReadSentence, choose_span, short_answer
from qa.models.embedder import Vectors
from qa.models.reader import SpanReader
from qa.store.lexical import LexicalIndex, bm25_saturation
from qa.store.rows import StoredChunk
from qa.types import Answer, Citation, TimelineEntry
from qa.words import content_words

# Articles besides those of the sentences read whose best sentence is read too, when the answer
# comes from a dated article: they may hold a newer answer (qa.answering.developing).
OTHER_ARTICLES = 2
# How much lower (reader logits) a sentence naming more of a list may score and still answer.
LIST_SCORE_MARGIN = 1.0


class SentenceAnswerer:
    """Cites the best-ranked sentences and the short answer inside the first; abstains when a
    term of the question is in no article, or when the answer decision's confidence is below
    `min_confidence` (None: the reader calibration's threshold). `lexical` supplies idf weights
    (uniform without it) and the archive's vocabulary; `missing_type_penalty` lowers the score
    of sentences without the entity type the question asks for (answer.missing_type_penalty);
    `reader`, if given, reads the best sentences (see the module docstring)."""

    def __init__(
        self,
        min_confidence: float | None,
        lexical: LexicalIndex | None = None,
        model: AnswerModel | None = None,
        missing_type_penalty: float = 0.0,
        reader: SpanReader | None = None,
    ) -> None:
        self._min_confidence = min_confidence
        self.reader = reader
        self.lexical = lexical
        self.model = model or AnswerModel.fitted()
        # A product prior on top of the fitted ranker: news readers asking "when" want the
        # sentence that holds a time more strictly than SQuAD's annotators did.
        self.sentence_weights = dict(self.model.sentence_weights)
        self.sentence_weights["type_missing"] = (
            self.sentence_weights.get("type_missing", 0.0) - missing_type_penalty
        )

    @property
    def min_confidence(self) -> float:
        """The threshold in use: the setting, else the one fitted with what decides."""
        if self._min_confidence is not None:
            return self._min_confidence
        if self.reader is not None and self.reader.calibration.abstention is not None:
            return self.reader.calibration.abstention.threshold
        return self.model.min_confidence

    def warm_up(self) -> None:
        """Load the reader and the lexical index (in-memory BM25 builds on first use) now, not
        on the first question (a server calls this at start)."""
        if self.reader is not None:
            self.reader.warm_up()
        if self.lexical is not None:
            self.lexical.idf([])
            self.lexical.known_prefixes(["a"])

    def rank(
        self,
        question: str,
        query_vector: Vectors,
        chunks: Sequence[tuple[StoredChunk, float]],
        context: str = "",
    ) -> tuple[QuestionTerms, list[Candidate]]:
        terms = QuestionTerms.of(question, self.lexical, context)
        names = question_names(question, (chunk.chunk.text for chunk, _ in chunks))
        terms = replace(terms, names=names)
        candidates = candidate_sentences(terms, query_vector, chunks)
        return terms, rank_candidates(candidates, self.sentence_weights, self.model.sentence_bias)

    def abstain_logit(
        self, question: str, terms: QuestionTerms, ranked: Sequence[Candidate]
    ) -> float:
        """The fitted answerability model's logit that the top sentence answers the question."""
        features = abstain_features(question, terms, ranked)
        return linear_score(features, self.model.abstain_weights, self.model.abstain_bias)

    def read(
        self,
        question: str,
        ranked: Sequence[Candidate],
        context: str = "",
        also: Sequence[Candidate] = (),
    ) -> tuple[list[ReadSentence], list[ReadSentence]]:
        """The reader's view of the ranker's best sentences, best first: the first
        `first_depth`, and the rest of `depth` unless one of those scores `stop_score` with a
        span of the kind asked for (ReaderCalibration); and apart, its view of `also`, read in
        the same first run. A follow-up is read with the earlier turns' `context` after it, as
        it is retrieved: "why are they leaving?" names its subject only by "they"; the kind of
        answer stays the question's own."""
        assert self.reader is not None
        calibration = self.reader.calibration
        kind = question_kind(question)
        question = f"{question} {context}".strip()
        head = list(ranked[: calibration.depth])
        first = calibration.first_depth if 0 < calibration.first_depth < len(head) else len(head)
        margin = calibration.fitting_span_margin
        batch = head[:first] + list(also)
        readings = self.reader.read(question, [c.sentence.text for c in batch])
        seen = [choose_span(kind, c, r, margin) for c, r in zip(batch, readings, strict=True)]
        read, read_also = seen[:first], seen[first:]
        if first < len(head) and not any(
            r.fits and r.span_score >= calibration.stop_score for r in read
        ):
            more = self.reader.read(question, [c.sentence.text for c in head[first:]])
            read += [
                choose_span(kind, c, r, margin) for c, r in zip(head[first:], more, strict=True)
            ]

        def combined(r: ReadSentence) -> float:
            penalty = 0.0 if r.fits else calibration.type_penalty
            return r.span_score + calibration.rank_weight * r.candidate.score - penalty

        return sorted(read, key=combined, reverse=True), read_also

    def answer(
        self,
        question: str,
        query_vector: Vectors,
        chunks: Sequence[tuple[StoredChunk, float]],
        top_k: int,
        context: str = "",
        latest: dt.date | None = None,
    ) -> Answer:
        missing = tuple(missing_terms(question, self.lexical)) if self.lexical else ()
        terms, ranked = self.rank(question, query_vector, chunks, context)
        if missing or not ranked:
            # Nothing to read: no sentence can answer about what no article holds.
            reason = "not_in_archive" if missing else "low_confidence"
            return Answer(question, False, None, 0.0, citations(ranked, top_k), {}, reason, missing)
        base_logit = self.abstain_logit(question, terms, ranked)
        if self.reader is None:
            confidence = logistic(base_logit)
            cited = citations(ranked, top_k)
            if confidence < self.min_confidence:
                return Answer(
                    question, False, None, round(confidence, 4), cited, {}, "low_confidence"
                )
            return Answer(question, True, ranked[0].sentence.text, round(confidence, 4), cited)
        others = other_articles(ranked, self.reader.calibration.depth)
        read, read_others = self.read(question, ranked, context, others)
        model = self.reader.calibration.abstention
        confidence, features = self.judge(question, terms, read[0], base_logit)
        rest = list(ranked[len(read) :])
        if confidence < self.min_confidence:
            cited = citations([r.candidate for r in read] + rest, top_k)
            reason = abstain_reason(features, model)
            return Answer(question, False, None, round(confidence, 4), cited, {}, reason)
        if read[0].candidate.article.published is not None:
            read += read_others
        judged = [(confidence, features)] + [
            self.judge(question, terms, r, base_logit) for r in read[1:]
        ]
        listed = asks_for_a_list(question)
        noun = asked_noun(question)
        found, named = [], []
        for r, (c, _) in zip(read, judged, strict=True):
            if c >= self.min_confidence:
                short, count = short_answer(r, listed, noun)
                article, sentence = r.candidate.article, r.candidate.sentence
                found.append((r, c, Found(article, sentence, short, r.candidate.score, c)))
                named.append(count)
        # A longer list counts only from a sentence the reader liked nearly as well as the best
        # one that is an answer of the kind asked for.
        answering = [r.span_score for r, _, _ in found if r.fits and not r.announces]
        near = max(answering, default=0.0) - LIST_SCORE_MARGIN
        names = [
            count if listed and r.span_score >= near else 0
            for (r, _, _), count in zip(found, named, strict=True)
        ]
        # Within the best sentence's article, a span that is not who announced what a person
        # asked for did ("who won": the winners, not the academy that announced them), then one
        # of the kind asked for, and for a list the one naming most, is the answer.
        best_article = found[0][0].candidate.article.id

        def preference(i: int) -> tuple[bool, bool, bool, int, int]:
            read_sentence = found[i][0]
            same = read_sentence.candidate.article.id == best_article
            return (not same, read_sentence.announces, not read_sentence.fits, -names[i], i)

        found = [found[i] for i in sorted(range(len(found)), key=preference)]
        story = in_time([f for _, _, f in found], latest)
        chosen, chosen_confidence, answer = found[story.chosen]
        first = [chosen.candidate, *(found[i][0].candidate for i in story.agreeing)]
        order = first + [r.candidate for r in read if r.candidate not in first] + rest
        timeline = tuple(
            TimelineEntry(found[i][2].article, found[i][2].sentence, found[i][2].answer)
            for i in story.timeline
        )
        cited = citations(order, max(top_k, len(first)))
        return Answer(
            question,
            True,
            answer.answer,
            round(chosen_confidence, 4),
            cited,
            as_of=as_of(cited[0].article.published, cited[0].resolved_dates) if timeline else None,
            timeline=timeline,
        )

    def judge(
        self, question: str, terms: QuestionTerms, read: ReadSentence, base_logit: float
    ) -> tuple[float, dict[str, float]]:
        """The decision's confidence that `read` answers the question, and the evidence it
        weighed (DECISION_FEATURES)."""
        assert self.reader is not None
        calibration = self.reader.calibration
        features = {
            "reader": calibration.reader_logit(read.span_score, base_logit),
            **cited_article_evidence(question, terms, read.candidate),
            "type_unfit": float(not read.fits),
        }
        if ruled_out(features):
            return 0.0, features
        model = calibration.abstention
        logit = features["reader"] if model is None else decision_logit(features, model)
        return logistic(logit), features


def other_articles(ranked: Sequence[Candidate], depth: int) -> list[Candidate]:
    """The best-ranked sentence of each of the next OTHER_ARTICLES dated articles below the
    first `depth` sentences' articles: a story told over months has its newer figures in
    other articles than the one the ranker likes best."""
    seen = {c.article.id for c in ranked[:depth]}
    others: list[Candidate] = []
    for candidate in ranked[depth:]:
        if len(others) == OTHER_ARTICLES:
            break
        if candidate.article.id not in seen and candidate.article.published is not None:
            seen.add(candidate.article.id)
            others.append(candidate)
    return others


def citations(ranked: Sequence[Candidate], top_k: int) -> tuple[Citation, ...]:
    """The first `top_k` candidates as citations, their times pinned to the calendar."""
    return tuple(
        Citation(
            rank,
            c.article,
            c.sentence,
            round(logistic(c.score), 4),
            resolve_dates(c.sentence, c.article.published),
        )
        for rank, c in enumerate(ranked[:top_k], start=1)
    )


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
        texts = [content_words(c.sentence.text) for c in candidates]
        lengths = np.array([len(words) for words in texts], dtype=np.float64)
        average = float(lengths.mean()) if texts else 0.0
        scores = np.zeros(len(texts))
        for w in terms.words:
            counts = np.array([words.count(w) for words in texts], dtype=np.float64)
            scores += terms.idf[w] * bm25_saturation(counts, lengths, average or 1.0)
        return [float(s) for s in scores]

    def answer(
        self,
        question: str,
        query_vector: Vectors,
        chunks: Sequence[tuple[StoredChunk, float]],
        top_k: int,
        context: str = "",
        latest: dt.date | None = None,
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
