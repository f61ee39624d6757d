from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.config import ConfigError, Settings
from qa.models.embedder import (
    HashEmbedder,
    SentenceTransformerEmbedder,
    Vectors,
    mean_of_rows,
    resolve_model_path,
)
from qa.models.embedder_onnx import export_embedder_onnx, onnx_cache_path
from qa.models.onnx_runtime import OnnxGraphError
from qa.wiring import make_embedder


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


# The ONNX query encoder against torch (qa/models/embedder_onnx.py). Float32 ONNX runs torch's
# arithmetic in another order, so only rounding separates them (measured: cosine >= 0.9999998,
# largest difference 1.8e-7). Int8 weights and per-batch int8 activations move a question's vector
# further (measured: cosine 0.992-0.995 for these questions), so the bound is looser and the check
# that matters is that it still finds the same passage.
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
FLOAT32_MIN_COSINE = 0.9999
FLOAT32_MAX_DIFF = 1e-5
INT8_MIN_COSINE = 0.98
# bfloat16 matrix products (OpenVINO) keep 8 bits of each product's inputs: measured, cosine
# 0.99996 or more for 1,113 news sentences, 0.99998 for these questions and passages.
BFLOAT16_MIN_COSINE = 0.9995


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedder-onnx")


@pytest.fixture(scope="module")
def onnx_embedders(settings: Settings, onnx_cache: Path) -> dict[str, SentenceTransformerEmbedder]:
    """The embedding model with questions encoded under each ONNX runtime, each exported into
    a fresh cache (which is also the missing-cache case)."""
    embedders = {
        runtime: SentenceTransformerEmbedder(
            settings.embedding.model, runtime=runtime, cache_dir=onnx_cache
        )
        for runtime in ("onnx", "onnx-int8", "openvino-bf16")
    }
    for embedder in embedders.values():
        embedder.warm_up()
    return embedders


def _cosines(left: Vectors, right: Vectors) -> Vectors:
    return np.asarray((left * right).sum(axis=1), dtype=np.float32)


