"""Latency of `POST /api/ask` over HTTP, under `qa serve` on 127.0.0.1, on the demo articles.

    python benchmarks/api_latency.py [--requests 200] [--question "..."] [--workers 1]

Indexes `samples/` into a temporary folder, starts `qa serve` (gunicorn) on a free loopback
port with rate limiting off, asks the question (the seed question by default) one request at a
time with urllib, and prints the client-side latency p50/p95/max in milliseconds as one JSON
object. The first few requests warm up and are not counted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from serving import benchmark_environment, served

from qa.evaluation.metrics import percentile

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SEED_QUESTION = "when will coalition forces withdraw?"
WARM_UP_REQUESTS = 5


def ask_once(url: str, question: str) -> float:
    """One request; returns its wall time in ms. Raises if the answer is not a 200."""
    body = json.dumps({"question": question}).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--question", default=SEED_QUESTION)
    parser.add_argument("--workers", type=int, default=1, help="qa serve worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        index = Path(folder) / "index"
        subprocess.run(
            ["qa", "ingest", str(SAMPLES), "--index", str(index), "--quiet"],
            check=True,
            env=benchmark_environment(),
        )
        with served(index, args.workers, args.threads) as (base, _):
            url = f"{base}/api/ask"
            for _ in range(WARM_UP_REQUESTS):
                ask_once(url, args.question)
            latencies = [ask_once(url, args.question) for _ in range(args.requests)]
            with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
                articles = json.loads(response.read())["articles"]
    print(
        json.dumps(
            {
                "articles": articles,
                "question": args.question,
                "workers": args.workers,
                "requests": len(latencies),
                "latency_ms_p50": round(statistics.median(latencies), 1),
                "latency_ms_p95": round(percentile(latencies, 0.95), 1),
                "latency_ms_max": round(max(latencies), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
