"""Answering: find the sentence of the retrieved chunks that answers, cite it with the short
answer inside it, or abstain.

Two stages, the cheap one first:

- a fitted sentence ranker (logistic, fitted on SQuAD 2.0 dev-a's training split by
  benchmarks/fit_answer_model.py; coefficients in qa/answer_model.py) scores every sentence of
  the chunks from what cosine similarity alone misses: the question's words weighted by rarity
  (BM25's idf), their pairs, the same in the neighbouring sentences and the headline, whether
  the sentence holds the kind of thing the question asks for (a "when" question wants a time,
  "who" a person, "how many" a number), and the chunk's fused retrieval rank; its answerability
  model turns the best sentence's evidence into a first logit;
- the extractive reader (qa/reader.py, trained on SQuAD 1.1) reads the ranker's best few
  sentences: the one with the best reader score (plus a little of the ranker's) is cited, the
  reader's span in it is the short answer, and the confidence is a logistic function of the
  reader's score and the ranker's logit (ReaderCalibration, chosen by benchmarks/fit_reader.py
  on questions the reader never learnt from). Below `min_confidence` the answer is "the
  articles do not say", and the ranked sentences are still returned as closest matches.

Without a reader (answer.reader: false) the ranker's first sentence is cited and given whole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa import answer_model
from qa.dates import resolve_dates
from qa.embed import Vectors
from qa.lexical import LexicalIndex, content_words, word_spans
from qa.reader import ReaderCalibration, Reading, SpanReader
from qa.store import StoredChunk
from qa.types import Answer, Article, Citation, Entity, Sentence

# Question cue → the entity labels (spaCy's OntoNotes set) an answer to it is made of.
_ANSWER_TYPES: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile(r"\bhow (long|soon|often)\b", re.I), frozenset({"DATE", "TIME"})),
    (
        re.compile(
            r"\b(when|what (year|years|date|day|month|time|century|decade|period|era)|"
            r"which (year|century|decade)|since when)\b",
            re.I,
        ),
        frozenset({"DATE", "TIME"}),
    ),
    (re.compile(r"\bwhat percent(age)?\b|\bhow much of\b", re.I), frozenset({"PERCENT"})),
    (
        re.compile(
            r"\bhow (many|much|large|big|far|tall|high|old)\b|\bwhat (number|amount)\b", re.I
        ),
        frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    ),
    (re.compile(r"\b(who|whom|whose)\b", re.I), frozenset({"PERSON", "ORG", "NORP"})),
    (
        re.compile(r"\bwhere\b|\b(what|which) (country|city|state|region|place|continent)\b", re.I),
        frozenset({"GPE", "LOC", "FAC"}),
    ),
)

SENTENCE_FEATURES = (
    "cosine",
    "cosine_margin",
    "chunk_score",
    "chunk_reciprocal_rank",
    "idf_overlap",
    "idf_overlap_margin",
    "overlap",
    "bigram_overlap",
    "context_idf_overlap",
    "title_idf_overlap",
    "type_match",
    "type_missing",
    "type_near_question",
    *(
        f"{group}_{outcome}"
        for group in ("time", "number", "person", "place")
        for outcome in ("match", "missing")
    ),
    "log_length",
)
# Answer-type groups with their own weights: a "when" question's need for a time is sharper
# than a "who" question's for a name.
_TYPE_GROUPS = {
    "DATE": "time",
    "CARDINAL": "number",
    "PERCENT": "number",
    "PERSON": "person",
    "GPE": "place",
}
ABSTAIN_FEATURES = (
    "top_score",
    "score_margin",
    "top_cosine",
    "top_idf_overlap",
    "context_missing_idf",
    "article_missing_idf",
    "article_max_missing_idf",
    "names_missing",
    "negation_mismatch",
    "type_missing",
    "type_near_question",
    "has_type",
    "sentence_missing_words",
)


# How much a word carried over from an earlier turn counts against one of this question's.
CONTEXT_WEIGHT = 0.5


def expected_labels(question: str) -> frozenset[str]:
    """The entity labels a direct answer to this question would carry; empty if unknown."""
    for pattern, labels in _ANSWER_TYPES:
        if pattern.search(question):
            return labels
    return frozenset()


def logistic(score: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, score))))


@dataclass(frozen=True)
class QuestionTerms:
    """What sentence scoring needs from the question, computed once per question."""

    words: tuple[str, ...]
    idf: Mapping[str, float]
    bigrams: frozenset[tuple[str, str]]
    wanted: frozenset[str]

    @classmethod
    def of(cls, question: str, lexical: LexicalIndex | None, context: str = "") -> QuestionTerms:
        """`context`: earlier turns of a conversation; their words count, at CONTEXT_WEIGHT of
        their idf, toward matching ("what did the spokesman say about it?" after a question
        about coalition forces), while the answer type stays this question's."""
        ordered = content_words(question)
        words = tuple(dict.fromkeys(ordered))
        carried = tuple(w for w in dict.fromkeys(content_words(context)) if w not in words)
        every = words + carried
        idf = dict(lexical.idf(every)) if lexical is not None else dict.fromkeys(every, 1.0)
        for word in carried:
            idf[word] *= CONTEXT_WEIGHT
        bigrams = frozenset(zip(ordered, ordered[1:], strict=False))
        return cls(every, idf, bigrams, expected_labels(question))

    def idf_share(self, words: set[str]) -> float:
        """The idf-weighted share of the question's words found in `words` (0..1)."""
        total = sum(self.idf.values())
        return sum(self.idf[w] for w in self.words if w in words) / total if total else 0.0


