"""Every FAISS kind and Milvus Lite behind one protocol: add, remove, search (with an id
filter), ids, and saved state tied to a store generation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from qa.store.vectors import (
    FAISS_KINDS,
    FaissVectorIndex,
    MilvusVectorIndex,
    VectorIndex,
    VectorIndexError,
)

DIMENSION = 16


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make(kind: str, folder: Path) -> VectorIndex:
    if kind == "milvus":
        return MilvusVectorIndex(str(folder / "milvus.db"), "test_chunks", DIMENSION)
    return FaissVectorIndex(folder, DIMENSION, kind, min_train_vectors=300)


@pytest.mark.parametrize("missing", ["pymilvus", "milvus_lite"])
def test_milvus_without_its_packages_names_the_extra(
    missing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # importing it raises ImportError
    with pytest.raises(VectorIndexError) as raised:
        MilvusVectorIndex(str(tmp_path / "milvus.db"), "test_chunks", DIMENSION)
    assert (
        str(raised.value) == "Milvus vector indexes need the milvus extra: pip install 'qa[milvus]'"
    )


@pytest.mark.parametrize("kind", [*FAISS_KINDS, "milvus"])
def test_add_search_remove_and_filter(kind: str, tmp_path: Path) -> None:
    index = make(kind, tmp_path)
    vectors = unit_vectors(400)
    # Two adds: IVF kinds start exact and train once the second add passes 300 vectors.
    index.add(list(range(100)), vectors[:100])
    index.add(list(range(100, 400)), vectors[100:])
    assert index.count() == 400 and index.ids() == set(range(400))
    [(best, score)] = index.search(vectors[7], 1)
    assert best == 7
    if kind != "ivf_pq":  # product quantization scores are coarse by design
        assert score == pytest.approx(1.0, abs=0.05)
    within = index.search(vectors[7], 5, chunk_ids=[3, 200, 399])
    assert {i for i, _ in within} <= {3, 200, 399} and within
    index.remove([7, 8])
    assert index.count() == 398 and 7 not in index.ids()
    assert all(i not in (7, 8) for i, _ in index.search(vectors[7], 10))


@pytest.mark.parametrize("kind", [*FAISS_KINDS, "milvus"])
def test_saved_state_belongs_to_one_generation(kind: str, tmp_path: Path) -> None:
    index = make(kind, tmp_path)
    vectors = unit_vectors(350, seed=1)
    index.add(list(range(350)), vectors)
    index.save(4)
    reopened = make(kind, tmp_path)
    assert not reopened.load(3)
    assert reopened.load(4)
    assert reopened.ids() == set(range(350))
    assert reopened.search(vectors[11], 1)[0][0] == 11


def test_ivf_trains_once_enough_vectors_arrive(tmp_path: Path) -> None:
    index = FaissVectorIndex(tmp_path, DIMENSION, "ivf_sq8", min_train_vectors=300)
    index.add(list(range(200)), unit_vectors(200))
    assert index.kind == "ivf_sq8" and "IVF" not in type(index._index).__name__
    index.add(list(range(200, 300)), unit_vectors(100, seed=2))
    assert "IVF" in type(index._index).__name__ and index.count() == 300
