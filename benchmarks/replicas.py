"""Two `qa serve` replicas on one PostgreSQL store: shared conversations, writes seen at once.

    export QA_TEST_POSTGRES_DSN=$(bash scripts/postgres)
    python benchmarks/replicas.py [ARTICLES] [--questions SQUAD.json] [--dsn postgresql://...]
        [--seconds 60] [--clients 16] [--server-workers 1] [--server-threads 8] [--work DIR]

The issue's promise, measured end to end: "a conversation started on one continues on the
other, and an article added through one is answered from through the other on the next
question". The demo articles (samples/), plus ARTICLES if given (a SQuAD 2.0 file, whose
paragraphs become articles as in load.py, or any file or folder `qa ingest` reads), are
ingested by `qa ingest` into a fresh schema of the PostgreSQL database (dropped at the end).
Two `qa serve` processes, A and B, each with its own index folder (the manifest, and FAISS
vectors rebuilt from the store), serve it on free loopback ports, rate limit off. Checks, each
printed to stderr as PASS or FAIL with its timings:

- both replicas report the articles ingested;
- conversation: the seed question asked of A, its follow-up ("why are they leaving?") asked of
  B with A's conversation id, answers from the seed article's coronavirus sentence;
- write visibility: an article posted to A is cited first by B's answer to a question only it
  answers, on the first try or retried for up to 10 s (the seconds from A's 201 and the tries
  are reported); deleted through B, it is no longer cited by A;
- load: wrk (load.py's `run_wrk`) drives both replicas at once, half the clients each, with the
  questions of --questions (default: the Wikinews test set, whose articles samples/ holds, or
  ARTICLES' own when it is a SQuAD file) for --seconds; answers/s and p50/p95 per replica, 0
  errors wanted.

Then each replica's memory (serving.py's `server_memory`). Prints one JSON object (written to
DIR/replicas.json with --work, which also keeps the index folders) and exits 1 if a check
failed. Most of a run is the ingest: 6.5 min in all on 2 busy cores, 5.9 of it ingesting the
316 demo articles, with --seconds 20. The first article posted to a worker costs it about 3 s
more than the next (its first torch passage encode), which `post_on_a_ms` includes.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load import require_wrk, run_wrk
from serving import Served, benchmark_environment, served, server_memory

from qa.evaluation.squad import SquadFormatError, load_squad, write_articles_jsonl
from qa.store.database import redact_password, scratch_schema
from qa.store.index import MANIFEST

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
DEMO_QUESTIONS = REPO / "benchmarks" / "data" / "wikinews-2020h2-test.json"
SEED_QUESTION = "when will coalition forces withdraw?"
FOLLOW_UP = "why are they leaving?"
# The seed article's sentence the follow-up should be answered from (tests/test_demo.py).
FOLLOW_UP_WORD = "coronavirus"
# Written for this benchmark: a fact no demo article states, and the question only it answers.
NEW_ARTICLE = {
    "id": "replicas-benchmark-nordlys-span",
    "title": "Tromso council approves a glass bridge across the harbour",
    "text": "The city council of Tromso voted on Tuesday to build a pedestrian bridge of "
    "recycled glass across the inner harbour.\n\nThe bridge, to be called the Nordlys Span, "
    "will be 412 metres long and is due to open in June 2027.\n\nIts glass panels will be "
    "made from nine million bottles collected in northern Norway.",
    "published": "2020-12-30",
    "source": "Replicas Benchmark",
}
NEW_QUESTION = "how long will the Nordlys Span bridge be?"
# How long B may take to see A's write, and the pause between its tries.
VISIBILITY_SECONDS = 10.0
RETRY_SECONDS = 0.25
REQUEST_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Reply:
    """One HTTP exchange: the status, the JSON body (None when empty) and its wall time."""

    status: int
    body: Any
    milliseconds: float


def call(url: str, method: str = "GET", body: Any = None, token: str = "") -> Reply:
    """`method` `url` with `body` as JSON and `token` as bearer; an HTTP error status is a
    Reply too (the checks judge it), a connection failure raises OSError."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    milliseconds = round((time.perf_counter() - started) * 1000, 1)
    return Reply(status, json.loads(raw) if raw else None, milliseconds)


def ask(base: str, question: str, conversation_id: str | None = None) -> Reply:
    fields = {"conversation_id": conversation_id} if conversation_id else {}
    return call(f"{base}/api/ask", "POST", {"question": question, **fields})


