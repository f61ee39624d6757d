"""The reader's exported graph against the torch model it is exported from, on the bundled
weights, and under each runtime that serves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import needs_bfloat16
from qa.models.reader import (
    BASE_MODEL,
    BUNDLED_WEIGHTS,
    ReaderCalibration,
    Reading,
    SpanReader,
    load_reader,
    tokenize_pairs,
)
from qa.models.reader_onnx import onnx_cache_path

PAIRS = [
    (
        "when will coalition forces withdraw?",
        "On Aug. 20, U.S. President Donald Trump confirmed to Iraqi Prime Minister Mustafa "
        "al-Kadhimi during the latter's official visit to the United States that the U.S.-led "
        "coalition forces will rapidly withdraw from Iraq within three years.",
    ),
    (
        "who is the JOC spokesman?",
        '"The international coalition is still working with us, so they should have a place to '
        'work," Tahseen al-Khafaji, the JOC spokesman, told the official Iraqi News Agency (INA).',
    ),
    (
        "what did militant groups fire on Iraqi bases?",
        "The spokesman's comments came as unidentified militant groups have frequently fired "
        "mortar rounds and Katyusha rockets on Iraqi military bases housing U.S.-led coalition "
        "forces.",
    ),
    (
        "how many U.S. troops lead the coalition?",
        "A few thousand U.S. troops are leading international coalition forces in helping the "
        "Iraqi security forces fight against the IS militants by carrying out airstrikes in Iraq "
        "and Syria.",
    ),
]
CALIBRATION = ReaderCalibration(8, 0.0, 1.0, 0.0, 0.0)
# Float32 ONNX runs the same arithmetic as torch in another order: rounding only.
FLOAT32_LOGIT_DIFF = 1e-3
# bfloat16 keeps 8 bits of each number; the head stays in float32 (qa/models/reader_openvino.py).
BFLOAT16_LOGIT_DIFF = 0.3


@pytest.fixture(scope="module")
def torch_readings() -> Any:
    """The bundled reader in torch, read as SpanReader.read reads: the reference."""
    import torch

    model, tokenizer = load_reader(BASE_MODEL, BUNDLED_WEIGHTS)

    def read(question: str, sentences: list[str]) -> list[Reading]:
        encoded = tokenize_pairs(tokenizer, question, sentences)
        offsets = encoded.pop("offset_mapping")
        with torch.inference_mode():
            output = model(**{name: torch.from_numpy(array) for name, array in encoded.items()})
        readings = []
        for row in range(len(sentences)):
            tokens = [i for i, s in enumerate(encoded.sequence_ids(row)) if s == 1]
            starts, ends = output.start_logits[row].numpy(), output.end_logits[row].numpy()
            readings.append(
                Reading(
                    starts[tokens],
                    ends[tokens],
                    offsets[row, tokens].astype(np.int64),
                    float(starts[0] + ends[0]),
                )
            )
        return readings

    return read


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


def _assert_close(want: Reading, have: Reading, tolerance: float) -> None:
    for expected, got in (
        (want.start_logits, have.start_logits),
        (want.end_logits, have.end_logits),
    ):
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.abs(got - expected).max() < tolerance
    assert have.best_span()[1:] == want.best_span()[1:]


@pytest.mark.parametrize("rows", [[0, 1, 2, 3], [3], [1, 2]], ids=["batch4", "single", "pair"])
def test_float32_onnx_gives_torchs_logits_to_rounding(
    torch_readings: Any, cache: Path, rows: list[int]
) -> None:
    # Other batch sizes and lengths than the export's example check its dynamic axes.
    reader = SpanReader(calibration=CALIBRATION, runtime="onnx", cache_dir=cache)
    question = PAIRS[rows[0]][0]
    sentences = [PAIRS[row][1] for row in rows]
    for want, have in zip(
        torch_readings(question, sentences), reader.read(question, sentences), strict=True
    ):
        _assert_close(want, have, FLOAT32_LOGIT_DIFF)
    for question, sentence in (PAIRS[row] for row in rows):
        [want] = torch_readings(question, [sentence])
        [alone] = reader.read(question, [sentence])
        _assert_close(want, alone, FLOAT32_LOGIT_DIFF)


def test_a_prepared_graph_is_exported_once_and_opened_without_exporting(
    tmp_path: Path,
) -> None:
    # A server's master prepares before forking: the graph is exported and checked; the
    # first read (in a worker) opens the cached graph without exporting it again.
    reader = SpanReader(calibration=CALIBRATION, runtime="onnx", cache_dir=tmp_path)
    graph = onnx_cache_path(BUNDLED_WEIGHTS, tmp_path)
    assert graph.is_file() is False
    reader.prepare()
    assert [entry.name for entry in tmp_path.iterdir()] == [graph.name], "no temporary left"
    exported = graph.stat().st_mtime_ns
    assert len(reader.read(PAIRS[0][0], [PAIRS[0][1]])) == 1
    assert graph.stat().st_mtime_ns == exported


def test_the_openvino_reader_reads_as_the_float32_graph_does(
    torch_readings: Any, cache: Path
) -> None:
    """In bfloat16 where the CPU has it, float32 elsewhere: within bfloat16's rounding of
    float32's logits either way, with the same best spans."""
    reader = SpanReader(calibration=CALIBRATION, runtime="openvino-bf16", cache_dir=cache)
    question = PAIRS[0][0]
    sentences = [sentence for _, sentence in PAIRS]
    for want, have in zip(
        torch_readings(question, sentences), reader.read(question, sentences), strict=True
    ):
        _assert_close(want, have, BFLOAT16_LOGIT_DIFF)
        assert np.abs(have.start_logits - want.start_logits).mean() < BFLOAT16_LOGIT_DIFF / 5
    for question, sentence in PAIRS:
        [want] = torch_readings(question, [sentence])
        [alone] = reader.read(question, [sentence])
        assert alone.best_span()[1:] == want.best_span()[1:]


@needs_bfloat16
def test_bfloat16_openvino_keeps_the_float32_logits_and_spans(
    torch_readings: Any, cache: Path
) -> None:
    reader = SpanReader(calibration=CALIBRATION, runtime="openvino-bf16", cache_dir=cache)
    question = PAIRS[0][0]
    sentences = [sentence for _, sentence in PAIRS]
    readings = reader.read(question, sentences)
    wanted = torch_readings(question, sentences)
    assert (
        max(
            np.abs(have.start_logits - want.start_logits).max()
            for want, have in zip(wanted, readings, strict=True)
        )
        > FLOAT32_LOGIT_DIFF
    ), "bfloat16, not float32, arithmetic"
    for want, have in zip(wanted, readings, strict=True):
        _assert_close(want, have, BFLOAT16_LOGIT_DIFF)


@pytest.mark.parametrize("retired", ["torch", "onnx-int8", "tensorrt"])
def test_a_runtime_other_than_the_graphs_is_refused_naming_those(retired: str) -> None:
    with pytest.raises(ValueError, match="must be one of auto, onnx, openvino-bf16"):
        SpanReader(runtime=retired)
