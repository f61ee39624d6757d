"""Latency of `POST /api/ask` over HTTP, under waitress on 127.0.0.1, on the demo articles.

    python benchmarks/api_latency.py [--requests 200] [--question "..."] [--threads 4]

Indexes `samples/` into a temporary folder, serves the app with waitress on a free loopback
port, asks the question (the seed question by default) one request at a time with urllib, and
prints the client-side latency p50/p95/max in milliseconds as one JSON object. The first few
requests warm up and are not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import waitress  # noqa: E402

from qa.app import create_app  # noqa: E402
from qa.config import load_settings  # noqa: E402
from qa.metrics import percentile  # noqa: E402
from qa.text import SpacySplitter  # noqa: E402
from qa.wiring import open_components  # noqa: E402

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
    parser.add_argument("--threads", type=int, default=4, help="waitress worker threads")
    args = parser.parse_args()

    settings = load_settings()
    # The benchmark is one client asking many times: the per-client limit would cut it short.
    settings = settings.with_overrides(server=replace(settings.server, rate_limit=""))
    splitter = SpacySplitter()
    with tempfile.TemporaryDirectory() as folder:
        components = open_components(settings, create=True, index_dir=Path(folder))
        report = components.ingester(splitter).ingest_paths([SAMPLES], 10**8, False)
        server = waitress.create_server(
            create_app(components, splitter=splitter),
            host="127.0.0.1",
            port=0,
            threads=args.threads,
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.effective_port}/api/ask"
        try:
            for _ in range(WARM_UP_REQUESTS):
                ask_once(url, args.question)
            latencies = [ask_once(url, args.question) for _ in range(args.requests)]
        finally:
            server.task_dispatcher.shutdown()
            server.close()
            components.close()
    print(
        json.dumps(
            {
                "articles": len(report.added) + len(report.unchanged),
                "question": args.question,
                "requests": len(latencies),
                "latency_ms_p50": round(statistics.median(latencies), 1),
                "latency_ms_p95": round(percentile(latencies, 0.95), 1),
                "latency_ms_max": round(max(latencies), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