def top_citation(reply: Reply) -> dict[str, Any]:
    """The first citation of an answer, or {} when the request failed or cited nothing."""
    if reply.status != 200 or not reply.body.get("citations"):
        return {}
    first: dict[str, Any] = reply.body["citations"][0]
    return first


def cites_first(reply: Reply, article_id: str) -> bool:
    """Whether the answer is given (not abstained) from `article_id`'s sentence."""
    return (
        bool(reply.body.get("answerable")) and top_citation(reply).get("article_id") == article_id
    )


def citation_figures(reply: Reply) -> dict[str, Any]:
    """What a check reports of one answer: status, time, short answer, what it cites first."""
    top = top_citation(reply)
    answer = reply.body.get("answer") if reply.status == 200 else reply.body
    return {
        "status": reply.status,
        "ms": reply.milliseconds,
        "answer": answer,
        "article_id": top.get("article_id"),
        "sentence": top.get("sentence", "")[:120],
    }


def require_dsn(dsn: str) -> str:
    """`dsn`, or exit with a message: how to get a PostgreSQL URL when none was given, why
    the database cannot be reached when it cannot."""
    if not dsn:
        sys.exit(
            "no PostgreSQL store: pass --dsn postgresql://USER:PASSWORD@HOST:PORT/DB or set "
            "QA_TEST_POSTGRES_DSN (`export QA_TEST_POSTGRES_DSN=$(bash scripts/postgres)` "
            "starts a local server and prints one)"
        )
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=10):
            pass
    except psycopg.Error as error:
        sys.exit(f"cannot connect to {redact_password(dsn)}: {error}")
    return dsn


@dataclass(frozen=True)
class Inputs:
    """What to ingest besides samples/ (a path `qa ingest` reads), and the load questions."""

    sources: list[Path]
    questions: list[str]


def read_inputs(articles: Path | None, questions: Path | None, work: Path) -> Inputs:
    """samples/ plus `articles`: a SQuAD 2.0 file's paragraphs are written to `work` as JSONL
    (load.py's way) and its questions are the default load questions; any other file or folder
    goes to `qa ingest` as it is. The questions come from `questions` when given."""
    sources = [SAMPLES]
    squad_questions: list[str] = []
    if articles is not None:
        try:
            dataset = load_squad(articles)
        except (SquadFormatError, UnicodeDecodeError, json.JSONDecodeError, IsADirectoryError):
            sources.append(articles)
        else:
            paragraphs = work / "squad-paragraphs.jsonl"
            write_articles_jsonl(dataset.articles, paragraphs)
            sources.append(paragraphs)
            squad_questions = [question.question for question in dataset.questions]
    if questions is not None or not squad_questions:
        squad_questions = [q.question for q in load_squad(questions or DEMO_QUESTIONS).questions]
    return Inputs(sources, squad_questions)


def ingest(sources: list[Path], folder: Path, store_url: str) -> float:
    """`qa ingest` of `sources` into the store at `store_url` (`folder`, emptied first, gets
    the manifest and vectors); returns its seconds."""
    shutil.rmtree(folder, ignore_errors=True)
    started = time.monotonic()
    subprocess.run(
        ["qa", "ingest", *map(str, sources), "--index", str(folder), "--quiet"],
        check=True,
        env=benchmark_environment({"QA_STORE_URL": store_url}),
        stdout=sys.stderr,
    )
    return time.monotonic() - started


def replica_folder(ingested: Path, folder: Path) -> Path:
    """A replica's own index folder: only the manifest (the model check); its FAISS vectors
    are rebuilt from the store when it opens (docs/deployment.md, Replicas)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy2(ingested / MANIFEST, folder / MANIFEST)
    return folder


Check = dict[str, Any]  # "passed" and the figures of one check, as the JSON reports them


def timed(name: str, run: Callable[[], Check]) -> Check:
    """Run one check, add its seconds, print PASS or FAIL with them to stderr. A connection
    failure or a malformed body fails the check instead of ending the benchmark."""
    started = time.monotonic()
    try:
        result = run()
    except (OSError, KeyError, TypeError, ValueError, AttributeError) as error:
        result = {"passed": False, "error": f"{type(error).__name__}: {error}"}
    result["seconds"] = round(time.monotonic() - started, 2)
    verdict = "PASS" if result["passed"] else "FAIL"
    summary = ", ".join(f"{key} {value}" for key, value in result.items() if key != "passed")
    print(f"{verdict} {name}: {summary}", file=sys.stderr)
    return result


def articles_check(first: str, second: str, expected: int) -> Check:
    """Both replicas' /healthz count the articles `qa ingest` put in the store."""
    counts = [call(f"{base}/healthz").body["articles"] for base in (first, second)]
    return {"passed": counts == [expected, expected], "articles_a_b": counts}


