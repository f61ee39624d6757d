"""SIGKILL in the middle of `qa ingest`: what was committed survives whole, nothing half-written
is visible, and a re-run finishes the job without duplicates."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, SHARED_DATA
from qa.config import Settings
from qa.embed import Embedder
from qa.loaders import article_from_record
from qa.text import SpacySplitter
from qa.wiring import open_components

BATCH = 4
ARTICLES = 40


def squad_records(count: int) -> list[dict[str, str]]:
    data = json.loads((SHARED_DATA / "squad2-dev-a.json").read_text(encoding="utf-8"))["data"]
    records = [
        {"id": f"{doc['title']}-{n}", "title": doc["title"], "text": p["context"]}
        for doc in data
        for n, p in enumerate(doc["paragraphs"])
    ]
    return records[:count]


def committed_generation(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def test_ingest_killed_mid_way_keeps_committed_articles_whole(
    tmp_path: Path, settings: Settings, embedder: Embedder, splitter: SpacySplitter
) -> None:
    records = squad_records(ARTICLES)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
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

    components = open_components(settings, embedder=embedder, index_dir=folder)
    try:
        store = components.index.store
        survived = store.count()
        assert BATCH * 3 <= survived < ARTICLES
        assert survived % BATCH == 0, "a batch was half written"
        assert components.index.verify() == []

        first = store.get(records[0]["id"])[1][0]
        answer = components.pipeline.ask(first.text, top_k=1)
        assert answer.citations[0].article.id == records[0]["id"]

        articles = [article_from_record(r, r["id"]) for r in records]
        report = components.ingester(splitter).ingest_articles(articles)
        assert (len(report.unchanged), len(report.added)) == (survived, ARTICLES - survived)
        assert store.count() == ARTICLES
    finally:
        components.close()
