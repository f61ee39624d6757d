"""Evaluation metrics: the official SQuAD 2.0 answer scores, citation and retrieval hits,
abstention precision/recall and latency percentiles.

`normalize_answer`, `exact_match` and `token_f1` follow the official SQuAD v2.0 evaluation
script: lower-case, drop punctuation, drop the articles a/an/the, collapse whitespace; an empty
gold list (unanswerable) matches only an empty prediction (abstention).
"""

from __future__ import annotations

import collections
import math
import re
import string
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalization: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall after normalization (1.0 if both empty)."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = collections.Counter(predicted) & collections.Counter(expected)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_exact_match(prediction: str, golds: Sequence[str]) -> float:
    """Max over gold answers; an unanswerable question (no golds) wants the empty answer."""
    return max((exact_match(prediction, g) for g in golds), default=exact_match(prediction, ""))


def best_f1(prediction: str, golds: Sequence[str]) -> float:
    """Max over gold answers; an unanswerable question (no golds) wants the empty answer."""
    return max((token_f1(prediction, g) for g in golds), default=token_f1(prediction, ""))


def contains_answer(sentence: str, golds: Sequence[str]) -> bool:
    """Whether a normalized gold answer occurs in the normalized sentence, on word boundaries."""
    padded = f" {normalize_answer(sentence)} "
    return any(
        normalize_answer(g) and f" {normalize_answer(g)} " in padded for g in golds if g.strip()
    )


def recall_at(ranked_ids: Sequence[str], gold_id: str, k: int) -> float:
    """1.0 when `gold_id` is among the first `k` distinct ids of the ranking."""
    distinct = list(dict.fromkeys(ranked_ids))[:k]
    return float(gold_id in distinct)


def precision_recall(predicted: Sequence[bool], actual: Sequence[bool]) -> tuple[float, float]:
    """Precision and recall of the positive class (0.0 when undefined)."""
    true_positive = sum(p and a for p, a in zip(predicted, actual, strict=True))
    predicted_count, actual_count = sum(predicted), sum(actual)
    precision = true_positive / predicted_count if predicted_count else 0.0
    recall = true_positive / actual_count if actual_count else 0.0
    return precision, recall


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile (numpy's default), `fraction` in 0..1; 0.0 if empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
