"""Where ingest time goes, and ingest speed against a plain encode of the same sentences.

    python benchmarks/ingest_speed.py ../shared/data/wikinews-2019-2020.jsonl [--articles N]

Reads the files as `qa ingest` does and ingests them into a temporary index with the configured
model, splitter and batch size, one `ingest.batch_articles` batch at a time. Right after each
batch it encodes that batch's sentence texts with a plain `embedder.encode_documents`, and after
the whole ingest all the sentence texts in one call. Prints one JSON object: wall seconds per
ingest stage (`IngestReport.seconds`), sentences/s of the ingest and of both plain encodes, and
the ratios (the issue asks for at least 0.9). Models are loaded before the clock starts.

On a shared machine absolute speeds move with the load, and a load that changes between the
ingest and a later encode skews their ratio; the batch-by-batch ratio, whose two sides take
turns every few seconds, is the steadier figure. The 1-minute load average at the start, after
the ingest and at the end shows how busy the machine was.
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
from qa.ingest import INGEST_STAGES, IngestReport, read_files  # noqa: E402
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
    batch = settings.ingest.batch_articles

    load = [os.getloadavg()[0]]
    report = IngestReport()
    ingest_seconds = plain_batch_seconds = 0.0
    texts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="qa-ingest-speed-") as folder:
        components = open_components(
            settings, embedder=embedder, create=True, index_dir=Path(folder)
        )
        try:
            ingester = components.ingester(splitter)
            for first in range(0, len(articles), batch):
                done = len(report.added)
                started = time.perf_counter()
                ingester.ingest_articles(articles[first : first + batch], report)
                ingest_seconds += time.perf_counter() - started
                store = components.index.store
                batch_texts = [s.text for i in report.added[done:] for s in store.get(i)[1]]
                started = time.perf_counter()
                embedder.encode_documents(batch_texts)
                plain_batch_seconds += time.perf_counter() - started
                texts.extend(batch_texts)
        finally:
            components.close()

    load.append(os.getloadavg()[0])
    started = time.perf_counter()
    embedder.encode_documents(texts)
    plain_seconds = time.perf_counter() - started
    load.append(os.getloadavg()[0])

    ingest_rate = report.sentences / ingest_seconds
    plain_batch_rate = len(texts) / plain_batch_seconds
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
                "plain_encode_after_each_batch_sentences_per_second": round(plain_batch_rate, 1),
                "ingest_to_plain_ratio_batch_by_batch": round(ingest_rate / plain_batch_rate, 3),
                "plain_encode_after_ingest_sentences_per_second": round(plain_rate, 1),
                "ingest_to_plain_ratio_after_ingest": round(ingest_rate / plain_rate, 3),
                "load_average_start_after_ingest_end": [round(value, 2) for value in load],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
