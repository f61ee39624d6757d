"""`qa eval`: index a SQuAD 2.0 file in a temporary folder, ask every question, score the answers.

Metrics (see qa/evaluation/metrics.py for the definitions):
- `citation_accuracy_at_1`: the first cited sentence contains a gold answer (answerable only);
- `passage_recall_at_5`: the gold paragraph is among the first 5 distinct paragraphs cited, then
  retrieved (answerable only);
- `answer_exact_match`, `answer_f1`: official SQuAD scores of the answer (answerable only; an
  abstention scores 0);
- `abstain_precision`, `abstain_recall`: abstentions that were right, unanswerable questions
  abstained on;
- `squad2_f1`: official SQuAD 2.0 F1 over all questions (abstaining = the empty answer);
- `latency_ms_p50`, `latency_ms_p95`: wall time of `Pipeline.ask` with the model loaded;
- `index_seconds`: the whole ingest of the file's paragraphs.

`--details FILE` also writes each question's outcome as a line of JSON (`outcome_record`): the
metrics say how often the answerer is wrong, the lines say where, which is what choosing the next
change needs.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from qa.answering.pipeline import Asked, Pipeline, build_pipeline
from qa.config import Settings
from qa.evaluation.metrics import (
    best_exact_match,
    best_f1,
    contains_answer,
    mean,
    percentile,
    precision_recall,
    recall_at,
)
from qa.evaluation.squad import SquadDataset, SquadQuestion
from qa.ingest.sentences import Splitter
from qa.models.embedder import Embedder
from qa.models.reader import SpanReader
from qa.wiring import Components, open_components

BASELINES = ("dense", "bm25")
# Citations asked for per question: enough for passage recall at 5 to see 5 sentences.
EVAL_TOP_K = 5


@dataclass(frozen=True)
class Outcome:
    """One question as the pipeline answered it."""

    question: SquadQuestion
    asked: Asked
    latency_ms: float

    @property
    def prediction(self) -> str:
        """The answer text, or "" for an abstention (SQuAD 2.0's convention)."""
        answer = self.asked.answer
        return (answer.answer or "") if answer.answerable else ""

    def ranked_article_ids(self) -> list[str]:
        cited = [c.article.id for c in self.asked.answer.citations]
        return cited + [c.article.id for c in self.asked.chunks]


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    """One line of `--details`: the question, what was expected, what was answered and cited,
    and the scores that line adds to the metrics."""
    question, answer = outcome.question, outcome.asked.answer
    first = answer.citations[0] if answer.citations else None
    cited = first.sentence.text if first else ""
    return {
        "id": question.id,
        "question": question.question,
        "gold_answers": list(question.answers),
        "gold_article": question.article_id,
        "unanswerable": question.is_impossible,
        "abstained": not answer.answerable,
        "abstain_reason": answer.abstain_reason if not answer.answerable else None,
        "missing_terms": list(answer.missing_terms),
        "answer": outcome.prediction,
        "confidence": round(answer.confidence, 4),
        "cited_article": first.article.id if first else None,
        "cited_sentence": cited,
        "citation_correct": None
        if question.is_impossible
        else contains_answer(cited, question.answers),
        "answer_f1": round(best_f1(outcome.prediction, question.answers), 4),
        "latency_ms": round(outcome.latency_ms, 1),
    }


def write_details(outcomes: Sequence[Outcome], path: Path) -> None:
    with path.open("w", encoding="utf-8") as lines:
        for outcome in outcomes:
            lines.write(json.dumps(outcome_record(outcome), ensure_ascii=False) + "\n")


def ask_all(
    pipeline: Pipeline, questions: Sequence[SquadQuestion], label: str, progress: bool
) -> list[Outcome]:
    outcomes = []
    for question in tqdm(questions, desc=f"asking ({label})", unit="q", disable=not progress):
        started = time.perf_counter()
        asked = pipeline.ask_detailed(question.question, EVAL_TOP_K)
        outcomes.append(Outcome(question, asked, (time.perf_counter() - started) * 1000))
    return outcomes


def score(outcomes: Sequence[Outcome], index_seconds: float) -> dict[str, Any]:
    """The metric object `qa eval --json` prints (exactly these keys, in this order)."""
    answerable = [o for o in outcomes if not o.question.is_impossible]
    top_sentences = [
        o.asked.answer.citations[0].sentence.text if o.asked.answer.citations else ""
        for o in answerable
    ]
    abstained = [not o.asked.answer.answerable for o in outcomes]
    impossible = [o.question.is_impossible for o in outcomes]
    abstain_precision, abstain_recall = precision_recall(abstained, impossible)
    latencies = [o.latency_ms for o in outcomes]
    return {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(outcomes) - len(answerable),
        "citation_accuracy_at_1": round(
            mean(
                [
                    float(contains_answer(s, o.question.answers))
                    for s, o in zip(top_sentences, answerable, strict=True)
                ]
            ),
            4,
        ),
        "passage_recall_at_5": round(
            mean([recall_at(o.ranked_article_ids(), o.question.article_id, 5) for o in answerable]),
            4,
        ),
        "answer_exact_match": round(
            mean([best_exact_match(o.prediction, o.question.answers) for o in answerable]), 4
        ),
        "answer_f1": round(
            mean([best_f1(o.prediction, o.question.answers) for o in answerable]), 4
        ),
        "abstain_precision": round(abstain_precision, 4),
        "abstain_recall": round(abstain_recall, 4),
        "squad2_f1": round(mean([best_f1(o.prediction, o.question.answers) for o in outcomes]), 4),
        "latency_ms_p50": round(percentile(latencies, 0.5), 1),
        "latency_ms_p95": round(percentile(latencies, 0.95), 1),
        "index_seconds": round(index_seconds, 1),
    }


def index_dataset(
    dataset: SquadDataset,
    settings: Settings,
    embedder: Embedder,
    splitter: Splitter,
    folder: Path,
    reader: SpanReader | None = None,
) -> tuple[Components, float]:
    """Ingest every paragraph into a new index in `folder`; returns it and the seconds taken."""
    components = open_components(
        settings, embedder=embedder, create=True, index_dir=folder, reader=reader
    )
    started = time.perf_counter()
    components.ingester(splitter).ingest_articles(dataset.articles)
    return components, time.perf_counter() - started


def evaluate(
    dataset: SquadDataset,
    settings: Settings,
    embedder: Embedder,
    splitter: Splitter,
    baselines: bool = False,
    progress: bool = True,
    reader: SpanReader | None = None,
    details: Path | None = None,
) -> dict[str, Any]:
    """Metrics of the configured pipeline; with `baselines`, {"qa": …, "baselines": {"dense":
    …, "bm25": …}}, all measured on the same temporary index in this process. With `details`,
    the configured pipeline's outcomes are written there too (`write_details`)."""
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as folder:
        components, index_seconds = index_dataset(
            dataset, settings, embedder, splitter, Path(folder), reader
        )
        try:
            outcomes = ask_all(components.pipeline, dataset.questions, "qa", progress)
            if details is not None:
                write_details(outcomes, details)
            ours = score(outcomes, index_seconds)
            if not baselines:
                return ours
            others = {
                name: score(
                    ask_all(
                        build_pipeline(
                            components.index,
                            components.lexical,
                            embedder,
                            settings,
                            baseline=name,
                        ),
                        dataset.questions,
                        name,
                        progress,
                    ),
                    index_seconds,
                )
                for name in BASELINES
            }
        finally:
            components.close()
    return {"qa": ours, "baselines": others}


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table: one row per metric, one column per configuration."""
    columns = {"qa": result} if "qa" not in result else {"qa": result["qa"], **result["baselines"]}
    keys = list(next(iter(columns.values())))
    width = max(map(len, keys))
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{name:>8}" for name in columns)]
    for key in keys:
        cells = "  ".join(f"{columns[name][key]:>8}" for name in columns)
        lines.append(f"{key:<{width}}  {cells}")
    return "\n".join(lines)
