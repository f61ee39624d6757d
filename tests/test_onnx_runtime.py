"""The export, cache and session machinery the reader and the query encoder share, on a tiny
module (no model to load)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from qa.models.onnx_runtime import (
    BFLOAT16_FLAGS,
    RUNTIMES,
    OnnxGraphError,
    OnnxSession,
    cache_path,
    check_runtime,
    cpu_flags,
    export_graph,
    load_or_export,
    resolve_runtime,
)


class _Tiny(torch.nn.Module):
    """Takes what a tokenizer returns, like the real graphs: a masked mean of token vectors."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = torch.nn.Embedding(16, 4)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).float()
        return (self.embedding(input_ids + token_type_ids) * mask).sum(dim=1) / mask.sum(dim=1)


INPUTS = {
    "input_ids": np.array([[1, 5, 2], [1, 2, 0]], dtype=np.int64),
    "attention_mask": np.array([[1, 1, 1], [1, 1, 0]], dtype=np.int64),
    "token_type_ids": np.zeros((2, 3), dtype=np.int64),
}


def _export(path: Path) -> Path:
    example = tuple(torch.from_numpy(INPUTS[name]) for name in INPUTS)
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS} | {"out": {0: "batch"}}
    return export_graph(_Tiny(), example, path, ["out"], axes, {"note": "tiny"})


def _want() -> np.ndarray:
    with torch.no_grad():
        return _Tiny()(*(torch.from_numpy(INPUTS[name]) for name in INPUTS)).numpy()


def test_a_missing_graph_is_exported_with_its_metadata(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "tiny.onnx"
    session = load_or_export(path, _export, OnnxSession)
    assert [entry.name for entry in path.parent.iterdir()] == ["tiny.onnx"], "no temporary left"
    assert session.metadata == {"note": "tiny"}
    [have] = session.run({**INPUTS, "offset_mapping": np.zeros(1)}, ["out"])
    assert np.allclose(have, _want(), atol=1e-6)


def test_a_corrupt_cached_graph_is_exported_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tiny.onnx"
    path.write_bytes(b"\x08\x07half a graph")
    exports: list[Path] = []
    with caplog.at_level(logging.WARNING, logger="qa.models.onnx_runtime"):
        session = load_or_export(path, lambda target: exports.append(_export(target)), OnnxSession)
    assert exports == [path] and "unreadable" in caplog.text
    assert np.allclose(session.run(INPUTS, ["out"])[0], _want(), atol=1e-6)
    load_or_export(path, lambda target: exports.append(_export(target)), OnnxSession)
    assert exports == [path], "a good cached graph is not exported again"


def test_an_export_that_cannot_be_loaded_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OnnxGraphError, match="the export itself fails"):
        load_or_export(
            tmp_path / "bad.onnx", lambda target: target.write_bytes(b"garbage"), OnnxSession
        )


def test_the_session_names_a_missing_input(tmp_path: Path) -> None:
    session = OnnxSession(_export(tmp_path / "tiny.onnx"))
    with pytest.raises(KeyError, match="token_type_ids"):
        session.run({name: INPUTS[name] for name in ("input_ids", "attention_mask")}, ["out"])


def test_the_cache_name_follows_the_sources_content(tmp_path: Path) -> None:
    weights = tmp_path / "weights.safetensors"
    weights.write_bytes(b"first")
    first = cache_path(tmp_path / "cache", "reader", [weights])
    assert first == cache_path(tmp_path / "cache", "reader", [weights])
    assert first.parent == tmp_path / "cache" and first.name.startswith("reader-")
    assert first.suffix == ".onnx"
    weights.write_bytes(b"second")
    assert cache_path(tmp_path / "cache", "reader", [weights]) != first


def test_a_cache_folder_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    """ONNX is the default runtime, so a read-only home must say what to do, not fail deep in
    the export."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(OnnxGraphError, match="XDG_CACHE_HOME"):
        load_or_export(blocker / "qa" / "tiny.onnx", _export, OnnxSession)


def test_openvino_refuses_a_file_that_is_not_the_reader_graph(tmp_path: Path) -> None:
    from qa.models.reader_openvino import OpenVinoReader

    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"garbage")
    with pytest.raises(OnnxGraphError, match="OpenVINO cannot read"):
        OpenVinoReader(garbage)
    with pytest.raises(OnnxGraphError, match="not the reader's graph"):
        OpenVinoReader(_export(tmp_path / "tiny.onnx"))


def test_openvino_runs_the_graph_as_onnx_runtime_does(tmp_path: Path) -> None:
    from qa.models.openvino_runtime import SHAPE_BUCKET_TOKENS, OpenVinoSession

    path = _export(tmp_path / "tiny.onnx")
    session = load_or_export(path, _export, OpenVinoSession.open)
    assert session.metadata == {"note": "tiny"}, "the ONNX metadata is read through OpenVINO"
    assert INPUTS["input_ids"].shape[1] % SHAPE_BUCKET_TOKENS, "the input gets padded"
    [have] = session.run({**INPUTS, "offset_mapping": np.zeros(1)}, ["out"])
    # bfloat16 keeps 8 bits of each product's inputs (float32 on a CPU without bfloat16).
    assert have.dtype == np.float32 and np.allclose(have, _want(), atol=2e-2)
    with pytest.raises(KeyError, match="token_type_ids"):
        session.run({name: INPUTS[name] for name in ("input_ids", "attention_mask")}, ["out"])
    with pytest.raises(KeyError, match="no output"):
        session.run(INPUTS, ["logits"])
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"garbage")
    with pytest.raises(OnnxGraphError, match="OpenVINO cannot read"):
        OpenVinoSession.open(garbage)


# Two cores' flags as Linux lists them: an AMD EPYC with AVX2 only, and an Intel Xeon with
# AVX-512 BF16 (shortened).
AVX2_ONLY = (
    "processor\t: 0\nflags\t\t: fpu sse2 avx fma avx2 vaes\n\n"
    "processor\t: 1\nflags\t\t: fpu sse2 avx fma avx2 vaes\n"
)
AVX512_BF16 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"


def test_auto_runs_openvino_in_bfloat16_only_on_a_cpu_that_has_it(tmp_path: Path) -> None:
    without, with_bf16 = tmp_path / "avx2", tmp_path / "bf16"
    without.write_text(AVX2_ONLY)
    with_bf16.write_text(AVX512_BF16)
    assert cpu_flags(without) == {"fpu", "sse2", "avx", "fma", "avx2", "vaes"}
    assert BFLOAT16_FLAGS.isdisjoint(cpu_flags(without))
    assert not BFLOAT16_FLAGS.isdisjoint(cpu_flags(with_bf16))
    assert cpu_flags(tmp_path / "missing") == frozenset(), "no flags list: assume none"
    assert resolve_runtime("auto", bfloat16=False) == "onnx"
    assert resolve_runtime("auto", bfloat16=True) == "openvino-bf16"
    for runtime in ("onnx", "openvino-bf16"):
        assert resolve_runtime(runtime, bfloat16=False) == runtime, "an explicit choice stays"


@pytest.mark.parametrize("retired", ["torch", "onnx-int8", "tensorrt"])
def test_only_the_graph_runtimes_are_accepted(retired: str) -> None:
    """torch only trains and exports; the int8 graph is not served."""
    assert RUNTIMES == ("auto", "onnx", "openvino-bf16")
    with pytest.raises(
        ValueError, match=f"must be one of auto, onnx, openvino-bf16, not '{retired}'"
    ):
        check_runtime(retired, "embedding.runtime")
