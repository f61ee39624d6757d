"""Where ingest time goes, and ingest speed against a plain encode of the same sentences.

    python benchmarks/ingest_speed.py ../shared/data/wikinews-2019-2020.jsonl [--articles N]

Reads the files as `qa ingest` does, ingests them into a temporary index with the configured
model, splitter and batch size, then, in the same process right after, encodes the same sentence
texts with one plain `embedder.encode_documents` call. Prints one JSON object: wall seconds per
ingest stage (`IngestReport.seconds`), sentences/s of the ingest and of the plain encode, and
their ratio (the issue asks for at least 0.9). Models are loaded before the clock starts. On a
shared machine absolute speeds move with the load; the ratio, measured in one run, is the figure,
and the 1-minute load average at the start, between the two measurements and at the end shows
whether the load changed under it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import load_settings  # noqa: E402
from qa.ingest import INGEST_STAGES, read_files  # noqa: E402
from qa.text import SpacySplitter  # noqa: E402
from qa.wiring import make_embedder, open_components  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", type=Path, nargs="+", help="article files or folders")
    parser.add_argument("--articles", type=int, default=0, help="ingest at most N (0 = all)")
    args = parser.parse_args()

    settings = load_settings()
    articles, skipped = read_files(args.paths, settings.ingest.max_file_bytes, False)
    if args.articles:
        articles = articles[: args.articles]
    embedder = make_embedder(settings)
    splitter = SpacySplitter()
    embedder.encode_documents(["Warm up the model.", "And its batching."])
    splitter.split(["Warm up. The splitter too."])

    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="qa-ingest-speed-") as folder:
        components = open_components(
            settings, embedder=embedder, create=True, index_dir=Path(folder)
        )
        try:
            started = time.perf_counter()
            report = components.ingester(splitter).ingest_articles(articles)
            ingest_seconds = time.perf_counter() - started
            texts = [s.text for i in report.added for s in components.index.store.get(i)[1]]
        finally:
            components.close()

    load.append(os.getloadavg()[0])
    started = time.perf_counter()
    embedder.encode_documents(texts)
    plain_seconds = time.perf_counter() - started
    load.append(os.getloadavg()[0])

    ingest_rate = report.sentences / ingest_seconds
    plain_rate = len(texts) / plain_seconds
    stages = {stage: round(report.seconds.get(stage, 0.0), 2) for stage in INGEST_STAGES}
    stages["other"] = round(ingest_seconds - sum(report.seconds.values()), 2)
    print(
        json.dumps(
            {
                "articles": len(report.added),
                "skipped": len(skipped) + len(report.skipped),
                "sentences": report.sentences,
                "chunks": report.chunks,
                "ingest_seconds": round(ingest_seconds, 2),
                "stage_seconds": stages,
                "ingest_sentences_per_second": round(ingest_rate, 1),
                "plain_encode_seconds": round(plain_seconds, 2),
                "plain_encode_sentences_per_second": round(plain_rate, 1),
                "ingest_to_plain_ratio": round(ingest_rate / plain_rate, 3),
                "load_average_start_between_end": [round(value, 2) for value in load],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
