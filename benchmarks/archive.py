"""Big archive: ingest, index size, serve memory, latency and throughput for each FAISS kind.

    python benchmarks/archive.py ../shared/data/squad1.1-train.json \\
        ../shared/data/wikinews-2019-2020.jsonl [--kinds flat ivf_sq8] [--seconds 60]
        [--requests 200] [--synthetic-chunks 1000000] [--paragraphs N] [--work DIR [--reuse]]

The SQuAD paragraphs (as articles titled by their Wikipedia article) and the further files are
ingested for each kind (`vectors.faiss_kind`) as `qa ingest` does, then their sentences encoded
by one plain `encode_documents` (ingest_speed.py). `qa serve` then serves the folder,
is warmed up by 10 s of wrk (not counted) and measured: memory (RSS of master and workers, and
PSS, which counts the pages they share after the fork once), single-client `POST /api/ask`
latency over HTTP, wrk's answers/s and errors over --seconds, memory again. An IVF kind stays
exact below `vectors.ivf_min_train_vectors` chunks; `faiss_index` says what each folder holds.
Last, faiss_kinds.py's memory and recall@10 at --synthetic-chunks: the first kind's chunk
vectors grown with perturbed copies. Prints one JSON object; exits 1 if wrk saw an error.
`--work DIR` keeps the folders (DIR/<kind>, figures in DIR/<kind>.ingest.json); `--reuse`
serves a kept folder of the same inputs again instead of re-ingesting (10-15 min each).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from api_latency import ask_once  # noqa: E402
from faiss_kinds import NOISE, exact_neighbours, grow, measure  # noqa: E402
from ingest_speed import ingest_beside_plain_encode  # noqa: E402
from load import require_wrk, run_wrk  # noqa: E402
from serving import served, server_memory  # noqa: E402

from qa.config import Settings, load_settings  # noqa: E402
from qa.evaluation.metrics import percentile  # noqa: E402
from qa.evaluation.squad import load_squad  # noqa: E402
from qa.ingest.ingester import read_files  # noqa: E402
from qa.models.embedder import Embedder  # noqa: E402
from qa.store.index import STORE  # noqa: E402
from qa.types import Article  # noqa: E402
from qa.wiring import make_embedder, open_components  # noqa: E402

WARM_UP_SECONDS = 10
WRK_QUESTIONS = 2000  # request bodies wrk cycles through: a sample keeps its Lua script small
SYNTHETIC_QUERIES = 1000

Item = TypeVar("Item")


def spread(items: Sequence[Item], count: int) -> list[Item]:
    """Up to `count` items evenly spaced over `items` (SQuAD questions come by article)."""
    return list(items[:: max(1, len(items) // count)][:count])


def ingest_figures(
    settings: Settings,
    embedder: Embedder,
    articles: list[Article],
    folder: Path,
    inputs: dict[str, Any],
    reuse: bool,
) -> dict[str, Any]:
    """Ingest `articles` into a new `folder` (an old one is deleted) and return the figures;
    with `reuse`, the figures saved beside a folder built from the same `inputs` instead."""
    saved = folder.with_name(folder.name + ".ingest.json")
    if reuse and saved.exists() and (folder / "manifest.json").exists():
        kept = json.loads(saved.read_text())
        if kept["inputs"] == inputs:
            print(f"reusing {folder} and its ingest figures", file=sys.stderr)
            return {**kept["figures"], "reused": True}
        print(f"{folder} was built from other inputs: ingesting again", file=sys.stderr)
    shutil.rmtree(folder, ignore_errors=True)
    timed = ingest_beside_plain_encode(settings, embedder, articles, folder)
    report = timed.report
    ingest_rate = report.sentences / timed.ingest_seconds
    plain_rate = len(timed.texts) / timed.plain_seconds
    figures = {
        "articles": len(report.added),
        "skipped": len(report.skipped),
        "sentences": report.sentences,
        "chunks": report.chunks,
        "ingest_seconds": round(timed.ingest_seconds, 1),
        "ingest_sentences_per_second": round(ingest_rate, 1),
        "plain_encode_sentences_per_second": round(plain_rate, 1),
        "ingest_to_plain_ratio": round(ingest_rate / plain_rate, 3),
    }
    saved.write_text(json.dumps({"inputs": inputs, "figures": figures}, indent=2) + "\n")
    return {**figures, "reused": False}


def index_figures(folder: Path, settings: Settings) -> dict[str, Any]:
    """Bytes on disk (FAISS files, the SQLite store, the rest) and the FAISS index it holds."""
    import faiss

    files = [path for path in folder.rglob("*") if path.is_file()]
    faiss_bytes = sum(path.stat().st_size for path in files if path.suffix == ".faiss")
    store_bytes = sum(path.stat().st_size for path in files if path.name.startswith(STORE))
    [vector_file] = folder.glob("chunks.*.faiss")
    index: Any = faiss.read_index(str(vector_file))
    inner: Any = faiss.downcast_index(index.index) if hasattr(index, "id_map") else index
    exact = isinstance(inner, faiss.IndexFlat)
    if exact and settings.vectors.faiss_kind.startswith("ivf"):
        print(
            f"{folder.name}: {index.ntotal} chunks, under vectors.ivf_min_train_vectors "
            f"({settings.vectors.ivf_min_train_vectors}): the index stayed exact",
            file=sys.stderr,
        )
    return {
        "index_bytes": sum(path.stat().st_size for path in files),
        "index_faiss_bytes": faiss_bytes,
        "index_store_bytes": store_bytes,
        "faiss_index": type(inner).__name__ + (f" ({inner.nlist} lists)" if not exact else ""),
        "faiss_exact": exact,
    }


def serving_figures(
    folder: Path, overrides: dict[str, str], questions: list[str], arguments: argparse.Namespace
) -> dict[str, Any]:
    """`qa serve` on `folder` with these settings `overrides`: memory after warm-up, single-
    client latency (ms), wrk's load figures (load.py's `run_wrk`), memory after the load."""
    bodies = [json.dumps({"question": question}) for question in spread(questions, WRK_QUESTIONS)]
    workers, threads = arguments.server_workers, arguments.server_threads
    with served(folder, workers, threads, overrides) as (base, pid):
        run_wrk(base, bodies, arguments.clients, WARM_UP_SECONDS)
        warm = server_memory(pid)
        latencies = [
            ask_once(f"{base}/api/ask", question)
            for question in spread(questions, arguments.requests)
        ]
        load = run_wrk(base, bodies, arguments.clients, arguments.seconds)
        loaded = server_memory(pid)
    return {
        "server_memory_after_warm_up": warm,
        "ask_single_client_ms": {
            "requests": len(latencies),
            "p50": round(percentile(latencies, 0.5), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "max": round(max(latencies), 1),
        },
        "load": load,
        "server_memory_after_load": loaded,
    }


def synthetic_figures(
    settings: Settings,
    embedder: Embedder,
    folder: Path,
    questions: list[str],
    arguments: argparse.Namespace,
) -> dict[str, Any]:
    """faiss_kinds.py's `measure` of each kind (`file_mb`, its vector file, is about its memory;
    `recall_at_10` against exact search) over the folder's chunk vectors grown with perturbed
    copies to --synthetic-chunks rows."""
    components = open_components(settings, embedder=embedder, index_dir=folder)
    try:
        _, real = components.index.store.chunk_vectors()
    finally:
        components.close()
    queries = np.asarray(
        embedder.encode_queries(spread(questions, SYNTHETIC_QUERIES)), dtype=np.float32
    )
    vectors = grow(np.asarray(real, dtype=np.float32), arguments.synthetic_chunks, NOISE)
    print(f"synthetic: exact neighbours of {len(queries)} queries", file=sys.stderr)
    exact = exact_neighbours(vectors, queries)
    figures: dict[str, Any] = {
        "chunks": len(vectors),
        "real_chunks": len(real),
        "noise": NOISE,
        "queries": len(queries),
    }
    for kind in arguments.kinds:
        print(f"synthetic: {kind} at {len(vectors)} chunks", file=sys.stderr)
        measured = measure(kind, vectors, queries, exact)
        figures[kind] = {name: round(value, 4) for name, value in measured.items()}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", type=Path, help="a SQuAD 1.1 or 2.0 file")
    parser.add_argument("paths", type=Path, nargs="*", help="further article files or folders")
    parser.add_argument("--kinds", nargs="+", default=["flat", "ivf_sq8"])
    parser.add_argument("--paragraphs", type=int, default=0, help="the first N only (0 = all)")
    parser.add_argument("--seconds", type=int, default=60, help="wrk's measured run")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200, help="single-client questions")
    parser.add_argument("--server-workers", type=int, default=0, help="0: one per core")
    parser.add_argument("--server-threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--synthetic-chunks", type=int, default=1_000_000, help="0: skip")
    parser.add_argument("--work", type=Path, help="keep the index folders in DIR/<kind>")
    parser.add_argument("--reuse", action="store_true", help="serve kept folders again")
    arguments = parser.parse_args()
    if arguments.reuse and arguments.work is None:
        parser.error("--reuse needs --work DIR")
    require_wrk()

    settings = load_settings()
    dataset = load_squad(arguments.squad)
    paragraphs = dataset.articles[: arguments.paragraphs or None]
    kept = {article.id for article in paragraphs}
    questions = [q.question for q in dataset.questions if q.article_id in kept]
    others, read = read_files(arguments.paths, settings.ingest.max_file_bytes, True)
    if read.skipped:
        sys.exit("unreadable input:\n" + "\n".join(read.skipped))
    articles = paragraphs + others
    inputs = {
        "files": [str(path.resolve()) for path in [arguments.squad, *arguments.paths]],
        "paragraphs": arguments.paragraphs,
    }
    embedder = make_embedder(settings)
    results: dict[str, Any] = {
        **inputs,
        "articles": len(articles),
        "questions": len(questions),
    }
    # Each kind's settings, read as `qa serve` reads the environment override it is given.
    overrides = {kind: {"QA_VECTORS_FAISS_KIND": kind} for kind in arguments.kinds}
    settings_of = {kind: load_settings(env={**os.environ, **overrides[kind]}) for kind in overrides}
    keeping = nullcontext(arguments.work) if arguments.work else None
    with keeping or tempfile.TemporaryDirectory(prefix="qa-archive-") as work_name:
        work = Path(work_name)
        work.mkdir(parents=True, exist_ok=True)
        for kind, kind_settings in settings_of.items():
            folder = work / kind
            figures = ingest_figures(
                kind_settings, embedder, articles, folder, inputs, arguments.reuse
            )
            figures |= index_figures(folder, kind_settings)
            figures |= serving_figures(folder, overrides[kind], questions, arguments)
            results[kind] = figures
        if arguments.synthetic_chunks:
            first = arguments.kinds[0]
            results["synthetic"] = synthetic_figures(
                settings_of[first], embedder, work / first, questions, arguments
            )
    print(json.dumps(results, indent=2))
    if any(results[kind]["load"]["errors"] for kind in arguments.kinds):
        sys.exit(1)


if __name__ == "__main__":
    main()