def count_articles(store_url: str) -> int:
    """Articles in the store, read directly (what both replicas must report)."""
    import psycopg

    with psycopg.connect(store_url) as connection:
        row = connection.execute("SELECT COUNT(*) FROM articles").fetchone()
    return int(row[0]) if row else 0


def conversation_check(first: str, second: str) -> Check:
    """The seed question on `first`, its follow-up on `second` with that conversation id: the
    follow-up must continue the conversation and answer from the seed article's coronavirus
    sentence. The follow-up asked alone on `second` is reported for contrast."""
    seed = ask(first, SEED_QUESTION)
    conversation_id = seed.body["conversation_id"]
    follow_up = ask(second, FOLLOW_UP, conversation_id)
    alone = ask(second, FOLLOW_UP)
    seed_article = top_citation(seed).get("article_id")
    passed = (
        follow_up.status == 200
        and follow_up.body["conversation_id"] == conversation_id
        and seed_article is not None
        and cites_first(follow_up, seed_article)
        and FOLLOW_UP_WORD in top_citation(follow_up)["sentence"]
    )
    return {
        "passed": passed,
        "seed_on_a": citation_figures(seed),
        "follow_up_on_b": citation_figures(follow_up),
        "follow_up_alone_on_b": citation_figures(alone),
    }


def write_check(writer: str, reader: str, token: str) -> Check:
    """NEW_ARTICLE posted to `writer`, then NEW_QUESTION asked of `reader` at once, and again
    every RETRY_SECONDS until it is answered from the new article or VISIBILITY_SECONDS have
    passed since the 201."""
    added = call(f"{writer}/api/articles", "POST", NEW_ARTICLE, token)
    written = time.monotonic()
    if added.status != 201:
        return {"passed": False, "post_status": added.status, "post_body": added.body}
    tries = 0
    while True:
        tries += 1
        answer = ask(reader, NEW_QUESTION)
        seen = time.monotonic() - written
        if cites_first(answer, NEW_ARTICLE["id"]) or seen > VISIBILITY_SECONDS:
            break
        time.sleep(RETRY_SECONDS)
    return {
        "passed": cites_first(answer, NEW_ARTICLE["id"]),
        "post_on_a_ms": added.milliseconds,
        "sentences": added.body["sentence_count"],
        "seconds_from_201_to_answer_on_b": round(seen, 3),
        "tries": tries,
        "answer_on_b": citation_figures(answer),
    }


def delete_check(writer: str, reader: str, token: str) -> Check:
    """NEW_ARTICLE deleted through `writer`: `reader` must no longer cite it, nor serve it."""
    deleted = call(f"{writer}/api/articles/{NEW_ARTICLE['id']}", "DELETE", token=token)
    answer = ask(reader, NEW_QUESTION)
    cited = [c["article_id"] for c in answer.body.get("citations", [])]
    lookup = call(f"{reader}/api/articles/{NEW_ARTICLE['id']}")
    return {
        "passed": deleted.status == 204
        and answer.status == 200
        and NEW_ARTICLE["id"] not in cited
        and lookup.status == 404,
        "delete_on_b_ms": deleted.milliseconds,
        "answer_on_a": citation_figures(answer),
        "article_on_a_status": lookup.status,
    }


def load_check(replicas: dict[str, str], questions: list[str], clients: int, seconds: int) -> Check:
    """wrk on every replica at once, the clients split between them (at least one each);
    answers/s is each replica's and their sum, latency each replica's own."""
    bodies = [json.dumps({"question": question}) for question in questions]
    shares = [
        clients // len(replicas) + (i < clients % len(replicas)) for i in range(len(replicas))
    ]

    def drive(base: str, share: int) -> dict[str, Any]:
        return run_wrk(base, bodies, max(1, share), seconds)

    with ThreadPoolExecutor(len(replicas)) as pool:
        results = list(pool.map(drive, replicas.values(), shares))
    per_replica = {
        name: {key: result[key] for key in ("clients", "requests", "requests_per_second")}
        | {"p50_ms": result["p50_ms"], "p95_ms": result["p95_ms"], "errors": result["errors"]}
        for name, result in zip(replicas, results, strict=True)
    }
    errors = sum(result["errors"] for result in results)
    total = sum(result["requests"] for result in results)
    return {
        "passed": errors == 0 and all(result["requests"] for result in results),
        "questions": len(questions),
        "requests": total,
        "requests_per_second": round(sum(r["requests_per_second"] for r in results), 1),
        "errors": errors,
        **per_replica,
    }