def test_float32_onnx_query_vectors_are_torchs_to_rounding(
    embedder: SentenceTransformerEmbedder, onnx_embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    want = embedder.encode_queries(QUESTIONS)
    have = onnx_embedders["onnx"].encode_queries(QUESTIONS)
    assert have.dtype == np.float32 and have.shape == want.shape == (len(QUESTIONS), 384)
    assert _cosines(have, want).min() >= FLOAT32_MIN_COSINE
    assert np.abs(have - want).max() < FLOAT32_MAX_DIFF
    # One at a time, as the pipeline asks (other padding, other batch shape).
    alone = np.stack([onnx_embedders["onnx"].encode_queries([q])[0] for q in QUESTIONS])
    assert np.abs(alone - want).max() < FLOAT32_MAX_DIFF
    # Cut at the model's 256 tokens, as sentence-transformers cuts it.
    too_long = [" ".join(["coalition forces will withdraw within three years"] * 60)]
    assert (
        np.abs(
            onnx_embedders["onnx"].encode_queries(too_long) - embedder.encode_queries(too_long)
        ).max()
        < FLOAT32_MAX_DIFF
    )


def test_int8_onnx_query_vectors_stay_close_and_find_the_same_passage(
    embedder: SentenceTransformerEmbedder, onnx_embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    passages = embedder.encode_documents(PASSAGES)
    want = embedder.encode_queries(QUESTIONS)
    have = onnx_embedders["onnx-int8"].encode_queries(QUESTIONS)
    assert np.allclose(np.linalg.norm(have, axis=1), 1.0, atol=1e-5)
    assert _cosines(have, want).min() >= INT8_MIN_COSINE
    assert list((want @ passages.T).argmax(axis=1)) == list(range(len(QUESTIONS)))
    assert list((have @ passages.T).argmax(axis=1)) == list(range(len(QUESTIONS)))


def test_bfloat16_openvino_vectors_stay_close_and_find_the_same_passage(
    embedder: SentenceTransformerEmbedder, onnx_embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    bfloat16 = onnx_embedders["openvino-bf16"]
    passages = [*PASSAGES, "Short.", " ".join(PASSAGES)]
    want_passages = embedder.encode_documents(passages)
    want_questions = embedder.encode_queries(QUESTIONS)
    have_passages = bfloat16.encode_documents(passages)
    have_questions = bfloat16.encode_queries(QUESTIONS)
    alone = np.stack([bfloat16.encode_queries([q])[0] for q in QUESTIONS])
    for have, want in ((have_passages, want_passages), (have_questions, want_questions)):
        assert have.dtype == np.float32 and have.shape == want.shape
        assert np.allclose(np.linalg.norm(have, axis=1), 1.0, atol=1e-5)
        # Row by row: batches are sorted by length, and must come back in the order given.
        assert _cosines(have, want).min() >= BFLOAT16_MIN_COSINE
    assert _cosines(alone, want_questions).min() >= BFLOAT16_MIN_COSINE
    assert list((have_questions @ have_passages[:5].T).argmax(axis=1)) == list(range(5))
    assert bfloat16.dimension == 384
    assert bfloat16.encode_documents([]).shape == (0, 384)
    # As a server's master and then a worker use it: prepared (graph checked, dimension
    # noted, no session kept), then opened on the first question.
    fresh = SentenceTransformerEmbedder(
        bfloat16.name, runtime="openvino-bf16", cache_dir=bfloat16.cache_dir
    )
    fresh.prepare()
    assert fresh.dimension == 384
    assert np.array_equal(fresh.encode_queries(QUESTIONS), have_questions)


def test_passages_are_float32_vectors_whichever_runtime_encodes_them(
    embedder: SentenceTransformerEmbedder, onnx_embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    # So an index holds the same vectors whichever runtime made or queries it: "onnx" encodes
    # passages with its float32 graph, in batches sorted by length (the rows must come back
    # in the order given), "onnx-int8" with torch.
    passages = [*PASSAGES, "Short.", " ".join(PASSAGES)]
    want = embedder.encode_documents(passages)
    onnx = onnx_embedders["onnx"]
    configured = onnx.batch_size
    try:
        for batch_size in (1, 2, len(passages)):
            onnx.batch_size = batch_size
            have = onnx.encode_documents(passages, progress=batch_size == 2)
            assert have.dtype == np.float32 and have.shape == want.shape
            assert np.abs(have - want).max() < FLOAT32_MAX_DIFF
    finally:
        onnx.batch_size = configured  # the fixture is shared by the module's other tests
    int8 = onnx_embedders["onnx-int8"]
    assert np.array_equal(
        int8.encode_documents(passages[:2]), embedder.encode_documents(passages[:2])
    )
    assert onnx.encode_documents([]).shape == (0, 384)
    assert onnx_embedders["onnx-int8"].encode_queries([]).shape == (0, 384)
    assert onnx.dimension == embedder.dimension


def test_onnx_exports_are_cached_once_per_runtime(
    settings: Settings, onnx_embedders: dict[str, SentenceTransformerEmbedder], onnx_cache: Path
) -> None:
    model_path = resolve_model_path(settings.embedding.model)
    assert sorted(entry.name for entry in onnx_cache.iterdir()) == sorted(
        [
            onnx_cache_path(model_path, onnx_cache, quantized=False).name,
            onnx_cache_path(model_path, onnx_cache, quantized=True).name,
        ]
    ), "one float32 graph (onnx and openvino-bf16 share it), one int8, no temporary left"


def test_a_corrupt_cached_graph_is_exported_again(
    settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    path = onnx_cache_path(resolve_model_path(settings.embedding.model), tmp_path, False)
    path.write_bytes(b"half a graph")
    model = settings.embedding.model
    fresh = SentenceTransformerEmbedder(model, runtime="onnx", cache_dir=tmp_path)
    have = fresh.encode_queries(QUESTIONS[:1])
    assert path.stat().st_size > 1_000_000
    assert np.abs(have - embedder.encode_queries(QUESTIONS[:1])).max() < FLOAT32_MAX_DIFF


def test_an_unknown_embedding_runtime_is_a_config_error(settings: Settings) -> None:
    with pytest.raises(ValueError, match="onnx-int8"):
        SentenceTransformerEmbedder(settings.embedding.model, runtime="tensorrt")
    bad = replace(settings, embedding=replace(settings.embedding, runtime="tensorrt"))
    with pytest.raises(ConfigError, match="embedding.runtime"):
        make_embedder(bad)


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
        export_embedder_onnx(model, tmp_path / "graph.onnx", quantize=False)
    assert not (tmp_path / "graph.onnx").exists()
