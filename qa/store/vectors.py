"""Vector indexes over chunk embeddings: the `VectorIndex` protocol, FAISS and Milvus.

Both persist the store generation they reflect, so `qa.store.index.Index` can tell whether the saved
state is current (load it) or must be reconciled with the store (add what is missing, remove
what is gone).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.config import ConfigError
from qa.extras import install_hint
from qa.models.embedder import Vectors
from qa.store.files import replaced_atomically

FAISS_KINDS = ("flat", "hnsw", "ivf_flat", "ivf_sq8", "ivf_pq")


class VectorIndexError(RuntimeError):
    """A vector index cannot be read or reached; the message names it and says how to rebuild."""


class VectorIndex(Protocol):
    """Chunk id → unit vector, searched by inner product (= cosine)."""

    save_after_each_write: bool
    """True when saving is cheap and shared by other processes (a server), false for a local
    file that is saved at the end of an ingest."""

    def add(self, ids: Sequence[int], vectors: Vectors) -> None: ...

    def remove(self, ids: Sequence[int]) -> None: ...

    def search(
        self, query: Vectors, k: int, chunk_ids: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest ids to one query vector, best first; only `chunk_ids` if given."""
        ...

    def count(self) -> int: ...

    def ids(self) -> set[int]: ...

    def load(self, generation: int) -> bool:
        """Replace the in-memory state with the saved one if it reflects `generation`; False
        (state unchanged) when nothing was saved for that generation."""
        ...

    def save(self, generation: int) -> None:
        """Persist the current state as reflecting `generation`."""
        ...


def _faiss() -> Any:
    """The faiss module, untyped: its SWIG stubs miss keyword arguments and casts we rely on."""
    import faiss

    return faiss


# Every vector file FaissVectorIndex saves (`_path`), whatever its kind and generation.
SAVED_FAISS_FILES = "chunks.*.faiss"


def _id_array(ids: Collection[int]) -> np.ndarray:
    return np.fromiter((int(i) for i in ids), dtype=np.int64, count=len(ids))


