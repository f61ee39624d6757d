"""Which runtime is fastest on this CPU: the reader, one question's encoding and passage
encoding, timed under each runtime and thread count.

    python benchmarks/runtimes.py benchmarks/data/wikinews-2020h2-test.json
        [--runtimes onnx openvino-bf16] [--threads 1 2] [--questions 100]

Indexes the file's paragraphs as articles in a temporary folder (the configured embedding
runtime), asks each of the first `--questions` questions with the reader off and keeps its 8
best-ranked sentences: what the reader is handed in `qa ask`. Then, for each runtime and thread
count, in a fresh process of its own (so that one runtime's thread pool never competes with
another's), it times:
- `reader_ms`: the reader on each question's first 4 sentences, the first reading step, in ms
  a question (the best of 3 passes after a warm-up);
- `question_ms_p50`: encoding one question, median;
- `passages_per_second`: encoding the questions' sentences as passages, in one call.
Prints one JSON object a line. `auto` (the default runtime) resolves to one of these per CPU
(qa.models.onnx_runtime.resolve_runtime): this benchmark is how that choice was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import load_settings  # noqa: E402
from qa.evaluation.evaluate import index_dataset  # noqa: E402
from qa.evaluation.squad import load_squad  # noqa: E402
from qa.ingest.sentences import SpacySplitter  # noqa: E402
from qa.models.embedder import SentenceTransformerEmbedder  # noqa: E402
from qa.models.onnx_runtime import RUNTIMES, cpu_has_bfloat16  # noqa: E402
from qa.models.reader import SpanReader  # noqa: E402
from qa.wiring import make_embedder  # noqa: E402

READ_FIRST = 4
CANDIDATES = 8
PASSES = 3


def ranked_sentences(dataset_path: Path, questions: int) -> dict[str, list[str]]:
    """Each question's best-ranked sentences, as the answerer would hand them to the reader."""
    settings = load_settings(env={**os.environ, "QA_ANSWER_READER": "false"})
    dataset = load_squad(dataset_path)
    embedder = make_embedder(settings)
    with tempfile.TemporaryDirectory(prefix="qa-runtimes-") as folder:
        components, _ = index_dataset(dataset, settings, embedder, SpacySplitter(), Path(folder))
        try:
            return {
                q.question: [
                    c.sentence.text
                    for c in components.pipeline.ask_detailed(
                        q.question, CANDIDATES
                    ).answer.citations
                ]
                for q in dataset.questions[:questions]
            }
        finally:
            components.close()


def time_runtime(runtime: str, threads: int, ranked: dict[str, list[str]]) -> dict[str, object]:
    reader = SpanReader(runtime=runtime, threads=threads)
    embedder = SentenceTransformerEmbedder(
        load_settings().embedding.model, runtime=runtime, threads=threads
    )
    questions = list(ranked)
    for question in questions[:10]:  # warm-up: graphs compiled, shapes seen
        reader.read(question, ranked[question][:READ_FIRST])
        embedder.encode_queries([question])
    passes = []
    for _ in range(PASSES):
        started = time.perf_counter()
        for question in questions:
            reader.read(question, ranked[question][:READ_FIRST])
        passes.append((time.perf_counter() - started) / len(questions) * 1000)
    single = []
    for question in questions:
        started = time.perf_counter()
        embedder.encode_queries([question])
        single.append((time.perf_counter() - started) * 1000)
    passages = [sentence for question in questions for sentence in ranked[question]]
    started = time.perf_counter()
    embedder.encode_documents(passages)
    return {
        "runtime": reader.runtime,
        "threads": threads,
        "cpu_bfloat16": cpu_has_bfloat16(),
        "reader_ms": round(min(passes), 1),
        "question_ms_p50": round(statistics.median(single), 2),
        "passages_per_second": round(len(passages) / (time.perf_counter() - started), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument(
        "--runtimes", nargs="+", choices=RUNTIMES, default=["onnx", "openvino-bf16"]
    )
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument(
        "--one", nargs=3, metavar=("RUNTIME", "THREADS", "RANKED"), help=argparse.SUPPRESS
    )
    arguments = parser.parse_args()
    if arguments.one:
        runtime, threads, ranked_file = arguments.one
        ranked = json.loads(Path(ranked_file).read_text())
        print(json.dumps(time_runtime(runtime, int(threads), ranked)))
        return
    with tempfile.TemporaryDirectory(prefix="qa-runtimes-") as folder:
        ranked_file = Path(folder) / "ranked.json"
        ranked_file.write_text(json.dumps(ranked_sentences(arguments.dataset, arguments.questions)))
        for runtime in arguments.runtimes:
            for threads in arguments.threads:
                command = [sys.executable, __file__, str(arguments.dataset)]
                command += ["--one", runtime, str(threads), str(ranked_file)]
                result = subprocess.run(command, check=True, capture_output=True, text=True)
                print(result.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