@dataclass(frozen=True)
class Candidate:
    """A sentence of the candidate chunks with its features (named by SENTENCE_FEATURES)."""

    article: Article
    sentence: Sentence
    features: dict[str, float]
    score: float = 0.0


def _answer_type_entities(
    terms: QuestionTerms, article: Article, sentence: Sentence
) -> list[Entity]:
    """The sentence's entities of the wanted type that are not the question's own words."""
    found = []
    for entity in sentence.entities:
        if entity.label in terms.wanted:
            words = set(content_words(article.text[entity.start : entity.end]))
            if not words or not words <= set(terms.words):
                found.append(entity)
    return found


def _near_question_words(
    terms: QuestionTerms, sentence: Sentence, entities: Sequence[Entity], reach: int = 40
) -> bool:
    """Whether one of `entities` lies within `reach` characters of a question word: answers sit
    beside the words the question repeats ("withdraw from Iraq within three years")."""
    question_words = set(terms.words)
    anchors = [
        sentence.start + start
        for start, _, word in word_spans(sentence.text)
        if word in question_words
    ]
    return any(min(abs(a - e.start), abs(a - e.end)) <= reach for e in entities for a in anchors)


def _type_group_features(terms: QuestionTerms, has_type: bool) -> dict[str, float]:
    groups = {_TYPE_GROUPS[label] for label in terms.wanted if label in _TYPE_GROUPS}
    outcome = "match" if has_type else "missing"
    return {f"{group}_{outcome}": 1.0 for group in groups}


def candidate_sentences(
    terms: QuestionTerms, query_vector: Vectors, chunks: Sequence[tuple[StoredChunk, float]]
) -> list[Candidate]:
    """Every distinct sentence of the chunks (in retrieval order) with its features."""
    query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    top_chunk_score = max((score for _, score in chunks), default=0.0) or 1.0
    seen: dict[tuple[str, int], Candidate] = {}
    for rank, (stored, chunk_score) in enumerate(chunks):
        similarities = stored.sentence_vectors @ query
        words = [set(content_words(s.text)) for s in stored.sentences]
        title_share = terms.idf_share(set(content_words(stored.article.title)))
        for i, (sentence, similarity) in enumerate(
            zip(stored.sentences, similarities, strict=True)
        ):
            key = (sentence.article_id, sentence.position)
            if key in seen:
                continue
            context = words[i].union(*words[max(0, i - 1) : i + 2])
            ordered = content_words(sentence.text)
            pairs = set(zip(ordered, ordered[1:], strict=False))
            wanted = bool(terms.wanted)
            typed = _answer_type_entities(terms, stored.article, sentence) if wanted else []
            has_type = bool(typed)
            features = {
                "cosine": float(similarity),
                "chunk_score": chunk_score / top_chunk_score,
                "chunk_reciprocal_rank": 1.0 / (1 + rank),
                "idf_overlap": terms.idf_share(words[i]),
                "overlap": len(words[i] & set(terms.words)) / max(1, len(terms.words)),
                "bigram_overlap": len(pairs & terms.bigrams) / max(1, len(terms.bigrams)),
                "context_idf_overlap": terms.idf_share(context),
                "title_idf_overlap": title_share,
                "type_match": float(has_type),
                "type_missing": float(wanted and not has_type),
                "type_near_question": float(_near_question_words(terms, sentence, typed)),
                **_type_group_features(terms, has_type),
                "log_length": math.log1p(len(ordered)) / 4,
            }
            seen[key] = Candidate(stored.article, sentence, features)
    candidates = list(seen.values())
    best_cosine = max((c.features["cosine"] for c in candidates), default=0.0)
    best_overlap = max((c.features["idf_overlap"] for c in candidates), default=0.0)
    for candidate in candidates:
        candidate.features["cosine_margin"] = candidate.features["cosine"] - best_cosine
        candidate.features["idf_overlap_margin"] = candidate.features["idf_overlap"] - best_overlap
    return candidates


