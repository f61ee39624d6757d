"""`qa serve` on every core: the app in gunicorn's pre-fork server, one process per worker.

Much of a question's CPU time is Python holding the GIL, so one process serves about one core's
worth however many threads it has; N worker processes serve N cores.

What the workers share, and what each opens for itself:

- **The models** (embedding model, reader, spaCy) are loaded once, by the master, before it
  forks: the workers inherit them copy-on-write instead of loading them again. gunicorn's own
  `preload_app` is not used, as it would build the whole app, database connection included,
  in the master.
- **torch runs one intra-op thread per worker.** torch's OpenMP pool does not survive a fork:
  a worker forked after the master had run any multi-threaded torch operation (loading a model
  to export its graph is one) hung for good in its first multi-threaded operation, whereas with
  one thread it ran normally.
- **ONNX Runtime and OpenVINO sessions** (`embedding.runtime` and `reader_runtime` `onnx` or
  `openvino-bf16`, or `auto`, which the master resolves to one of them from the CPU's flags
  without starting OpenVINO) are made by each worker after the fork, with one
  intra-op thread per core: a session's thread pool is made with it and does not cross a
  fork. The master opens none to keep: it exports a graph not yet cached and checks that ONNX
  Runtime loads it (`prepare`). A master that had compiled both models in OpenVINO and let them
  go died of SIGSEGV on the SIGTERM that stops it. So a single question reads on every core,
  and under load the pools' idle threads sleep rather than spin.
- **The index** (database connection, FAISS vectors, BM25) is opened by each worker after the
  fork, and closed when it exits: a sqlite3 or psycopg connection must never cross a fork.
- **Conversations and rate-limit counters** live in the store (`qa.service.conversations`,
  `qa.service.rate_limits`), so whichever worker takes a request sees the same ones.

SIGTERM stops the master, which stops the workers, letting requests in flight finish for up to
`GRACEFUL_TIMEOUT_SECONDS`; SIGINT (Ctrl-C) stops them at once. Either way each worker closes
its index as it exits, and the master exits with status 0.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from qa.config import Settings
from qa.ingest.sentences import Splitter
from qa.models.embedder import Embedder
from qa.models.onnx_runtime import available_cores
from qa.models.reader import SpanReader
from qa.wiring import Components, open_components

# gunicorn counts a worker's start-up (opening the index, building its keyword index) against
# this timeout, so it must cover a large archive's; gthread workers report alive while busy.
WORKER_TIMEOUT_SECONDS = 300
# Each connection carries one request: a kept-alive connection stays with the worker that
# accepted it, and clients opening theirs at once were often all taken by one worker, which then
# had all the work while the others sat idle. Accepted one request at a time, the work goes to
# whichever worker is free to take it; a new connection costs far less than a question.
KEEPALIVE_SECONDS = 0
# After SIGTERM, requests in flight get this long to finish.
GRACEFUL_TIMEOUT_SECONDS = 30
# See the module docstring: more torch threads hang in a forked worker.
TORCH_THREADS_PER_WORKER = 1


def worker_count(configured: int) -> int:
    """`--workers` / `server.workers`; 0 (the default) means one worker per core."""
    return configured if configured > 0 else available_cores()


@dataclass(frozen=True)
class Models:
    """The heavy, read-only parts every worker uses: loaded once in the master."""

    embedder: Embedder
    reader: SpanReader | None
    splitter: Splitter

    def prepare(self) -> None:
        """Load the weights and export any graph not yet cached, so that the workers need not;
        no session is kept, each worker opens its own after the fork (SpanReader.prepare)."""
        self.embedder.prepare()
        if self.reader is not None:
            self.reader.prepare()
        self.splitter.warm_up()


@dataclass(frozen=True)
class ServeOptions:
    """Where and how wide to serve: the address, worker processes and threads per worker."""

    host: str
    port: int
    workers: int
    threads: int


def check_index(settings: Settings, models: Models, index_dir: Path | None = None) -> int:
    """Open the index and build the app once in the master, then close them again; returns
    the number of articles.

    A missing index or an unusable setting then fails here, with one message, instead of in
    every worker; and the tables the app keeps in the store are created before the workers
    start and would race to create them (PostgreSQL refuses one of two concurrent CREATEs).
    """
    from qa.service.app import create_app

    components = open_components(
        settings, embedder=models.embedder, reader=models.reader, index_dir=index_dir
    )
    try:
        create_app(components, splitter=models.splitter)
        return components.index.store.count()
    finally:
        components.close()


class Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn, configured in code from `qa serve`'s options rather than gunicorn's own
    command line. `on_ready(url)` is called once the master listens (the URL carries the port
    the system gave when `options.port` is 0)."""

    def __init__(
        self,
        settings: Settings,
        models: Models,
        options: ServeOptions,
        index_dir: Path | None = None,
        on_ready: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.models = models
        self.serve_options = options
        self.index_dir = index_dir
        self.on_ready = on_ready
        self.components: Components | None = None  # this worker's, once it has built its app
        super().__init__()

    def load_config(self) -> None:
        config: dict[str, Any] = {
            "bind": f"{self.serve_options.host}:{self.serve_options.port}",
            "workers": self.serve_options.workers,
            "threads": self.serve_options.threads,
            "worker_class": "gthread",
            "keepalive": KEEPALIVE_SECONDS,
            "timeout": WORKER_TIMEOUT_SECONDS,
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            # gunicorn 25's control socket is one path per user: two servers would contend.
            "control_socket_disable": True,
            "when_ready": self._when_ready,
            "pre_fork": self._pre_fork,
            "post_fork": self._post_fork,
            "worker_exit": self._worker_exit,
        }
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """This worker's app on its own index connection (gunicorn calls this in each worker,
        after the fork)."""
        from qa.service.app import create_app

        self.components = open_components(
            self.settings,
            embedder=self.models.embedder,
            reader=self.models.reader,
            index_dir=self.index_dir,
        )
        self.components.pipeline.warm_up()
        return create_app(self.components, splitter=self.models.splitter)

    def _when_ready(self, arbiter: Any) -> None:
        if self.on_ready is not None:
            self.on_ready(str(arbiter.LISTENERS[0]))

    def _pre_fork(self, arbiter: Any, worker: Any) -> None:
        # Out of the garbage collector's sight, the master's objects (the models) are neither
        # written to by a worker's collections, which keeps their pages shared, nor walked when
        # a process exits, which made exiting slow.
        gc.freeze()

    def _post_fork(self, arbiter: Any, worker: Any) -> None:
        import torch

        torch.set_num_threads(TORCH_THREADS_PER_WORKER)

    def _worker_exit(self, arbiter: Any, worker: Any) -> None:
        if self.components is not None:
            self.components.close()
            self.components = None
            arbiter.log.info("Closed the index (pid: %s)", worker.pid)
        if os.getpid() == worker.pid:  # the worker itself, not a caller of this hook
            _leave_without_finalizing()


def _leave_without_finalizing() -> None:
    """End a worker without Python's finalization. Tearing down what the worker inherited from
    the master (the models, native libraries' state) is slow and fragile in a forked process:
    ONNX Runtime sessions made in the master aborted workers (std::system_error, then SIGABRT
    or SIGSEGV), and even with each worker's sessions its own, workers were still running
    after the master had exited. Nothing is left to do by then: the index is closed and the
    last request answered; the logs are flushed here."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
