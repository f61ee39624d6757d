"""Reciprocal rank fusion, the BM25 index's rebuild on a new generation, hybrid retrieval."""

from __future__ import annotations

import numpy as np
import pytest

from qa.lexical import BM25Index, content_words
from qa.retrieve import BM25Retriever, HybridRetriever, reciprocal_rank_fusion


class FakeStore:
    def __init__(self, passages: list[tuple[int, str]]) -> None:
        self.passages = passages
        self.reads = 0

    def chunk_passages(self) -> list[tuple[int, str]]:
        self.reads += 1
        return list(self.passages)


class FakeIndex:
    """Generation + store, as `qa.index.Index` offers them, and a fixed dense ranking."""

    def __init__(self, passages: list[tuple[int, str]], dense: list[int]) -> None:
        self.generation = 1
        self.store = FakeStore(passages)
        self.dense = dense

    def search(self, query_vector: object, k: int) -> list[tuple[int, float]]:
        return [(chunk_id, 1.0 - 0.1 * rank) for rank, chunk_id in enumerate(self.dense[:k])]


PASSAGES = [
    (1, "Coalition\nThe coalition forces will withdraw from Iraq within three years."),
    (2, "Weather\nRain is expected in Baghdad tomorrow."),
    (3, "Oil\nOil prices rose as OPEC cut production."),
]


def test_rrf_hand_checked() -> None:
    # a: 1/(60+1) + 1/(60+3); b: 1/(60+2) + 1/(60+1); c: 1/(60+3); d: 1/(60+2).
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "a"]], rrf_k=60))  # type: ignore[list-item]
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    ranking = [item for item, _ in reciprocal_rank_fusion([[1, 2, 3], [2, 4, 1]], rrf_k=60)]
    assert ranking == [2, 1, 4, 3]


def test_rrf_weights_and_empty() -> None:
    assert reciprocal_rank_fusion([], rrf_k=60) == []
    fused = reciprocal_rank_fusion([[1], [2]], rrf_k=0, weights=[1.0, 3.0])
    assert fused == [(2, 3.0), (1, 1.0)]


def test_bm25_finds_rare_words_and_rebuilds_on_new_generation() -> None:
    index = FakeIndex(PASSAGES, dense=[])
    lexical = BM25Index(index)
    assert [
        chunk_id for chunk_id, _ in lexical.search("When will coalition forces withdraw?", 5)
    ] == [1]
    lexical.search("OPEC", 5)
    assert index.store.reads == 1  # same generation: no rebuild
    index.store.passages.append((4, "OPEC\nOPEC met in Vienna."))
    index.generation = 2
    assert {chunk_id for chunk_id, _ in lexical.search("OPEC Vienna", 5)} == {3, 4}
    assert index.store.reads == 2
    assert lexical.search("the of and", 5) == []  # stopwords only: nothing to match


def test_idf_is_higher_for_rarer_words() -> None:
    lexical = BM25Index(FakeIndex(PASSAGES, dense=[]))
    coalition, rain, unknown = content_words("coalition rain unknownword")
    weights = lexical.idf([coalition, rain, unknown])
    assert weights[unknown] > weights[coalition] == pytest.approx(weights[rain])


def test_hybrid_fuses_dense_and_bm25() -> None:
    index = FakeIndex(PASSAGES, dense=[2, 3, 1])
    lexical = BM25Index(index)
    query = np.zeros(4, dtype=np.float32)
    only_bm25 = BM25Retriever(lexical).retrieve("coalition withdraw", query, 3)
    assert [r.chunk_id for r in only_bm25] == [1]
    hybrid = HybridRetriever(index, lexical, rrf_k=60, depth=3).retrieve(
        "coalition withdraw", query, 2
    )
    # chunk 1: 1/(60+3) + 1/(60+1) beats chunk 2's 1/(60+1) alone.
    assert [r.chunk_id for r in hybrid] == [1, 2]
    assert hybrid[0].score == pytest.approx(1 / 63 + 1 / 61)
