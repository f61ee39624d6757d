"""`qa eval`: metrics from outcomes checked by hand, and a small SQuAD file end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO
from qa.answering.pipeline import Asked
from qa.cli import cli
from qa.config import Settings, load_settings
from qa.evaluation.evaluate import Outcome, format_table, outcome_record, score
from qa.evaluation.squad import SquadQuestion
from qa.models.embedder import Embedder
from qa.models.reader import SpanReader
from qa.types import Answer, Article, Citation, Sentence

METRIC_KEYS = {
    "questions",
    "answerable",
    "unanswerable",
    "citation_accuracy_at_1",
    "passage_recall_at_5",
    "answer_exact_match",
    "answer_f1",
    "abstain_precision",
    "abstain_recall",
    "squad2_f1",
    "latency_ms_p50",
    "latency_ms_p95",
    "index_seconds",
}


def outcome(
    golds: tuple[str, ...], answer: str | None, cited: str, article: str, latency: float
) -> Outcome:
    question = SquadQuestion("q", "?", golds, "gold", is_impossible=not golds)
    source = Article(article, "t", cited)
    citation = Citation(1, source, Sentence(article, 0, 0, len(cited), cited), 0.9)
    reply = Answer("?", answer is not None, answer, 0.9, (citation,))
    return Outcome(question, Asked(reply, []), latency)


def test_score_hand_checked() -> None:
    outcomes = [
        # answerable, right sentence, exact answer
        outcome(("1973",), "1973", "It began in 1973.", "gold", 10.0),
        # answerable, wrong paragraph and sentence, partly right answer: F1("in 1974", "1974
        # crisis") = 2 * 1/2 * 1/2 / 1 = 0.5
        outcome(("1974 crisis",), "in 1974", "Nothing here.", "other", 20.0),
        # unanswerable, abstained: right
        outcome((), None, "Nothing here.", "other", 30.0),
        # unanswerable, answered: wrong
        outcome((), "Paris", "Paris.", "other", 40.0),
    ]
    metrics = score(outcomes, index_seconds=1.23)
    assert set(metrics) == METRIC_KEYS
    assert (metrics["questions"], metrics["answerable"], metrics["unanswerable"]) == (4, 2, 2)
    assert metrics["citation_accuracy_at_1"] == 0.5
    assert metrics["passage_recall_at_5"] == 0.5
    assert metrics["answer_exact_match"] == 0.5
    assert metrics["answer_f1"] == 0.75
    assert (metrics["abstain_precision"], metrics["abstain_recall"]) == (1.0, 0.5)
    assert metrics["squad2_f1"] == pytest.approx((1 + 0.5 + 1 + 0) / 4)
    assert metrics["latency_ms_p50"] == 25.0
    assert metrics["index_seconds"] == 1.2
    assert "citation_accuracy_at_1" in format_table(metrics)

    records = [outcome_record(o) for o in outcomes]
    assert [r["citation_correct"] for r in records] == [True, False, None, None]
    assert [r["abstained"] for r in records] == [False, False, True, False]
    assert [r["answer_f1"] for r in records] == [1.0, 0.5, 1.0, 0.0]
    assert records[1]["cited_article"] == "other" and records[1]["answer"] == "in 1974"
    assert records[2]["answer"] == "" and records[3]["gold_answers"] == []


def squad_file(folder: Path) -> Path:
    paragraphs = [
        {
            "context": "The Normans were a people who in the 10th and 11th centuries gave their "
            "name to Normandy, a region in France. Their leader Rollo swore fealty to the king.",
            "qas": [
                {
                    "id": "a",
                    "question": "In what country is Normandy located?",
                    "answers": [{"text": "France", "answer_start": 103}],
                    "is_impossible": False,
                },
                {
                    "id": "b",
                    "question": "Who gave their name to Normandy in the 1000s and 1100s?",
                    "answers": [],
                    "is_impossible": True,
                },
            ],
        },
        {
            "context": "Steam engines use the pressure of steam to push a piston. James Watt "
            "improved the engine in 1781.",
            "qas": [
                {
                    "id": "c",
                    "question": "When did James Watt improve the engine?",
                    "answers": [{"text": "1781", "answer_start": 93}],
                    "is_impossible": False,
                }
            ],
        },
    ]
    path = folder / "tiny.json"
    data = {"data": [{"title": "Mixed_topics", "paragraphs": paragraphs}]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_eval_command_end_to_end(
    tmp_path: Path, settings: Settings, embedder: Embedder, reader: SpanReader
) -> None:
    result = CliRunner().invoke(
        cli,
        ["eval", str(squad_file(tmp_path)), "--json", "--baselines"],
        obj={"settings": settings, "embedder": embedder, "reader": reader},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"qa", "baselines"} and set(data["baselines"]) == {"dense", "bm25"}
    for metrics in (data["qa"], *data["baselines"].values()):
        assert set(metrics) == METRIC_KEYS
        assert metrics["questions"] == 3 and metrics["unanswerable"] == 1
        assert metrics["passage_recall_at_5"] == 1.0  # only two paragraphs
    assert data["qa"]["citation_accuracy_at_1"] == 1.0

    details = tmp_path / "details.jsonl"
    flat = CliRunner().invoke(
        cli,
        ["eval", str(squad_file(tmp_path)), "--json", "--limit", "2", "--details", str(details)],
        obj={"settings": settings, "embedder": embedder, "reader": reader},
    )
    assert flat.exit_code == 0, flat.output
    assert set(json.loads(flat.stdout)) == METRIC_KEYS
    lines = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["a", "b"]
    assert lines[0]["gold_article"] == lines[0]["cited_article"] == "Mixed_topics#0"
    assert lines[0]["citation_correct"] is True and "France" in lines[0]["cited_sentence"]
    assert lines[1]["unanswerable"] and lines[1]["citation_correct"] is None


def test_eval_with_a_runtime_this_install_lacks_is_one_line(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(
        REPO / "config.yaml", env={"QA_ANSWER_READER_RUNTIME": "openvino-bf16"}
    )
    monkeypatch.setitem(sys.modules, "openvino", None)  # importing it raises ImportError
    result = CliRunner().invoke(
        cli, ["eval", str(squad_file(tmp_path))], obj={"settings": settings, "embedder": embedder}
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output == (
        "Error: answer.reader_runtime: openvino-bf16 needs the openvino extra: "
        "pip install 'qa[openvino]'\n"
    )
