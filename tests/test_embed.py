from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import needs_bfloat16
from fakes import HashEmbedder
from qa.config import ConfigError, Settings
from qa.models.embedder import (
    SentenceTransformerEmbedder,
    Vectors,
    load_sentence_transformer,
    mean_of_rows,
    resolve_model_path,
)
from qa.models.embedder_onnx import export_embedder_onnx, onnx_cache_path
from qa.models.onnx_runtime import OnnxGraphError


def test_mean_of_rows_is_the_unit_length_mean_of_each_range() -> None:
    vectors = HashEmbedder().encode_documents(
        ["the dam opened", "it cost billions", "power is on", "ships sailed again"]
    )
    pooled = mean_of_rows(vectors, [(0, 3), (2, 4), (3, 4)])
    for row, (start, end) in zip(pooled, [(0, 3), (2, 4), (3, 4)], strict=True):
        mean = vectors[start:end].mean(axis=0)
        assert np.allclose(row, mean / np.linalg.norm(mean), atol=1e-6)
    assert pooled.dtype == np.float32
    assert np.allclose(pooled[2], vectors[3])  # a one-sentence chunk is its sentence


@pytest.mark.parametrize("bad", [(1, 1), (2, 5), (-1, 2)])
def test_mean_of_rows_refuses_empty_or_outside_ranges(bad: tuple[int, int]) -> None:
    vectors = HashEmbedder().encode_documents(["a b", "c d", "e f", "g h"])
    with pytest.raises(ValueError, match="row ranges"):
        mean_of_rows(vectors, [(0, 2), bad])


# The exported graph against sentence-transformers in torch, which it is exported from.
# Float32 ONNX runs torch's arithmetic in another order, so only rounding separates them.
QUESTIONS = [
    "when will coalition forces withdraw?",
    "who is the JOC spokesman?",
    "how many U.S. troops lead the coalition?",
    "what did the dam cost?",
    "which team won the final?",
]
PASSAGES = [
    "The U.S.-led coalition forces will rapidly withdraw from Iraq within three years.",
    "Tahseen al-Khafaji, the JOC spokesman, told the official Iraqi News Agency.",
    "A few thousand U.S. troops are leading international coalition forces in Iraq.",
    "The new dam on the river cost 4.2 billion dollars and took nine years to build.",
    "The home side won the cup final 2-1 after extra time on Sunday.",
]
# With a short one and one longer than the model's 256 tokens, which is cut as
# sentence-transformers cuts it; batches are sorted by length and must come back in order.
MIXED_PASSAGES = [*PASSAGES, "Short.", " ".join(PASSAGES * 6)]
FLOAT32_MIN_COSINE = 0.9999
FLOAT32_MAX_DIFF = 1e-5
# bfloat16 matrix products (OpenVINO) keep 8 bits of each product's inputs.
BFLOAT16_MIN_COSINE = 0.9995


@pytest.fixture(scope="module")
def reference(settings: Settings) -> Any:
    """The embedding model in torch, as sentence-transformers runs it."""
    return load_sentence_transformer(settings.embedding.model)


def _queries(model: Any, texts: list[str]) -> Vectors:
    return np.asarray(model.encode_query(texts, normalize_embeddings=True), dtype=np.float32)


def _passages(model: Any, texts: list[str]) -> Vectors:
    return np.asarray(model.encode_document(texts, normalize_embeddings=True), dtype=np.float32)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedder-onnx")


@pytest.fixture(scope="module")
def onnx_embedders(settings: Settings, onnx_cache: Path) -> dict[str, SentenceTransformerEmbedder]:
    """The embedding model under each runtime, exported into a fresh cache (which is also the
    missing-cache case)."""
    embedders = {
        runtime: SentenceTransformerEmbedder(
            settings.embedding.model, runtime=runtime, cache_dir=onnx_cache
        )
        for runtime in ("onnx", "openvino-bf16")
    }
    for embedder in embedders.values():
        embedder.warm_up()
    return embedders


def _cosines(left: Vectors, right: Vectors) -> Vectors:
    return np.asarray((left * right).sum(axis=1), dtype=np.float32)


