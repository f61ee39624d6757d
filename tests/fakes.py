"""Fakes for tests: stand-ins for the heavy parts, so a test builds an index in milliseconds."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from qa.models.embedder import Vectors


class HashEmbedder:
    """A deterministic stand-in for the embedder: a bag of hashed word vectors, normalised.

    Texts sharing words get similar vectors, so retrieval tests behave sensibly without a model.
    """

    def __init__(self, dimension: int = 64, name: str = "hash-embedder") -> None:
        self.name = name
        self.dimension = dimension
        self.runtime = "hashed words"

    def _encode(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                digest = hashlib.sha256(word.strip(".,!?\"'").encode()).digest()
                vectors[row, int.from_bytes(digest[:4], "little") % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)

    def warm_up(self) -> None:
        """Nothing to load."""

    def prepare(self) -> None:
        """Nothing to load."""

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> Vectors:
        return self._encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts)
