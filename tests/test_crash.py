"""SIGKILL in the middle of `qa ingest`: what was committed survives whole, nothing half-written
is visible, and a re-run finishes the job without duplicates."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO
from qa.config import Settings
from qa.ingest.loaders import load_file
from qa.ingest.sentences import SpacySplitter
from qa.models.embedder import Embedder
from qa.models.reader import SpanReader
from qa.wiring import open_components

BATCH = 4
ARTICLES = 40


def committed_generation(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def test_ingest_killed_mid_way_keeps_committed_articles_whole(
    tmp_path: Path,
    settings: Settings,
    embedder: Embedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> None:
    corpus = REPO / "tests" / "data" / "squad2-dev-a-first-40-paragraphs.jsonl"
    articles = load_file(corpus, max_bytes=1_000_000).articles
    folder = tmp_path / "index"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "QA_INDEX_DIR": str(folder),
        "QA_INGEST_BATCH_ARTICLES": str(BATCH),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "ingest", str(corpus), "--quiet"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while committed_generation(folder / "store.sqlite") < 3:
            assert process.poll() is None, "ingest ended before it could be killed"
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.02)
        time.sleep(0.3)  # land inside the next batch's embedding or write
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()

    components = open_components(settings, embedder=embedder, index_dir=folder, reader=reader)
    try:
        store = components.index.store
        survived = store.count()
        assert BATCH * 3 <= survived < ARTICLES
        assert survived % BATCH == 0, "a batch was half written"
        assert components.index.verify() == []

        first = store.get(articles[0].id)[1][0]
        answer = components.pipeline.ask(first.text, top_k=1)
        assert answer.citations[0].article.id == articles[0].id

        report = components.ingester(splitter).ingest_articles(articles)
        assert (len(report.unchanged), len(report.added)) == (survived, ARTICLES - survived)
        assert store.count() == ARTICLES
    finally:
        components.close()
