"""The sentence ranker: scores every sentence of the retrieved chunks before the reader reads
the best few (qa/answering/answerer.py), and the answerability model's evidence.

A logistic model, fitted listwise on SQuAD 2.0 dev-a's training split by
training/fit_answer_model.py (coefficients in qa/models/ranker.json), over what cosine similarity
alone misses: the question's words weighted by rarity (BM25's idf), their pairs, the same
in the neighbouring sentences and the headline, whether the sentence holds the kind of thing the
question asks for (a "when" question wants a time, "who" a person, "how many" a number), and the
chunk's fused retrieval rank. The answerability model turns the best sentence's evidence into a
first logit: unanswerable questions are often an answerable one with a detail changed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.models.embedder import Vectors
from qa.store.lexical import LexicalIndex
from qa.store.rows import StoredChunk
from qa.types import Article, Entity, Sentence
from qa.words import content_words, word_spans

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

# The shipped coefficients of both models (training/fit_answer_model.py writes them).
FITTED = Path(__file__).resolve().parents[1] / "models" / "ranker.json"

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
    # The question's words the retrieved passages write as names (qa.answering.grounding).
    names: frozenset[str] = frozenset()

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


@dataclass(frozen=True)
class AnswerModel:
    """Coefficients of the two logistic models, and the confidence below which the ranker alone
    (answer.reader: false) abstains."""

    sentence_weights: Mapping[str, float]
    sentence_bias: float
    abstain_weights: Mapping[str, float]
    abstain_bias: float
    min_confidence: float

    @classmethod
    def fitted(cls, path: Path = FITTED) -> AnswerModel:
        """The shipped coefficients, written by training/fit_answer_model.py."""
        return cls(**json.loads(path.read_text(encoding="utf-8")))