def linear_score(features: Mapping[str, float], weights: Mapping[str, float], bias: float) -> float:
    return bias + sum(weight * features.get(name, 0.0) for name, weight in weights.items())


def rank_candidates(
    candidates: Sequence[Candidate], weights: Mapping[str, float], bias: float
) -> list[Candidate]:
    scored = [
        Candidate(c.article, c.sentence, c.features, linear_score(c.features, weights, bias))
        for c in candidates
    ]
    return sorted(scored, key=lambda c: c.score, reverse=True)


_NEGATION = re.compile(r"\b(not|never|no|none|nothing|n't|cannot|neither|nor|without)\b", re.I)
_NAME_OR_NUMBER = re.compile(r"(?<!^)(?<![.?!] )\b([A-Z][A-Za-z'\-]+|\d[\d,.]*)")


def abstain_features(
    question: str, terms: QuestionTerms, ranked: Sequence[Candidate]
) -> dict[str, float]:
    """Question-level evidence that the top sentence answers it (names: ABSTAIN_FEATURES).

    Unanswerable questions are often an answerable one with a detail changed: a name, a
    number or a negation the article does not have, which is what the last features look for.
    """
    top = ranked[0]
    second_score = ranked[1].score if len(ranked) > 1 else top.score - 5.0
    article_words = set(content_words(top.article.title)) | set(content_words(top.article.text))
    missing = [terms.idf[w] for w in terms.words if w not in article_words]
    highest_idf = max(terms.idf.values(), default=1.0) or 1.0
    article_text = f"{top.article.title} {top.article.text}".lower()
    names = [m.group(1) for m in _NAME_OR_NUMBER.finditer(question)]
    names_missing = [n for n in names if n.lower().rstrip(".,") not in article_text]
    negated = bool(_NEGATION.search(question)) != bool(_NEGATION.search(top.sentence.text))
    sentence_words = set(content_words(top.sentence.text))
    own_words = dict.fromkeys(content_words(question))
    return {
        "top_score": top.score,
        "score_margin": top.score - second_score,
        "top_cosine": top.features["cosine"],
        "top_idf_overlap": top.features["idf_overlap"],
        "context_missing_idf": 1.0 - top.features["context_idf_overlap"],
        "article_missing_idf": 1.0 - terms.idf_share(article_words),
        "article_max_missing_idf": max(missing, default=0.0) / highest_idf,
        "names_missing": float(len(names_missing)),
        "negation_mismatch": float(negated),
        "type_missing": top.features["type_missing"],
        "type_near_question": top.features["type_near_question"],
        "has_type": float(bool(terms.wanted)),
        "sentence_missing_words": float(sum(w not in sentence_words for w in own_words)),
    }


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


@dataclass(frozen=True)
class AnswerModel:
    """Coefficients of the two logistic models (defaults: the fitted ones)."""

    sentence_weights: Mapping[str, float]
    sentence_bias: float
    abstain_weights: Mapping[str, float]
    abstain_bias: float

    @classmethod
    def fitted(cls) -> AnswerModel:
        return cls(
            answer_model.SENTENCE_WEIGHTS,
            answer_model.SENTENCE_BIAS,
            answer_model.ABSTAIN_WEIGHTS,
            answer_model.ABSTAIN_BIAS,
        )


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
