"""Kill `qa ingest` with SIGKILL at random moments and check what survives.

    python benchmarks/crash_trials.py ../shared/data/squad2-dev-a.json [--trials 10] [--seed 1]

Each trial ingests the file's paragraphs (as JSONL, batches of 4 articles) into a fresh folder in
a subprocess, kills it after a random delay, then reopens the folder in this process and checks
`Index.verify()`, that only whole batches are present, and that a committed article answers.
Prints one line a trial and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import load_settings  # noqa: E402
from qa.evaluation.squad import load_squad, write_articles_jsonl  # noqa: E402
from qa.wiring import make_embedder, open_components  # noqa: E402

BATCH = 4
REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--articles", type=int, default=120)
    args = parser.parse_args()
    chooser = random.Random(args.seed)

    articles = load_squad(args.dataset).articles[: args.articles]
    settings = load_settings()
    embedder = make_embedder(settings)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus.jsonl"
        write_articles_jsonl(articles, corpus)
        for trial in range(args.trials):
            folder = Path(scratch) / f"index-{trial}"
            env = {
                **os.environ,
                "QA_INDEX_DIR": str(folder),
                "QA_INGEST_BATCH_ARTICLES": str(BATCH),
            }
            delay = chooser.uniform(4.0, 30.0)
            process = subprocess.Popen(
                [sys.executable, "-m", "qa.cli", "ingest", str(corpus), "--quiet"],
                env=env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(delay)
            finished_first = process.poll() is not None
            if not finished_first:
                os.kill(process.pid, signal.SIGKILL)
            process.wait()
            if not (folder / "manifest.json").exists():
                results.append(
                    {"trial": trial, "delay_s": round(delay, 1), "articles": 0, "ok": True}
                )
                print(json.dumps(results[-1]))
                continue
            components = open_components(settings, embedder=embedder, index_dir=folder)
            problems = components.index.verify()
            count = components.index.store.count()
            if count % BATCH and count != len(articles):
                problems.append(f"{count} articles is not a whole number of batches")
            if count:
                first_id = components.index.store.list_articles(limit=1)[0].id
                first_sentence = components.index.store.get(first_id)[1][0].text
                cited = components.pipeline.ask(first_sentence, top_k=1).citations
                if not cited or cited[0].sentence.text != first_sentence:
                    problems.append(f"committed article {first_id} does not answer")
            components.close()
            results.append(
                {
                    "trial": trial,
                    "delay_s": round(delay, 1),
                    "killed": not finished_first,
                    "articles": count,
                    "ok": not problems,
                    "problems": problems,
                }
            )
            print(json.dumps(results[-1]))
    survived = sum(r["ok"] for r in results)
    total = len(articles)
    killed_mid_way = sum(1 for r in results if r.get("killed") and 0 < r["articles"] < total)
    print(
        json.dumps(
            {"trials": len(results), "survived": survived, "killed_mid_ingest": killed_mid_way}
        )
    )


if __name__ == "__main__":
    main()
