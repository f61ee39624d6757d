"""Vector index over chunk embeddings: the `VectorIndex` protocol and its FAISS implementation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from qa.embed import Vectors


class VectorIndexError(RuntimeError):
    """A vector index file cannot be read; the message names it and says how to rebuild."""


class VectorIndex(Protocol):
    def add(self, ids: Sequence[int], vectors: Vectors) -> None: ...

    def remove(self, ids: Sequence[int]) -> None: ...

    def search(self, query: Vectors, k: int) -> list[tuple[int, float]]:
        """The k nearest ids to one query vector, best first, with inner-product scores."""
        ...

    def count(self) -> int: ...

    def save(self, path: Path) -> None: ...


class FaissVectorIndex:
    """Exact inner-product search (vectors are unit length, so scores are cosines)."""

    def __init__(self, dimension: int, index: Any = None) -> None:
        import faiss

        self.dimension = dimension
        self._index: Any = (
            index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        )

    @classmethod
    def load(cls, path: Path, dimension: int) -> FaissVectorIndex:
        import faiss

        try:
            index = faiss.read_index(str(path))
        except RuntimeError as error:
            raise VectorIndexError(
                f"{path}: unreadable vector index ({str(error).splitlines()[0]}); delete this file "
                "and it is rebuilt from the store on next open"
            ) from error
        if index.d != dimension:
            raise VectorIndexError(f"{path}: vectors of dimension {index.d}, expected {dimension}")
        return cls(dimension, index)

    def add(self, ids: Sequence[int], vectors: Vectors) -> None:
        if len(ids) == 0:
            return
        id_array: npt.NDArray[np.int64] = np.asarray(ids, dtype=np.int64)
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), id_array)

    def remove(self, ids: Sequence[int]) -> None:
        if len(ids) == 0:
            return
        self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: Vectors, k: int) -> list[tuple[int, float]]:
        if self._index.ntotal == 0 or k <= 0:
            return []
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1)), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def count(self) -> int:
        return int(self._index.ntotal)

    def save(self, path: Path) -> None:
        """Write to a temporary file, flush it to disk, then rename over `path` (atomic)."""
        import faiss

        temporary = path.with_name(path.name + ".tmp")
        faiss.write_index(self._index, str(temporary))
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
