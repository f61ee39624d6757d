"""The index folder: a manifest of how it was built, the SQLite store, the FAISS file.

Layout of `DIR/`:
- `manifest.json`: format version, embedding model name and dimension, chunking settings.
- `store.sqlite`: the source of truth (see `qa.store`).
- `chunks.<generation>.faiss`: the vector index as of that store generation. When the store has
  moved on (a crash between commit and save, or another process wrote), the file for the current
  generation is missing and the vectors are rebuilt from the store.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.embed import Embedder
from qa.store import ArticleRecord, SQLiteArticleStore
from qa.vectors import FaissVectorIndex, VectorIndexError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STORE = "store.sqlite"


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
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


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


class Index:
    """An opened index folder: store plus in-memory vectors, kept in step with each other.

    Thread-safe for one writer and many readers in this process; `refresh()` picks up writes
    that another process committed.
    """

    def __init__(self, folder: Path, manifest: Manifest, store: SQLiteArticleStore) -> None:
        self.folder = folder
        self.manifest = manifest
        self.store = store
        self._lock = threading.RLock()
        self._vectors = FaissVectorIndex(manifest.dimension)
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
    ) -> Index:
        """Open (or with `create`, make) the index folder for this embedder.

        Raises FileNotFoundError when the folder holds no index and `create` is false, and
        IndexMismatchError when it was built with another model or dimension.
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
        store = SQLiteArticleStore(folder / STORE, manifest.dimension)
        return cls(folder, manifest, store)

    def close(self) -> None:
        self.store.close()

    def _faiss_path(self, generation: int) -> Path:
        return self.folder / f"chunks.{generation}.faiss"

    def refresh(self) -> None:
        """Bring the in-memory vectors up to the store's generation (load or rebuild)."""
        generation = self.store.generation
        with self._lock:
            if generation == self._generation:
                return
            path = self._faiss_path(generation)
            try:
                self._vectors = FaissVectorIndex.load(path, self.manifest.dimension)
            except VectorIndexError:
                if path.exists():
                    raise  # corrupt, not merely absent: say so rather than hide it
                self._vectors = self._rebuild()
            self._generation = generation

    def _rebuild(self) -> FaissVectorIndex:
        """Vectors from the store: after a crash, or when another process wrote."""
        vectors = FaissVectorIndex(self.manifest.dimension)
        ids, matrix = self.store.chunk_vectors()
        vectors.add(ids.tolist(), matrix)
        return vectors

    def persist(self) -> None:
        """Save the vector file for the current generation and remove older ones."""
        with self._lock:
            self.refresh()
            path = self._faiss_path(self._generation)
            if not path.exists():
                self._vectors.save(path)
            for old in self.folder.glob("chunks.*.faiss"):
                if old != path:
                    old.unlink(missing_ok=True)

    def write(self, records: Sequence[ArticleRecord]) -> None:
        """Commit records to the store, then update the in-memory vectors to match."""
        import numpy as np

        with self._lock:
            expected = self.store.generation
            added, removed = self.store.write(records)
            if expected != self._generation:
                self._generation = -1  # another process wrote meanwhile: rebuild on refresh
                self.refresh()
                return
            self._vectors.remove(removed)
            if added:
                self._vectors.add(added, np.concatenate([r.chunk_vectors for r in records]))
            self._generation = self.store.generation

    def delete(self, article_id: str) -> None:
        """Remove an article from store and vectors at once (raises ArticleNotFoundError)."""
        with self._lock:
            expected = self.store.generation
            removed = self.store.delete(article_id)
            if expected != self._generation:
                self._generation = -1
                self.refresh()
                return
            self._vectors.remove(removed)
            self._generation = self.store.generation

    def verify(self) -> list[str]:
        """Everything inconsistent between and within store and vectors; empty when sound."""
        with self._lock:
            self.refresh()
            problems = self.store.integrity_problems()
            chunk_ids, _ = self.store.chunk_vectors()
            if self._vectors.count() != len(chunk_ids):
                problems.append(
                    f"{self._vectors.count()} vectors for {len(chunk_ids)} chunks; delete "
                    f"{self.folder}/chunks.*.faiss to rebuild them from the store"
                )
        return problems

    def search(self, query_vector: object, k: int) -> list[tuple[int, float]]:
        import numpy as np

        with self._lock:
            return self._vectors.search(np.asarray(query_vector, dtype=np.float32), k)

    def vector_count(self) -> int:
        with self._lock:
            return self._vectors.count()