def start_replicas(
    stack: ExitStack,
    folders: dict[str, Path],
    overrides: dict[str, str],
    workers: int,
    threads: int,
) -> tuple[dict[str, Served], dict[str, float]]:
    """`qa serve` on each folder, one after the other (the first creates the app's tables in
    the store before the second starts), until `stack` closes; with their start seconds."""
    servers: dict[str, Served] = {}
    start_seconds: dict[str, float] = {}
    for name, folder in folders.items():
        started = time.monotonic()
        servers[name] = stack.enter_context(served(folder, workers, threads, overrides))
        start_seconds[name] = round(time.monotonic() - started, 1)
    return servers, start_seconds


def run(arguments: argparse.Namespace, store_url: str, work: Path) -> dict[str, Any]:
    """Ingest, serve the two replicas, run the checks and measure memory."""
    inputs = read_inputs(arguments.articles, arguments.questions, work)
    ingest_seconds = ingest(inputs.sources, work / "ingest", store_url)
    articles = count_articles(store_url)
    folders = {name: replica_folder(work / "ingest", work / f"replica-{name}") for name in "ab"}
    token = secrets.token_urlsafe(24)
    overrides = {"QA_STORE_URL": store_url, "QA_SERVER_API_TOKEN": token}
    with ExitStack() as stack:
        servers, start_seconds = start_replicas(
            stack, folders, overrides, arguments.server_workers, arguments.server_threads
        )
        a, b = servers["a"].base, servers["b"].base
        checks = {
            "articles": timed("articles", lambda: articles_check(a, b, articles)),
            "conversation": timed("conversation", lambda: conversation_check(a, b)),
            "write_visibility": timed("write visibility", lambda: write_check(a, b, token)),
            "delete_visibility": timed("delete visibility", lambda: delete_check(b, a, token)),
            "load": timed(
                "load",
                lambda: load_check(
                    {"a": a, "b": b}, inputs.questions, arguments.clients, arguments.seconds
                ),
            ),
        }
        memory = {name: server_memory(server.pid) for name, server in servers.items()}
    for name, figures in memory.items():
        print(f"memory of replica {name}: {figures}", file=sys.stderr)
    return {
        "store": redact_password(store_url),
        "sources": [str(source) for source in inputs.sources],
        "articles": articles,
        "ingest_seconds": round(ingest_seconds, 1),
        "server_workers": arguments.server_workers,
        "server_threads": arguments.server_threads,
        "start_seconds": start_seconds,
        "checks": checks,
        "memory_after_load": memory,
        "passed": all(check["passed"] for check in checks.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "articles",
        type=Path,
        nargs="?",
        help="a SQuAD 2.0 file or an article file or folder, ingested beside samples/",
    )
    parser.add_argument(
        "--questions",
        type=Path,
        help="SQuAD 2.0 file whose questions wrk asks (default: ARTICLES' if SQuAD, else "
        f"{DEMO_QUESTIONS.relative_to(REPO)})",
    )
    parser.add_argument(
        "--dsn",
        default=os.environ.get("QA_TEST_POSTGRES_DSN", ""),
        help="PostgreSQL URL (default: $QA_TEST_POSTGRES_DSN); a fresh schema is made in it",
    )
    parser.add_argument("--seconds", type=int, default=60, help="wrk's run on both replicas")
    parser.add_argument("--clients", type=int, default=16, help="wrk connections, split in two")
    parser.add_argument(
        "--server-workers",
        type=int,
        default=1,
        help="per replica (two replicas on one machine: 1 each fills 2 cores; 0: one per core)",
    )
    parser.add_argument("--server-threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--work", type=Path, help="keep the index folders and replicas.json here")
    arguments = parser.parse_args()
    dsn = require_dsn(arguments.dsn)
    require_wrk()
    started = time.monotonic()
    keeping = nullcontext(str(arguments.work)) if arguments.work else None
    with keeping or tempfile.TemporaryDirectory(prefix="qa-replicas-") as work_name:
        work = Path(work_name)
        work.mkdir(parents=True, exist_ok=True)
        with scratch_schema(dsn, "qa_replicas_") as store_url:
            results = run(arguments, store_url, work)
        results["seconds"] = round(time.monotonic() - started, 1)
        text = json.dumps(results, indent=2)
        if arguments.work:
            (work / "replicas.json").write_text(text + "\n")
    print(text)
    if not results["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
