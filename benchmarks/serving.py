"""`qa serve` in a subprocess for the HTTP benchmarks (`api_latency.py`, `load.py`,
`archive.py`): on a free loopback port, with rate limiting off (a benchmark is one client
address asking many times); and its memory, read from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

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


def benchmark_environment(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a `qa` subprocess: offline, rate limit off, plus
    `overrides` (settings as `QA_<SECTION>_<KEY>` variables, see qa.config)."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "QA_SERVER_RATE_LIMIT": "", **(overrides or {})}


class Served(NamedTuple):
    base: str  # http://127.0.0.1:PORT
    pid: int  # the gunicorn master; its workers are its children


@contextmanager
def served(
    index: Path, workers: int, threads: int, overrides: Mapping[str, str] | None = None
) -> Iterator[Served]:
    """`qa serve` on `index` with these workers (0: one per core) and threads per worker, and
    settings `overrides` (see `benchmark_environment`), until the block ends (then SIGTERM);
    yields its base URL and process id once /healthz answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = ["qa", "serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port)]
    options = ["--workers", str(workers), "--threads", str(threads)]
    # Its stdout goes to stderr: a benchmark's stdout is its JSON.
    server = subprocess.Popen(
        [*command, *options], env=benchmark_environment(overrides), stdout=sys.stderr
    )
    try:
        wait_until_healthy(base, server, START_SECONDS)
        yield Served(base, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, waiting = [], [root]
    while waiting:
        pid = waiting.pop()
        tree.append(pid)
        waiting.extend(children.get(pid, []))
    return tree


def kibibytes(path: Path, field: str) -> int | None:
    """A `Field:  N kB` line of a /proc file, or None if unreadable."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in lines if line.startswith(f"{field}:")), None)


def server_memory(pid: int) -> dict[str, Any]:
    """Memory of the server `pid` (`Served.pid`) and its workers: each one's RSS (MiB, master
    first), their sum, and the sum of their PSS, which counts a page n processes share (the
    models, after the fork) as 1/n in each (None if /proc/PID/smaps_rollup is unreadable)."""
    pids = process_tree(pid)
    rss = [kibibytes(Path(f"/proc/{pid}/status"), "VmRSS") or 0 for pid in pids]
    pss = [kibibytes(Path(f"/proc/{pid}/smaps_rollup"), "Pss") for pid in pids]
    known_pss = [value for value in pss if value is not None]
    return {
        "processes": len(pids),
        "rss_mib_each": [round(value / 1024) for value in rss],
        "rss_mib": round(sum(rss) / 1024),
        "pss_mib": round(sum(known_pss) / 1024) if len(known_pss) == len(pss) else None,
    }
