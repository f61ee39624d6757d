"""Load test: `qa serve` (gunicorn) on 127.0.0.1 driven by wrk at 16 concurrent clients.

    python benchmarks/load.py ../shared/data/squad2-dev-a.json [--seconds 60] [--clients 16]
        [--server-workers 0] [--server-threads 8] [--questions-only]

Builds a temporary index of the demo corpus (samples/) plus every paragraph of the SQuAD file
(with --questions-only samples/ alone, for the Wikinews question sets whose articles it holds),
starts the server on a free loopback port with rate limiting off (one client address would
otherwise be throttled by design), and has wrk (Debian package `wrk`) POST /api/ask with the
file's questions in turn for a bounded time. Prints requests/s, latency p50/p95/p99 and the
error count (connection errors, timeouts and non-2xx responses), which must be 0.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from serving import benchmark_environment, served

from qa.evaluation.squad import load_squad, write_articles_jsonl

REPO = Path(__file__).resolve().parent.parent

# wrk calls request() for every request and done() once; the bodies are set up in init().
WRK_SCRIPT = """
local bodies = {%s}
local counter = 0
request = function()
  counter = counter + 1
  local body = bodies[(counter %% #bodies) + 1]
  return wrk.format("POST", "/api/ask", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"seconds\\": %%.3f, \\"p50_ms\\": %%.2f, \\"p95_ms\\": %%.2f, "
    .. "\\"p99_ms\\": %%.2f, \\"connect_errors\\": %%d, \\"read_errors\\": %%d, "
    .. "\\"write_errors\\": %%d, \\"timeouts\\": %%d, \\"non_2xx\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors.connect, errors.read,
    errors.write, errors.timeout, errors.status))
end
"""


def lua_string(text: str) -> str:
    """A Lua long-bracket literal: no escaping needed as long as the closing bracket is absent."""
    level = "=" * 3
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


def require_wrk() -> None:
    """Exit with a message unless wrk is installed (checked before any long set-up)."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")


def run_wrk(base: str, bodies: list[str], clients: int, seconds: int) -> dict[str, Any]:
    """POST /api/ask at `base` with `bodies` in turn from `clients` wrk connections for
    `seconds`. Returns wrk's counts and latency percentiles (ms) plus `errors` (connection
    errors, timeouts and non-2xx responses), `requests_per_second` and `clients`."""
    with tempfile.TemporaryDirectory(prefix="qa-wrk-") as folder:
        script = Path(folder) / "ask.lua"
        script.write_text(WRK_SCRIPT % ", ".join(lua_string(b) for b in bodies))
        completed = subprocess.run(
            # wrk wants at least one connection per thread.
            ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s"]
            + ["-s", str(script), base],
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    [line] = [x for x in completed.stdout.splitlines() if x.startswith("RESULT ")]
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    result["errors"] = errors + result["non_2xx"]
    result["requests_per_second"] = round(result["requests"] / result["seconds"], 1)
    result["clients"] = clients
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--server-workers", type=int, default=0, help="0: one per core")
    parser.add_argument("--server-threads", type=int, default=8, help="threads per worker")
    parser.add_argument(
        "--questions-only",
        action="store_true",
        help="index samples/ alone: the file's articles are already there (the Wikinews sets)",
    )
    arguments = parser.parse_args()
    require_wrk()
    dataset = load_squad(arguments.dataset)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        corpus = folder / "squad-paragraphs.jsonl"
        write_articles_jsonl(dataset.articles, corpus)
        sources = [REPO / "samples"] + ([] if arguments.questions_only else [corpus])
        index = folder / "index"
        subprocess.run(
            ["qa", "ingest", *map(str, sources), "--index", str(index), "--quiet"],
            check=True,
            env=benchmark_environment(),
        )
        with served(index, arguments.server_workers, arguments.server_threads) as (base, _):
            bodies = [json.dumps({"question": q.question}) for q in dataset.questions]
            result = run_wrk(base, bodies, arguments.clients, arguments.seconds)
    print(json.dumps(result, indent=2))
    if result["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