def test_float32_onnx_query_vectors_are_sentence_transformers_to_rounding(
    reference: Any, onnx_embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    onnx = onnx_embedders["onnx"]
    want = _queries(reference, QUESTIONS)
    have = onnx.encode_queries(QUESTIONS)
    assert have.dtype == np.float32 and have.shape == want.shape == (len(QUESTIONS), 384)
    assert _cosines(have, want).min() >= FLOAT32_MIN_COSINE
    assert np.abs(have - want).max() < FLOAT32_MAX_DIFF
    # One at a time, as the pipeline asks (other padding, other batch shape).
    alone = np.stack([onnx.encode_queries([q])[0] for q in QUESTIONS])
    assert np.abs(alone - want).max() < FLOAT32_MAX_DIFF
    too_long = MIXED_PASSAGES[-1:]
    assert np.abs(onnx.encode_queries(too_long) - _queries(reference, too_long)).max() < (
        FLOAT32_MAX_DIFF
    )


def test_float32_onnx_passages_are_sentence_transformers_in_any_batch(
    reference: Any, onnx_embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    # So an index holds the same vectors whichever runtime made or queries it.
    want = _passages(reference, MIXED_PASSAGES)
    onnx = onnx_embedders["onnx"]
    configured = onnx.batch_size
    try:
        for batch_size in (1, 2, len(MIXED_PASSAGES)):
            onnx.batch_size = batch_size
            have = onnx.encode_documents(MIXED_PASSAGES, progress=batch_size == 2)
            assert have.dtype == np.float32 and have.shape == want.shape
            assert np.abs(have - want).max() < FLOAT32_MAX_DIFF
    finally:
        onnx.batch_size = configured  # the fixture is shared by the module's other tests
    assert onnx.encode_documents([]).shape == (0, 384)
    assert onnx.encode_queries([]).shape == (0, 384)
    assert onnx.dimension == reference.get_embedding_dimension()


def test_the_openvino_runtime_encodes_through_the_same_graph(
    reference: Any, onnx_embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    """In bfloat16 where the CPU has it, float32 elsewhere: close to float32's vectors either
    way, rows in the order given."""
    openvino = onnx_embedders["openvino-bf16"]
    want_passages = _passages(reference, MIXED_PASSAGES)
    want_questions = _queries(reference, QUESTIONS)
    have_passages = openvino.encode_documents(MIXED_PASSAGES)
    have_questions = openvino.encode_queries(QUESTIONS)
    alone = np.stack([openvino.encode_queries([q])[0] for q in QUESTIONS])
    for have, want in ((have_passages, want_passages), (have_questions, want_questions)):
        assert have.dtype == np.float32 and have.shape == want.shape
        assert np.allclose(np.linalg.norm(have, axis=1), 1.0, atol=1e-5)
        assert _cosines(have, want).min() >= BFLOAT16_MIN_COSINE
    assert _cosines(alone, want_questions).min() >= BFLOAT16_MIN_COSINE
    assert list((have_questions @ have_passages[:5].T).argmax(axis=1)) == list(range(5))
    assert openvino.dimension == 384
    assert openvino.encode_documents([]).shape == (0, 384)
    # As a server's master and then a worker use it: prepared (graph checked, dimension
    # noted, no session kept), then opened on the first question.
    fresh = SentenceTransformerEmbedder(
        openvino.name, runtime="openvino-bf16", cache_dir=openvino.cache_dir
    )
    fresh.prepare()
    assert fresh.dimension == 384
    assert np.array_equal(fresh.encode_queries(QUESTIONS), have_questions)


@needs_bfloat16
def test_bfloat16_openvino_vectors_stay_close_and_find_the_same_passage(
    onnx_embedders: dict[str, SentenceTransformerEmbedder],
) -> None:
    float32, bfloat16 = onnx_embedders["onnx"], onnx_embedders["openvino-bf16"]
    want = float32.encode_documents(MIXED_PASSAGES)
    have = bfloat16.encode_documents(MIXED_PASSAGES)
    assert np.abs(have - want).max() > FLOAT32_MAX_DIFF, "bfloat16, not float32, arithmetic"
    assert _cosines(have, want).min() >= BFLOAT16_MIN_COSINE
    questions = bfloat16.encode_queries(QUESTIONS)
    assert _cosines(questions, float32.encode_queries(QUESTIONS)).min() >= BFLOAT16_MIN_COSINE
    assert list((questions @ have[:5].T).argmax(axis=1)) == list(range(5))


def test_one_export_serves_both_runtimes(
    settings: Settings, onnx_embedders: dict[str, SentenceTransformerEmbedder], onnx_cache: Path
) -> None:
    model_path = resolve_model_path(settings.embedding.model)
    assert [entry.name for entry in onnx_cache.iterdir()] == [
        onnx_cache_path(model_path, onnx_cache).name
    ], "one float32 graph (onnx and openvino-bf16 share it), no temporary left"


def test_a_corrupt_cached_graph_is_exported_again(
    settings: Settings, reference: Any, tmp_path: Path
) -> None:
    path = onnx_cache_path(resolve_model_path(settings.embedding.model), tmp_path)
    path.write_bytes(b"half a graph")
    model = settings.embedding.model
    fresh = SentenceTransformerEmbedder(model, runtime="onnx", cache_dir=tmp_path)
    have = fresh.encode_queries(QUESTIONS[:1])
    assert path.stat().st_size > 1_000_000
    assert np.abs(have - _queries(reference, QUESTIONS[:1])).max() < FLOAT32_MAX_DIFF


@pytest.mark.parametrize("retired", ["torch", "onnx-int8"])
def test_a_runtime_other_than_the_graphs_is_refused_naming_those(
    settings: Settings, retired: str
) -> None:
    accepted = "must be one of auto, onnx, openvino-bf16"
    with pytest.raises(ValueError, match=accepted):
        SentenceTransformerEmbedder(settings.embedding.model, runtime=retired)
    with pytest.raises(ConfigError, match=f"embedding.runtime {accepted}, not '{retired}'"):
        replace(settings, embedding=replace(settings.embedding, runtime=retired))


class Transformer:
    pass


class Pooling:
    def __init__(self, mode: str) -> None:
        self.pooling_mode = mode


class FakeModel(list[object]):
    """What the export looks at: the module kinds, the pooling mode, the default prompt."""

    default_prompt_name: str | None = None


@pytest.mark.parametrize(
    ("modules", "prompt", "refusal"),
    [
        ([Transformer(), Pooling("cls")], None, "mean Pooling"),
        ([Transformer()], None, "mean Pooling"),
        ([Transformer(), Pooling("mean")], "query", "'query' prompt"),
    ],
)
def test_the_onnx_export_refuses_a_model_whose_vectors_it_would_not_reproduce(
    tmp_path: Path, modules: list[object], prompt: str | None, refusal: str
) -> None:
    model = FakeModel(modules)
    model.default_prompt_name = prompt
    with pytest.raises(OnnxGraphError, match=refusal):
        export_embedder_onnx(model, tmp_path / "graph.onnx")
    assert not (tmp_path / "graph.onnx").exists()
