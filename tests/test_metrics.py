"""SQuAD metrics against cases checked by hand (and against the official script's behaviour)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.evaluation.metrics import (
    best_exact_match,
    best_f1,
    contains_answer,
    exact_match,
    normalize_answer,
    percentile,
    precision_recall,
    recall_at,
    token_f1,
)
from qa.evaluation.squad import load_squad


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("The Norman Conquest!", "norman conquest"),
        ("  an   apple, a pear  ", "apple pear"),
        ("Theory of the state", "theory of state"),  # "the" inside "Theory" stays
        ("U.S. $3.5 billion", "us 35 billion"),
        ("", ""),
    ],
)
def test_normalize_answer(raw: str, normalized: str) -> None:
    assert normalize_answer(raw) == normalized


def test_exact_match_ignores_case_punctuation_and_articles() -> None:
    assert exact_match("the France.", "France") == 1.0
    assert exact_match("France and Italy", "France") == 0.0


def test_token_f1_hand_checked() -> None:
    # prediction "in the 10th century" → [in, 10th, century]; gold "10th and 11th centuries"
    # → [10th, and, 11th, centuries]; common {10th}: P = 1/3, R = 1/4, F1 = 2/7.
    assert token_f1("in the 10th century", "10th and 11th centuries") == pytest.approx(2 / 7)
    assert token_f1("within three years", "three years") == pytest.approx(0.8)
    assert token_f1("Paris", "London") == 0.0
    assert token_f1("x y x", "x x") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))


def test_max_over_gold_answers_and_unanswerable() -> None:
    golds = ["Denmark, Iceland and Norway", "Denmark", "Norway"]
    assert best_exact_match("Norway", golds) == 1.0
    # P = 3/3, R = 3/4 against the first gold: F1 = 6/7.
    assert best_f1("Iceland and Norway", golds) == pytest.approx(6 / 7)
    # SQuAD 2.0: no gold answers → only the empty prediction (abstaining) scores.
    assert best_f1("", []) == 1.0
    assert best_exact_match("", []) == 1.0
    assert best_f1("Norway", []) == 0.0
    assert best_f1("", ["Norway"]) == 0.0


def test_contains_answer_on_word_boundaries() -> None:
    sentence = "The Normans were in France by the 10th century."
    assert contains_answer(sentence, ["10th century"])
    assert contains_answer(sentence, ["the Normans"])
    assert not contains_answer(sentence, ["0th century"])
    assert not contains_answer(sentence, [])


def test_recall_at_counts_distinct_ids() -> None:
    ranked = ["a", "a", "b", "c", "c", "d", "e", "f"]
    assert recall_at(ranked, "e", 5) == 1.0
    assert recall_at(ranked, "f", 5) == 0.0


def test_precision_recall_and_percentile() -> None:
    precision, recall = precision_recall([True, True, False, False], [True, False, True, False])
    assert (precision, recall) == (0.5, 0.5)
    assert precision_recall([False], [True]) == (0.0, 0.0)
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert percentile([10.0, 20.0], 0.95) == pytest.approx(19.5)
    assert percentile([], 0.5) == 0.0


def test_load_squad(tmp_path: Path) -> None:
    data = {
        "data": [
            {
                "title": "Iraq_war",
                "paragraphs": [
                    {
                        "context": "Troops will leave within three years.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "When will troops leave?",
                                "answers": [{"text": "within three years", "answer_start": 18}],
                                "is_impossible": False,
                            },
                            {
                                "id": "q2",
                                "question": "When will ships leave?",
                                "answers": [],
                                "plausible_answers": [{"text": "x", "answer_start": 0}],
                                "is_impossible": True,
                            },
                        ],
                    }
                ],
            }
        ]
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    dataset = load_squad(path)
    assert [(a.id, a.title) for a in dataset.articles] == [("Iraq_war#0", "Iraq war")]
    first, second = dataset.questions
    assert first.answers == ("within three years",) and first.article_id == "Iraq_war#0"
    assert second.is_impossible and second.answers == ()
    assert dataset.limited(1).questions == [first]
