"""Answering: score the sentences of the retrieved chunks, cite the best, extract a short answer,
or abstain.

A sentence's score mixes what cosine similarity alone misses: the question's content words
appearing in it, and whether it holds the kind of thing the question asks for (a "when" question
wants a time expression, "who" a person, "how many" a number). Confidence is that score squashed
to 0..1; below the configured threshold the answer is "the articles do not say", and the nearest
sentences are still returned as closest matches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.embed import Vectors
from qa.store import StoredChunk
from qa.types import Answer, Article, Citation, Entity, Sentence

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom whose why will with would you your yours yourself yourselves many much long said says say
    tell told according""".split()
)

# Question cue → the entity labels (spaCy's OntoNotes set) an answer to it is made of.
_ANSWER_TYPES: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile(r"\bhow (long|soon|often)\b", re.I), frozenset({"DATE", "TIME"})),
    (
        re.compile(
            r"\b(when|what (year|years|date|day|month|time|century|decade)|since when)\b", re.I
        ),
        frozenset({"DATE", "TIME"}),
    ),
    (
        re.compile(r"\bhow (many|much)\b|\bwhat (number|amount)\b", re.I),
        frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    ),
    (re.compile(r"\bwhat percent(age)?\b", re.I), frozenset({"PERCENT"})),
    (re.compile(r"\b(who|whom|whose)\b", re.I), frozenset({"PERSON", "ORG", "NORP"})),
    (re.compile(r"\bwhere\b", re.I), frozenset({"GPE", "LOC", "FAC"})),
)
# Words that belong with a time or quantity in a short answer ("within three years").
_ANSWER_PREPOSITIONS = frozenset(
    "in within by on since until till before after during over for around about nearly almost "
    "approximately some more than less".split()
)


def content_words(text: str) -> list[str]:
    """Lower-cased, lightly stemmed words that carry meaning (no stopwords)."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def stem(word: str) -> str:
    """A deliberately light suffix strip: enough to match withdraw/withdrawn/withdrawal."""
    for suffix in ("ations", "ation", "ings", "ing", "als", "al", "ies", "es", "ed", "n", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def expected_labels(question: str) -> frozenset[str]:
    """The entity labels a direct answer to this question would carry; empty if unknown."""
    for pattern, labels in _ANSWER_TYPES:
        if pattern.search(question):
            return labels
    return frozenset()


@dataclass(frozen=True)
class AnswerWeights:
    """How the sentence features combine. Confidence = logistic(score); see `confidence`."""

    sentence_similarity: float = 4.0
    chunk_similarity: float = 1.5
    keyword_overlap: float = 3.0
    answer_type_match: float = 1.5
    answer_type_missing: float = -1.0
    bias: float = -3.8


@dataclass(frozen=True)
class ScoredSentence:
    article: Article
    sentence: Sentence
    score: float


def keyword_overlap(question_words: set[str], sentence: Sentence) -> float:
    """The share of the question's content words that occur in the sentence (0..1)."""
    if not question_words:
        return 0.0
    return len(question_words & set(content_words(sentence.text))) / len(question_words)


def confidence(score: float) -> float:
    return 1.0 / (1.0 + math.exp(-score))


def score_sentences(
    question: str,
    query_vector: Vectors,
    chunks: Sequence[tuple[StoredChunk, float]],
    weights: AnswerWeights,
) -> list[ScoredSentence]:
    """Every distinct sentence of the candidate chunks, scored, best first."""
    question_words = set(content_words(question))
    wanted = expected_labels(question)
    best: dict[tuple[str, int], ScoredSentence] = {}
    query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    for stored, chunk_score in chunks:
        similarities = stored.sentence_vectors @ query
        for sentence, similarity in zip(stored.sentences, similarities, strict=True):
            score = (
                weights.bias
                + weights.sentence_similarity * float(similarity)
                + weights.chunk_similarity * chunk_score
                + weights.keyword_overlap * keyword_overlap(question_words, sentence)
            )
            if wanted:
                has_type = any(e.label in wanted for e in sentence.entities)
                score += weights.answer_type_match if has_type else weights.answer_type_missing
            key = (sentence.article_id, sentence.position)
            if key not in best or best[key].score < score:
                best[key] = ScoredSentence(stored.article, sentence, score)
    return sorted(best.values(), key=lambda s: s.score, reverse=True)


def _with_preposition(text: str, start: int) -> int:
    """Move `start` left over one preposition directly before it ("within" three years)."""
    match = re.search(r"([A-Za-z]+)\s+$", text[:start])
    if match and match.group(1).lower() in _ANSWER_PREPOSITIONS:
        return match.start(1)
    return start


def extract_short_answer(question: str, article: Article, sentence: Sentence) -> str | None:
    """The entity of the expected type nearest the question's words inside the sentence.

    Entities that merely repeat the question are passed over. Returns None when the question
    type is unknown or the sentence holds no entity of that type.
    """
    wanted = expected_labels(question)
    candidates: list[Entity] = [e for e in sentence.entities if e.label in wanted]
    if not candidates:
        return None
    question_words = set(content_words(question))
    anchors = [
        sentence.start + m.start()
        for m in _WORD.finditer(sentence.text)
        if stem(m.group().lower()) in question_words
    ]

    def distance(entity: Entity) -> tuple[int, int]:
        entity_words = set(content_words(article.text[entity.start : entity.end]))
        repeats_question = bool(entity_words) and entity_words <= question_words
        nearest = min((min(abs(a - entity.start), abs(a - entity.end)) for a in anchors), default=0)
        return (1 if repeats_question else 0, nearest)

    entity = min(candidates, key=distance)
    start = (
        _with_preposition(article.text, entity.start)
        if entity.label in {"DATE", "TIME"}
        else entity.start
    )
    return article.text[start : entity.end]


class SentenceAnswerer:
    """Cites the best-scoring sentences; abstains below `min_confidence`."""

    def __init__(self, min_confidence: float, weights: AnswerWeights | None = None) -> None:
        self.min_confidence = min_confidence
        self.weights = weights or AnswerWeights()

    def answer(
        self,
        question: str,
        query_vector: Vectors,
        chunks: Sequence[tuple[StoredChunk, float]],
        top_k: int,
    ) -> Answer:
        scored = score_sentences(question, query_vector, chunks, self.weights)[:top_k]
        citations = tuple(
            Citation(rank, s.article, s.sentence, round(confidence(s.score), 4))
            for rank, s in enumerate(scored, start=1)
        )
        if not scored:
            return Answer(question, False, None, 0.0, ())
        top = scored[0]
        top_confidence = confidence(top.score)
        if top_confidence < self.min_confidence:
            return Answer(question, False, None, round(top_confidence, 4), citations)
        short = extract_short_answer(question, top.article, top.sentence)
        return Answer(
            question, True, short or top.sentence.text, round(top_confidence, 4), citations
        )