class FaissVectorIndex:
    """FAISS in memory, saved to `folder/chunks.<kind>.<generation>.faiss` (atomic rename).

    `kind`: "flat" (exact), "hnsw" (graph; deletes rebuild it), or "ivf_flat" / "ivf_sq8" /
    "ivf_pq" (inverted lists, trained when the index is built from empty with at least
    `min_train_vectors` vectors; below that it stays exact, which is also faster there).
    """

    save_after_each_write = False

    def __init__(
        self,
        folder: Path,
        dimension: int,
        kind: str = "flat",
        hnsw_neighbors: int = 32,
        hnsw_search_depth: int = 64,
        ivf_probes: int = 16,
        min_train_vectors: int = 10_000,
    ) -> None:
        if kind not in FAISS_KINDS:
            raise ConfigError(
                f"vectors.faiss_kind must be one of {', '.join(FAISS_KINDS)}, not {kind!r}"
            )
        self.folder = folder
        self.dimension = dimension
        self.kind = kind
        self.hnsw_neighbors = hnsw_neighbors
        self.hnsw_search_depth = hnsw_search_depth
        self.ivf_probes = ivf_probes
        self.min_train_vectors = min_train_vectors
        self._index: Any = self._new_flat()

    def _new_flat(self) -> Any:
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))

    def _new_index(self, training: Vectors) -> Any:
        """An empty index of the configured kind, trained on `training` where it needs it."""
        faiss = _faiss()
        if self.kind == "hnsw":
            index = faiss.IndexIDMap2(
                faiss.IndexHNSWFlat(self.dimension, self.hnsw_neighbors, faiss.METRIC_INNER_PRODUCT)
            )
            faiss.downcast_index(index.index).hnsw.efSearch = self.hnsw_search_depth
            return index
        if self.kind.startswith("ivf") and len(training) >= self.min_train_vectors:
            lists = max(1, int(4 * math.sqrt(len(training))))
            # 8-bit PQ codebooks want ~39 training points per centroid (256 of them); with
            # fewer, 4-bit codebooks train in a fraction of the time and fit as well.
            bits = 8 if len(training) >= 39 * 256 else 4
            product = f"PQ{self.dimension // 8}x{bits}"
            encoding = {"ivf_flat": "Flat", "ivf_sq8": "SQ8", "ivf_pq": product}
            index = faiss.index_factory(
                self.dimension, f"IVF{lists},{encoding[self.kind]}", faiss.METRIC_INNER_PRODUCT
            )
            index.train(np.ascontiguousarray(training))
            return index
        return self._new_flat()

    def _path(self, generation: int) -> Path:
        return self.folder / f"chunks.{self.kind}.{generation}.faiss"

    def _is_ivf(self) -> bool:
        return not hasattr(self._index, "id_map")

    def _is_flat(self) -> bool:
        """True while the index is still the exact one every kind starts as."""
        faiss = _faiss()
        return not self._is_ivf() and isinstance(
            faiss.downcast_index(self._index.index), faiss.IndexFlat
        )

    def _contents(self) -> tuple[list[int], Vectors]:
        """Ids and vectors held by a flat or HNSW index (IVF kinds do not keep them whole)."""
        faiss = _faiss()
        ids = [int(i) for i in faiss.vector_to_array(self._index.id_map)]
        inner = faiss.downcast_index(self._index.index)
        vectors = inner.reconstruct_n(0, inner.ntotal) if ids else np.zeros((0, self.dimension))
        return ids, np.asarray(vectors, dtype=np.float32)

    def add(self, ids: Sequence[int], vectors: Vectors) -> None:
        """Add vectors; the first add builds an HNSW graph, and an IVF kind is trained (on
        everything held so far) once `min_train_vectors` are reached, until then staying exact."""
        if len(ids) == 0:
            return
        all_ids = [int(i) for i in ids]
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.kind != "flat" and self._is_flat():
            if self.kind == "hnsw" or self.count() + len(all_ids) >= self.min_train_vectors:
                held_ids, held = self._contents()
                all_ids = held_ids + all_ids
                matrix = np.ascontiguousarray(np.vstack([held, matrix]))
                self._index = self._new_index(matrix)
        self._index.add_with_ids(matrix, _id_array(all_ids))

    def remove(self, ids: Sequence[int]) -> None:
        if len(ids) == 0:
            return
        if self.kind == "hnsw" and not self._is_flat():
            # HNSW graphs cannot drop nodes: rebuild from the vectors that stay.
            gone = {int(i) for i in ids}
            held_ids, held = self._contents()
            keep = [n for n, i in enumerate(held_ids) if i not in gone]
            self._index = self._new_flat()
            self.add([held_ids[n] for n in keep], held[keep])
            return
        self._index.remove_ids(_id_array(list(ids)))

    def search(
        self, query: Vectors, k: int, chunk_ids: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        faiss = _faiss()
        if self._index.ntotal == 0 or k <= 0:
            return []
        parameters = None
        if chunk_ids is not None:
            selector = faiss.IDSelectorBatch(_id_array(chunk_ids))
            parameters = (
                faiss.SearchParametersIVF(sel=selector, nprobe=self.ivf_probes)
                if self._is_ivf()
                else faiss.SearchParameters(sel=selector)
            )
        elif self._is_ivf():
            parameters = faiss.SearchParametersIVF(nprobe=self.ivf_probes)
        scores, found = self._index.search(
            np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=parameters
        )
        return [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if i != -1]

    def count(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> set[int]:
        faiss = _faiss()
        if not self._is_ivf():
            return {int(i) for i in faiss.vector_to_array(self._index.id_map)}
        lists = faiss.extract_index_ivf(self._index).invlists
        found: set[int] = set()
        for number in range(lists.nlist):
            size = lists.list_size(number)
            if size:
                found.update(int(i) for i in faiss.rev_swig_ptr(lists.get_ids(number), size))
        return found

    def load(self, generation: int) -> bool:
        faiss = _faiss()
        path = self._path(generation)
        if not path.exists():
            return False
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as error:
            if not path.exists():
                return False  # replaced by a newer generation while we looked
            raise VectorIndexError(
                f"{path}: unreadable vector index ({str(error).splitlines()[0]}); delete this "
                "file and it is rebuilt from the store on next open"
            ) from error
        if index.d != self.dimension:
            raise VectorIndexError(
                f"{path}: vectors of dimension {index.d}, expected {self.dimension}; delete this "
                "file and it is rebuilt from the store on next open"
            )
        self._index = index
        return True

    def save(self, generation: int) -> None:
        """Write a temporary file, flush it, rename it over the target; drop older files."""
        faiss = _faiss()
        path = self._path(generation)
        if not path.exists():
            with replaced_atomically(path) as temporary:
                faiss.write_index(self._index, str(temporary))
        for old in self.folder.glob(SAVED_FAISS_FILES):
            if old != path:
                old.unlink(missing_ok=True)


class MilvusVectorIndex:
    """A Milvus collection (a cluster URI, or a Milvus Lite file) shared by every replica.

    The generation it reflects is kept in the collection itself, in a marker row with id -1
    that searches and counts leave out.
    """

    save_after_each_write = True
    _MARKER_ID = -1

    def __init__(self, uri: str, collection: str, dimension: int, token: str = "") -> None:
        try:
            from pymilvus import DataType, MilvusClient
            from pymilvus.exceptions import MilvusException

            if uri.endswith(".db"):  # a Milvus Lite file, which pymilvus opens with milvus_lite
                import milvus_lite  # noqa: F401
        except ImportError as error:
            raise VectorIndexError(
                f"Milvus vector indexes need {install_hint('milvus')}"
            ) from error

        self.collection = collection
        self.dimension = dimension
        self.name = f"{uri} collection {collection}"
        try:
            self._client = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
            if not self._client.has_collection(collection):
                schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
                schema.add_field("id", DataType.INT64, is_primary=True)
                schema.add_field("generation", DataType.INT64)
                schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
                index_params = self._client.prepare_index_params()
                index_params.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
                self._client.create_collection(collection, schema=schema, index_params=index_params)
            else:
                described = self._client.describe_collection(collection)
                dims = [
                    f.get("params", {}).get("dim")
                    for f in described.get("fields", [])
                    if f.get("name") == "vector"
                ]
                if dims and int(dims[0]) != dimension:
                    raise VectorIndexError(
                        f"{self.name}: vectors of dimension {dims[0]}, expected {dimension}; "
                        "use another collection name (vectors.milvus_collection)"
                    )
        except MilvusException as error:
            raise VectorIndexError(f"cannot open Milvus {self.name}: {error}") from error

    def add(self, ids: Sequence[int], vectors: Vectors) -> None:
        rows = [
            {"id": int(i), "generation": 0, "vector": v.tolist()}
            for i, v in zip(ids, np.asarray(vectors, dtype=np.float32), strict=True)
        ]
        for start in range(0, len(rows), 1000):
            self._client.upsert(self.collection, rows[start : start + 1000])

    def remove(self, ids: Sequence[int]) -> None:
        if len(ids):
            self._client.delete(self.collection, ids=[int(i) for i in ids])

    def search(
        self, query: Vectors, k: int, chunk_ids: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        if k <= 0 or (chunk_ids is not None and not chunk_ids):
            return []
        condition = "id >= 0"
        if chunk_ids is not None:
            condition += f" and id in [{', '.join(str(int(i)) for i in chunk_ids)}]"
        results = self._client.search(
            self.collection,
            data=[np.asarray(query, dtype=np.float32).reshape(-1).tolist()],
            limit=k,
            filter=condition,
        )
        return [(int(hit["id"]), float(hit["distance"])) for hit in results[0]]

    def count(self) -> int:
        rows = self._client.query(self.collection, filter="id >= 0", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def ids(self) -> set[int]:
        found: set[int] = set()
        iterator = self._client.query_iterator(
            self.collection, batch_size=5000, filter="id >= 0", output_fields=["id"]
        )
        while batch := iterator.next():
            found.update(int(row["id"]) for row in batch)
        iterator.close()
        return found

    def load(self, generation: int) -> bool:
        rows = self._client.get(
            self.collection, ids=[self._MARKER_ID], output_fields=["generation"]
        )
        return bool(rows) and int(rows[0]["generation"]) == generation

    def save(self, generation: int) -> None:
        marker = {"id": self._MARKER_ID, "generation": generation, "vector": [0.0] * self.dimension}
        self._client.upsert(self.collection, [marker])

    def close(self) -> None:
        self._client.close()
