"""Where ingest time goes, and ingest speed against a plain encode of the same sentences.

    python benchmarks/ingest_speed.py ../shared/data/wikinews-2019-2020.jsonl [--articles N]

Reads the files and ingests them into a temporary index as `qa ingest` does (the configured
model, splitter and batch size; one call, the vectors saved once at the end), then encodes all
the ingested sentence texts with one plain `embedder.encode_documents`. Prints one JSON object:
wall seconds per ingest stage (`IngestReport.seconds`; they overlap, as the next batch is split
while one is encoded), sentences/s of the ingest and of the plain encode, and their ratio (the
issue asks for at least 0.9). Models are loaded before the clock starts.

The plain encode runs after the ingest, not between its batches: ingest splits the next batch
in a background thread, which a plain encode there would compete with. On a shared machine a
load that changes between the two skews their ratio; the 1-minute load average at the start,
after the ingest and at the end shows how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import Settings, load_settings  # noqa: E402
from qa.ingest.ingester import INGEST_STAGES, IngestReport, read_files  # noqa: E402
from qa.ingest.sentences import SpacySplitter  # noqa: E402
from qa.models.embedder import Embedder  # noqa: E402
from qa.types import Article  # noqa: E402
from qa.wiring import make_embedder, open_components  # noqa: E402


@dataclass
class TimedIngest:
    """An ingest, then a plain encode of the sentences it stored, timed apart."""

    report: IngestReport
    ingest_seconds: float  # the ingest alone, models already loaded
    plain_seconds: float  # one plain encode of `texts` after the ingest
    texts: list[str]  # every ingested sentence's text, in ingest order
    load: list[float]  # 1-minute load average at the start, after the ingest, at the end


def ingest_beside_plain_encode(
    settings: Settings, embedder: Embedder, articles: list[Article], folder: Path
) -> TimedIngest:
    """Ingest `articles` into a new index in `folder` with `settings` (splitter, batch size,
    vectors) as `qa ingest` does, in one `ingest_articles` call, then one plain
    `embedder.encode_documents` of every sentence it stored. Models are warmed before the clock
    starts; a progress bar goes to stderr."""
    splitter = SpacySplitter()
    embedder.encode_documents(["Warm up the model.", "And its batching."])
    splitter.split(["Warm up. The splitter too."])
    report = IngestReport()
    load = [os.getloadavg()[0]]
    components = open_components(settings, embedder=embedder, create=True, index_dir=folder)
    try:
        with tqdm(total=len(articles), desc="ingest", unit="article", file=sys.stderr) as bar:
            started = time.perf_counter()
            components.ingester(splitter).ingest_articles(articles, report, bar.update)
            ingest_seconds = time.perf_counter() - started
        store = components.index.store
        texts = [sentence.text for i in report.added for sentence in store.get(i)[1]]
    finally:
        components.close()
    load.append(os.getloadavg()[0])
    started = time.perf_counter()
    embedder.encode_documents(texts)
    plain_seconds = time.perf_counter() - started
    load.append(os.getloadavg()[0])
    return TimedIngest(report, ingest_seconds, plain_seconds, texts, load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", type=Path, nargs="+", help="article files or folders")
    parser.add_argument("--articles", type=int, default=0, help="ingest at most N (0 = all)")
    args = parser.parse_args()

    settings = load_settings()
    articles, read = read_files(args.paths, settings.ingest.max_file_bytes, False)
    if args.articles:
        articles = articles[: args.articles]
    embedder = make_embedder(settings)

    with tempfile.TemporaryDirectory(prefix="qa-ingest-speed-") as folder:
        timed = ingest_beside_plain_encode(settings, embedder, articles, Path(folder))
    report, ingest_seconds = timed.report, timed.ingest_seconds
    ingest_rate = report.sentences / ingest_seconds
    plain_rate = len(timed.texts) / timed.plain_seconds
    stages = {stage: round(report.seconds.get(stage, 0.0), 2) for stage in INGEST_STAGES}
    stages["other"] = round(ingest_seconds - sum(report.seconds.values()), 2)
    print(
        json.dumps(
            {
                "articles": len(report.added),
                "skipped": len(read.skipped) + len(report.skipped),
                "sentences": report.sentences,
                "chunks": report.chunks,
                "ingest_seconds": round(ingest_seconds, 2),
                "stage_seconds": stages,
                "ingest_sentences_per_second": round(ingest_rate, 1),
                "plain_encode_sentences_per_second": round(plain_rate, 1),
                "ingest_to_plain_ratio": round(ingest_rate / plain_rate, 3),
                "load_average_start_after_ingest_end": [round(value, 2) for value in timed.load],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
