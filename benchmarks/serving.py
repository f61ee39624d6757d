"""`qa serve` in a subprocess for the HTTP benchmarks (`api_latency.py`, `load.py`): on a free
loopback port, with rate limiting off (a benchmark is one client address asking many times)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(base: str, server: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"qa serve exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"qa serve did not answer {base}/healthz within {seconds:.0f} s")


def benchmark_environment() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "QA_SERVER_RATE_LIMIT": ""}


@contextmanager
def served(index: Path, workers: int, threads: int) -> Iterator[str]:
    """`qa serve` on `index` with these workers (0: one per core) and threads per worker, until
    the block ends (then SIGTERM); yields its base URL once /healthz answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = ["qa", "serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port)]
    options = ["--workers", str(workers), "--threads", str(threads)]
    server = subprocess.Popen([*command, *options], env=benchmark_environment())
    try:
        wait_until_healthy(base, server, START_SECONDS)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=60)
