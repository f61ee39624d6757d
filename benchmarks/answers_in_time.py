"""Answers in time, measured: developing stories (the newest answer, with the earlier ones in
its timeline), questions that name a period, and questions whose answer is a list.

    python benchmarks/answers_in_time.py samples/wikinews-2019-2020.jsonl \
        benchmarks/data/wikinews-developing-stories.json \
        benchmarks/data/wikinews-periods-and-lists.json [--half fit|test|all] [--details F]

The articles are indexed in a temporary folder as `qa ingest` would, then every question is
asked as `qa ask` asks it. The question files are split into halves by position (odd: fit,
even: test); settings are chosen on the fit half, figures reported on the test half.

- developing: `newest` = answer F1 of at least 0.7 against the newest article's answer;
  `timeline_earlier` = the timeline holds an earlier article's answer (F1 at least 0.7);
- period: `citation_at_1` = the first cited sentence holds an answer; `period_read` = the
  answer says which period it used;
- list: `answer_f1` against the whole list, `items` = share of the list's items in the answer.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tqdm import tqdm  # noqa: E402

from qa.config import load_settings  # noqa: E402
from qa.evaluation.evaluate import index_dataset  # noqa: E402
from qa.evaluation.metrics import best_f1, contains_answer, percentile  # noqa: E402
from qa.evaluation.squad import SquadDataset  # noqa: E402
from qa.ingest.loaders import article_from_record  # noqa: E402
from qa.ingest.sentences import SpacySplitter  # noqa: E402
from qa.service.serialize import answer_to_json  # noqa: E402
from qa.wiring import make_embedder, make_reader  # noqa: E402

GOOD_F1 = 0.7


def in_half(position: int, half: str) -> bool:
    return half == "all" or (position % 2 == 0) == (half == "fit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("articles", type=Path, help="the Wikinews JSONL file")
    parser.add_argument("developing", type=Path)
    parser.add_argument("periods_and_lists", type=Path)
    parser.add_argument("--half", choices=("fit", "test", "all"), default="test")
    parser.add_argument("--details", type=Path, help="write each question's answer here")
    args = parser.parse_args()

    lines = args.articles.read_text(encoding="utf-8").splitlines()
    articles = [article_from_record(json.loads(line), args.articles.name) for line in lines]
    developing = json.loads(args.developing.read_text(encoding="utf-8"))["questions"]
    other = json.loads(args.periods_and_lists.read_text(encoding="utf-8"))
    sets = {
        "developing": [q for i, q in enumerate(developing) if in_half(i, args.half)],
        "period": [q for i, q in enumerate(other["period"]) if in_half(i, args.half)],
        "list": [q for i, q in enumerate(other["list"]) if in_half(i, args.half)],
    }
    settings = load_settings()
    reader = make_reader(settings)
    details: list[dict[str, Any]] = []
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="qa-time-") as folder:
        components, _ = index_dataset(
            SquadDataset(articles, []),
            settings,
            make_embedder(settings),
            SpacySplitter(),
            Path(folder),
            reader,
        )
        try:
            pipeline = components.pipeline
            for name, questions in sets.items():
                scores: dict[str, list[float]] = {}
                for q in tqdm(questions, desc=name, unit="q"):
                    answer = answer_to_json(pipeline.ask(q["question"], 3))
                    details.append({"set": name, "id": q["id"], **answer})
                    scores.setdefault("latency_ms", []).append(answer["timing_ms"]["total"])
                    for key, value in score(name, q, answer).items():
                        scores.setdefault(key, []).append(value)
                results[name] = {
                    "questions": len(questions),
                    **{
                        k: round(float(np.mean(v)), 4)
                        for k, v in scores.items()
                        if k != "latency_ms"
                    },
                    "latency_ms_p50": round(percentile(scores.get("latency_ms", [0.0]), 0.5), 1),
                }
        finally:
            components.close()
    if args.details:
        with args.details.open("w", encoding="utf-8") as out:
            for record in details:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(json.dumps({"half": args.half, **results}, indent=2))


def score(name: str, question: dict[str, Any], answer: dict[str, Any]) -> dict[str, float]:
    """The figures one answer adds to its set's (see the module docstring)."""
    given = answer["answer"] or ""
    if name == "developing":
        newest = [a["text"] for a in question["answers"]]
        earlier = [e["text"] for e in question["earlier"]]
        told = [entry["answer"] for entry in answer.get("timeline", [])]
        return {
            "newest": float(best_f1(given, tuple(newest)) >= GOOD_F1),
            "timeline_earlier": float(any(best_f1(t, tuple(earlier)) >= GOOD_F1 for t in told)),
            "answered": float(answer["answerable"]),
        }
    texts = tuple(a["text"] for a in question["answers"])
    first = answer["citations"][0]["sentence"] if answer["citations"] else ""
    if name == "period":
        return {
            "citation_at_1": float(contains_answer(first, texts)),
            "answer_f1": best_f1(given, texts),
            "period_read": float(answer.get("period") is not None),
        }
    items = question["items"]
    return {
        "answer_f1": best_f1(given, texts),
        "items": sum(item.lower() in given.lower() for item in items) / len(items),
        "citation_at_1": float(contains_answer(first, texts)),
    }


if __name__ == "__main__":
    main()
