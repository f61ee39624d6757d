"""Which FAISS index kind to use at which size: memory, build time, search latency, recall@10.

Vectors are real: the embeddings (config's model) of every sentence, every paragraph and every
question of a SQuAD 2.0 file (the largest real text in ../shared/data); the questions are the
queries. Real text gives only a few thousand vectors, so larger sizes are made by adding
normalised Gaussian-perturbed copies of the real vectors (noise --noise), and the table says so.
Recall@10 is measured against exact search (`flat`) on the same vectors.

    python benchmarks/faiss_kinds.py ../shared/data/squad2-dev-a.json --sizes 0 50000 200000
(size 0 means the real vectors alone)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.config import load_settings
from qa.evaluation.metrics import percentile
from qa.evaluation.squad import load_squad
from qa.store.vectors import FAISS_KINDS, FaissVectorIndex
from qa.wiring import make_embedder

# Standard deviation of the Gaussian noise added to each coordinate of a grown copy of a real
# vector, which is then normalised again (`grow`).
NOISE = 0.04


def real_vectors(dataset_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(corpus vectors, query vectors) embedded with the configured model."""
    from qa.ingest.sentences import SpacySplitter

    dataset = load_squad(dataset_path)
    embedder = make_embedder(load_settings())
    splitter = SpacySplitter()
    paragraphs = [a.text for a in dataset.articles]
    sentences = [
        text[s.start : s.end]
        for text, spans in zip(paragraphs, splitter.split(paragraphs), strict=True)
        for s in spans
    ]
    corpus = embedder.encode_documents(paragraphs + sentences, progress=True)
    queries = embedder.encode_queries([q.question for q in dataset.questions])
    return np.asarray(corpus, dtype=np.float32), np.asarray(queries, dtype=np.float32)


def grow(corpus: np.ndarray, size: int, noise: float, seed: int = 0) -> np.ndarray:
    """The real vectors plus perturbed copies of them up to `size` rows (unit length)."""
    if size <= len(corpus):
        return corpus
    generator = np.random.default_rng(seed)
    picks = generator.integers(0, len(corpus), size - len(corpus))
    extra = corpus[picks] + generator.normal(0, noise, (len(picks), corpus.shape[1]))
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.vstack([corpus, extra.astype(np.float32)])


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> list[set[int]]:
    """Each query's k best rows of `vectors` by inner product (the truth recall is measured
    against); queries are scored a few at a time, so a million rows need no queries x rows
    matrix in memory."""
    found: list[set[int]] = []
    for first in range(0, len(queries), 64):
        scores = queries[first : first + 64] @ vectors.T
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        found.extend(set(row.tolist()) for row in best)
    return found


def measure(
    kind: str, vectors: np.ndarray, queries: np.ndarray, exact: list[set[int]]
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        index = FaissVectorIndex(Path(folder), vectors.shape[1], kind, min_train_vectors=1000)
        started = time.perf_counter()
        index.add(list(range(len(vectors))), vectors)
        build = time.perf_counter() - started
        index.save(0)
        size_mb = sum(f.stat().st_size for f in Path(folder).glob("*.faiss")) / 1e6
        latencies, recalls = [], []
        for query, truth in zip(queries, exact, strict=True):
            started = time.perf_counter()
            found = index.search(query, 10)
            latencies.append((time.perf_counter() - started) * 1000)
            recalls.append(len({i for i, _ in found} & truth) / 10)
    return {
        "build_s": build,
        "file_mb": size_mb,
        "p50_ms": percentile(latencies, 0.5),
        "p95_ms": percentile(latencies, 0.95),
        "recall_at_10": statistics.fmean(recalls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 50_000, 200_000])
    parser.add_argument("--noise", type=float, default=NOISE)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--kinds", nargs="+", default=list(FAISS_KINDS))
    arguments = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    corpus, queries = real_vectors(arguments.dataset)
    queries = queries[: arguments.queries]
    print(f"real vectors: {len(corpus)}, queries: {len(queries)}")
    print("| vectors | kind | build s | file MB | search p50 ms | p95 ms | recall@10 |")
    print("|---|---|---|---|---|---|---|")
    for size in arguments.sizes:
        vectors = grow(corpus, size, arguments.noise)
        exact = exact_neighbours(vectors, queries)
        label = f"{len(vectors)}" + ("" if size <= len(corpus) else " (grown)")
        for kind in arguments.kinds:
            m = measure(kind, vectors, queries, exact)
            print(
                f"| {label} | {kind} | {m['build_s']:.2f} | {m['file_mb']:.1f} | "
                f"{m['p50_ms']:.2f} | {m['p95_ms']:.2f} | {m['recall_at_10']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
