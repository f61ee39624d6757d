"""The index: an article store and a vector index kept in step, plus the folder's manifest.

Layout of `DIR/` with the embedded defaults:
- `manifest.json`: format version, embedding model name and dimension, chunking settings.
- `store.sqlite`: the source of truth (see `qa.store.articles`); or a PostgreSQL database
  (`store.url`).
- `store-identity`: the identity of the store the saved vectors came from (`ArticleStore.identity`).
- `chunks.<kind>.<generation>.faiss`: the vectors as of that store generation; or a Milvus
  collection (`vectors.backend`). When the store has moved on (a crash between commit and save,
  or another process or replica wrote), the vectors are reconciled with the store: what is
  missing is added from the vectors the store keeps, what is gone is removed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa.models.embedder import Embedder, Vectors
from qa.store.articles import ArticleStore, StoreError
from qa.store.database import (
    Database,
    DatabaseError,
    DatabaseUnavailableError,
    SQLiteDatabase,
)
from qa.store.files import replaced_atomically
from qa.store.rows import ArticleRecord
from qa.store.vectors import SAVED_FAISS_FILES, FaissVectorIndex, VectorIndex
from qa.types import ArticleFilter

# 2: a chunk's vector is the normalised mean of its sentences' vectors (1: the chunk text with
# its headline, encoded again). Folders of another format are refused, never mixed.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
STORE = "store.sqlite"
STORE_IDENTITY = "store-identity"

logger = logging.getLogger(__name__)


class IndexMismatchError(RuntimeError):
    """The folder was built differently (model, dimension, format) from what this run uses."""


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dimension: int
    sentences_per_chunk: int
    overlap: int


def _write_atomically(path: Path, text: str) -> None:
    with replaced_atomically(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def read_manifest(folder: Path) -> Manifest | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        return Manifest(**json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError) as error:
        raise IndexMismatchError(
            f"{path}: unreadable manifest ({error}); move {folder} aside and re-run `qa ingest`"
        ) from error


def _forget_another_stores_vectors(folder: Path, identity: str) -> None:
    """Delete the FAISS files saved in `folder` when they came from another store than the one
    whose `identity` is given, so they are rebuilt from this one; then record it.

    Saved vectors are named by store generation only, and another store can reach the same
    number (a PostgreSQL database recreated or restored under a replica's folder, another
    store.sqlite copied in): loaded, they would answer with that store's vectors under this
    store's chunk ids. A folder from before the identity was recorded keeps its files.
    """
    marker = folder / STORE_IDENTITY
    recorded = marker.read_text(encoding="utf-8").strip() if marker.is_file() else None
    if recorded == identity:
        return
    if recorded is not None:
        stale = sorted(folder.glob(SAVED_FAISS_FILES))
        for saved in stale:
            saved.unlink(missing_ok=True)
        logger.warning(
            "%s served another store before (identity %s, now %s): rebuilding its vectors "
            "from this store instead of loading %d saved file(s)",
            folder,
            recorded,
            identity,
            len(stale),
        )
    _write_atomically(marker, identity + "\n")


class Index:
    """An opened index: store plus vectors, kept in step with each other.

    Thread-safe for one writer and many readers in this process; `refresh()` picks up writes
    that another process (or replica sharing the store) committed.
    """

    # A filtered search over at most this many chunks scores them exactly from the store's
    # vectors; above it the vector index searches with an id filter.
    EXACT_FILTER_LIMIT = 20_000

    def __init__(
        self, folder: Path, manifest: Manifest, store: ArticleStore, vectors: VectorIndex
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.store = store
        self.vectors = vectors
        self._lock = threading.RLock()
        self._generation = -1
        self.refresh()

    @classmethod
    def open(
        cls,
        folder: Path,
        embedder: Embedder,
        sentences_per_chunk: int,
        overlap: int,
        create: bool = False,
        open_database: Callable[[], Database] | None = None,
        open_vectors: Callable[[int], VectorIndex] | None = None,
    ) -> Index:
        """Open (or with `create`, make) the index folder for this embedder.

        `open_database` and `open_vectors(dimension)` build the backends (default: SQLite and
        FAISS files in the folder); they are called only once the folder is known to be right.
        Raises FileNotFoundError when the folder holds no index and `create` is false,
        IndexMismatchError when it was built with another model or dimension, and
        `qa.store.articles.StoreError` when the store is unreadable or holds another model's
        vectors.
        """
        manifest = read_manifest(folder)
        wanted = Manifest(
            FORMAT_VERSION, embedder.name, embedder.dimension, sentences_per_chunk, overlap
        )
        if manifest is None:
            if not create:
                raise FileNotFoundError(
                    f"no index in {folder}: run `qa ingest PATH... --index {folder}` first"
                )
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(folder / MANIFEST, json.dumps(asdict(wanted), indent=2) + "\n")
            manifest = wanted
        elif manifest.format_version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"{folder} has index format {manifest.format_version}, "
                f"this qa uses {FORMAT_VERSION}; re-ingest your articles into a new --index folder"
            )
        elif (manifest.model, manifest.dimension) != (embedder.name, embedder.dimension):
            raise IndexMismatchError(
                f"{folder} was built with embedding model '{manifest.model}' "
                f"(dimension {manifest.dimension}), but this run uses '{embedder.name}' "
                f"(dimension {embedder.dimension}). Set embedding.model back to "
                f"'{manifest.model}', or rebuild: ingest your articles into a new --index folder."
            )
        try:
            database = open_database() if open_database else SQLiteDatabase(folder / STORE)
        except DatabaseUnavailableError:
            raise  # the store may be fine: the server is down, or its client not installed
        except DatabaseError as error:
            raise StoreError.unreadable(error) from error
        store = ArticleStore(database, manifest.dimension, manifest.model)
        try:
            _forget_another_stores_vectors(folder, store.identity)
            if open_vectors is None:
                vectors: VectorIndex = FaissVectorIndex(folder, manifest.dimension)
            else:
                vectors = open_vectors(manifest.dimension)
            return cls(folder, manifest, store, vectors)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        self.store.close()
        close_vectors = getattr(self.vectors, "close", None)
        if close_vectors is not None:
            close_vectors()

    @property
    def generation(self) -> int:
        """The store generation the vectors reflect (-1 before the first refresh)."""
        return self._generation

    def refresh(self) -> None:
        """Bring the vectors up to the store's generation: load the saved state for it, or
        reconcile with the store."""
        with self._lock:
            generation = self.store.generation
            if generation == self._generation:
                return
            if not self.vectors.load(generation):
                self._reconcile()
                if self.vectors.save_after_each_write:
                    self.vectors.save(generation)
            self._generation = generation

    def _reconcile(self) -> None:
        """Add the store's chunks the vectors lack, remove the ones the store no longer has."""
        wanted = set(self.store.chunk_ids())
        present = self.vectors.ids()
        self.vectors.remove(sorted(present - wanted))
        missing = sorted(wanted - present)
        if missing:
            ids, matrix = self.store.chunk_vectors(missing)
            self.vectors.add(ids.tolist(), matrix)

    def persist(self) -> None:
        """Save the vectors for the current generation (and drop older saved states)."""
        with self._lock:
            self.refresh()
            self.vectors.save(self._generation)

    def _follow(
        self,
        expected: int,
        removed: Sequence[int],
        added: Sequence[int] = (),
        matrix: Vectors | None = None,
    ) -> None:
        """Apply one committed write of ours to the vectors (`matrix` holds the `added` ones),
        or reconcile if others wrote too."""
        generation = self.store.generation
        if expected != self._generation or generation != expected + 1:
            self.refresh()
            return
        self.vectors.remove(removed)
        if matrix is not None:
            self.vectors.add(added, matrix)
        if self.vectors.save_after_each_write:
            self.vectors.save(generation)
        self._generation = generation

    def write(self, records: Sequence[ArticleRecord]) -> None:
        """Commit records to the store, then update the vectors to match."""
        with self._lock:
            expected = self.store.generation
            added, removed = self.store.write(records)
            matrix = np.concatenate([r.chunk_vectors for r in records]) if added else None
            self._follow(expected, removed, added, matrix)

    def delete(self, article_id: str) -> None:
        """Remove an article from store and vectors at once (raises ArticleNotFoundError)."""
        with self._lock:
            expected = self.store.generation
            removed = self.store.delete(article_id)
            self._follow(expected, removed)

    def verify(self) -> list[str]:
        """Everything inconsistent between and within store and vectors; empty when sound."""
        with self._lock:
            self.refresh()
            problems = self.store.integrity_problems()
            chunk_ids = set(self.store.chunk_ids())
            vector_ids = self.vectors.ids()
            if vector_ids != chunk_ids:
                problems.append(
                    f"{len(vector_ids)} vectors for {len(chunk_ids)} chunks "
                    f"({len(chunk_ids - vector_ids)} missing, {len(vector_ids - chunk_ids)} "
                    f"extra); delete {self.folder}/chunks.*.faiss (or the Milvus collection) to "
                    "rebuild the vectors from the store"
                )
        return problems

    def search(
        self, query_vector: Vectors, k: int, where: ArticleFilter | None = None
    ) -> list[tuple[int, float]]:
        """The k chunks nearest the query, best first, among those of articles matching
        `where` (all when None)."""
        query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        if where is None:
            with self._lock:
                return self.vectors.search(query, k)
        chunk_ids = self.store.chunk_ids(where)
        if not chunk_ids:
            return []
        if len(chunk_ids) > self.EXACT_FILTER_LIMIT:
            with self._lock:
                return self.vectors.search(query, k, chunk_ids=chunk_ids)
        ids, matrix = self.store.chunk_vectors(chunk_ids)
        scores = matrix @ query
        best = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[i]), float(scores[i])) for i in best]

    def vector_count(self) -> int:
        with self._lock:
            return self.vectors.count()
