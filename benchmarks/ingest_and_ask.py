"""Ingest throughput against plain SentenceTransformer.encode, and `ask` latency.

    python benchmarks/ingest_and_ask.py ../shared/data/squad2-dev-a.json [--questions N]

Every SQuAD paragraph becomes an article (title = the Wikipedia article's title). In one run it
measures: the full ingest (clean, split with entities, chunk, embed sentences, store),
plain `encode` of the same sentences and of the same paragraphs with the same model, and the
latency of `Pipeline.ask` over the file's questions. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import load_settings  # noqa: E402
from qa.evaluation.metrics import percentile  # noqa: E402
from qa.evaluation.squad import load_squad  # noqa: E402
from qa.ingest.sentences import SpacySplitter  # noqa: E402
from qa.wiring import make_embedder, open_components  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--questions", type=int, default=0, help="ask at most N (0 = all)")
    args = parser.parse_args()

    dataset = load_squad(args.dataset)
    articles = dataset.articles
    questions = [q.question for q in dataset.questions]
    if args.questions:
        questions = questions[: args.questions]

    settings = load_settings()
    embedder = make_embedder(settings)
    splitter = SpacySplitter()
    embedder.encode_documents(["warm up"])  # model load is not ingest work
    splitter.split(["Warm up."])

    with tempfile.TemporaryDirectory() as folder:
        components = open_components(
            settings, embedder=embedder, create=True, index_dir=Path(folder)
        )
        started = time.perf_counter()
        report = components.ingester(splitter).ingest_articles(articles)
        ingest_seconds = time.perf_counter() - started

        sentence_texts = [s.text for a in articles for s in components.index.store.get(a.id)[1]]
        started = time.perf_counter()
        embedder.encode_documents(sentence_texts)
        plain_sentence_seconds = time.perf_counter() - started
        started = time.perf_counter()
        embedder.encode_documents([a.text for a in articles])
        plain_paragraph_seconds = time.perf_counter() - started

        latencies = []
        for question in questions:
            started = time.perf_counter()
            components.pipeline.ask(question, settings.answer.top_k)
            latencies.append((time.perf_counter() - started) * 1000)
        components.close()

    print(
        json.dumps(
            {
                "articles": len(articles),
                "sentences": report.sentences,
                "chunks": report.chunks,
                "ingest_seconds": round(ingest_seconds, 2),
                "ingest_sentences_per_second": round(report.sentences / ingest_seconds, 1),
                "plain_encode_sentences_per_second": round(
                    len(sentence_texts) / plain_sentence_seconds, 1
                ),
                "plain_encode_paragraphs_per_second": round(
                    len(articles) / plain_paragraph_seconds, 1
                ),
                "ingest_paragraphs_per_second": round(len(articles) / ingest_seconds, 1),
                "questions": len(latencies),
                "ask_latency_ms_p50": round(statistics.median(latencies), 1),
                "ask_latency_ms_p95": round(percentile(latencies, 0.95), 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
