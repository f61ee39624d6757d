from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import SEED_ARTICLE, SEED_QUESTION, SEED_SENTENCE_END, SEED_SENTENCE_START
from qa.config import Settings
from qa.models.embedder import ModelNotFoundError
from qa.models.reader import (
    BASE_MODEL,
    BUNDLED_WEIGHTS,
    MAX_ANSWER_TOKENS,
    ReaderCalibration,
    Reading,
    SpanReader,
    length_groups,
    load_reader,
)
from qa.wiring import make_reader

_SEED_TEXT = " ".join(SEED_ARTICLE.read_text(encoding="utf-8").split())
SEED_SENTENCE = _SEED_TEXT[
    _SEED_TEXT.index(SEED_SENTENCE_START) : _SEED_TEXT.index(SEED_SENTENCE_END)
    + len(SEED_SENTENCE_END)
]


def reading(starts: list[float], ends: list[float], no_answer: float = 0.0) -> Reading:
    """Tokens of 4 characters with a space between: token i spans [5i, 5i + 4)."""
    offsets = np.asarray([(5 * i, 5 * i + 4) for i in range(len(starts))], dtype=np.int64).reshape(
        -1, 2
    )
    return Reading(
        np.asarray(starts, dtype=np.float32), np.asarray(ends, dtype=np.float32), offsets, no_answer
    )


def test_best_span_never_ends_before_it_starts() -> None:
    # The best start (token 2) lies after the best end (token 0): the pair must be valid.
    found = reading([0.0, 1.0, 5.0], [4.0, 0.0, 2.0], no_answer=3.0)
    assert found.best_span() == (4.0, 10, 14)


def test_best_span_is_at_most_max_answer_tokens_long() -> None:
    size = MAX_ANSWER_TOKENS + 5
    starts, ends = [0.0] * size, [0.0] * size
    starts[0], ends[-1] = 9.0, 9.0
    score, start, end = reading(starts, ends).best_span()
    assert (end + 1 - start) // 5 <= MAX_ANSWER_TOKENS
    assert score < 18.0


def test_span_score_uses_the_tokens_holding_the_span_edges() -> None:
    found = reading([1.0, 2.0, 3.0], [0.5, 0.25, 4.0], no_answer=1.0)
    assert found.span_score(5, 14) == pytest.approx(2.0 + 4.0 - 1.0)
    assert found.span_score(6, 13) == pytest.approx(2.0 + 4.0 - 1.0)  # inside those tokens
    assert found.span_score(10, 4) < -1000  # ends before it starts
    assert found.span_score(40, 44) < -1000  # past the sentence


def test_an_empty_reading_has_no_span() -> None:
    empty = reading([], [])
    assert empty.best_span()[0] < -1000
    assert empty.span_score(0, 1) < -1000


def test_the_reader_finds_the_seed_answer_and_prefers_the_answering_sentence(
    reader: SpanReader,
) -> None:
    other = "The coalition was formed in 2014 to fight the Islamic State."
    answering, unrelated = reader.read(SEED_QUESTION, [SEED_SENTENCE, other])
    score, start, end = answering.best_span()
    assert "three years" in SEED_SENTENCE[start:end]
    assert score > unrelated.best_span()[0]
    assert reader.read(SEED_QUESTION, []) == []


def test_rows_of_very_different_lengths_run_apart_and_similar_ones_together() -> None:
    assert length_groups([100, 10, 98, 12], overhead=16) == [[1, 3], [2, 0]]
    assert length_groups([50, 51, 52], overhead=16) == [[0, 1, 2]]
    assert length_groups([10, 100], overhead=1000) == [[0, 1]]  # a run dearer than padding
    assert length_groups([]) == []


def test_reading_in_length_groups_gives_each_sentence_its_own_reading(reader: SpanReader) -> None:
    # Lengths far apart, so the batch is split; each reading must be what the sentence alone
    # gives (padding and grouping are invisible), in the order the sentences were given.
    sentences = [
        "The talks went on for many weeks, " * 6 + SEED_SENTENCE,
        "They left.",
        SEED_SENTENCE,
        "Officials said so.",
    ]
    together = reader.read(SEED_QUESTION, sentences)
    for sentence, read in zip(sentences, together, strict=True):
        [alone] = reader.read(SEED_QUESTION, [sentence])
        np.testing.assert_allclose(read.start_logits, alone.start_logits, atol=1e-4)
        np.testing.assert_allclose(read.end_logits, alone.end_logits, atol=1e-4)
        assert read.best_span()[1:] == alone.best_span()[1:]


def test_long_questions_and_sentences_are_cut_to_fit(reader: SpanReader) -> None:
    question = "when will the coalition forces withdraw from the country? " * 20  # ~1,000 chars
    sentence = "The talks went on. " * 60 + SEED_SENTENCE
    long_question, long_sentence = reader.read(question, [SEED_SENTENCE, sentence])
    assert long_question.best_span()[2] <= len(SEED_SENTENCE)
    assert long_sentence.offsets[-1][1] < len(sentence)  # the end was cut, not read past


def test_the_reader_keeps_its_base_model_when_the_embedding_model_changes(
    settings: Settings,
) -> None:
    elsewhere = replace(settings, embedding=replace(settings.embedding, model="/models/other"))
    reader = make_reader(elsewhere)
    assert reader is not None and reader.base_model == BASE_MODEL
    assert make_reader(replace(settings, answer=replace(settings.answer, reader=False))) is None


def test_missing_weights_are_a_clear_error(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(ModelNotFoundError, match="training/train_reader.py"):
        load_reader(settings.embedding.model, tmp_path / "absent.safetensors")


def test_weights_for_another_model_are_refused(tmp_path: Path, settings: Settings) -> None:
    weights = tmp_path / "other.safetensors"
    save_file({"classifier.weight": torch.zeros(2, 2)}, str(weights))
    with pytest.raises(ModelNotFoundError, match="do not fit"):
        load_reader(settings.embedding.model, weights)


def test_weights_of_another_shape_are_refused(tmp_path: Path, settings: Settings) -> None:
    """The right names with the wrong shapes (a reader of another size) are refused by name,
    not loaded half-way or failed with torch's size-mismatch error."""
    shipped = load_file(str(BUNDLED_WEIGHTS))
    shipped["qa_outputs.weight"] = torch.zeros(2, 768, dtype=torch.float16)
    weights = tmp_path / "wider.safetensors"
    save_file(shipped, str(weights))
    with pytest.raises(ModelNotFoundError, match="of another shape \\['qa_outputs.weight'\\]"):
        load_reader(settings.embedding.model, weights)


def test_calibration_round_trips_and_bad_files_are_clear_errors(tmp_path: Path) -> None:
    calibration = ReaderCalibration(8, 0.3, 0.9, 0.2, -0.1)
    path = tmp_path / "reader.json"
    calibration.write(path)
    assert ReaderCalibration.load(path) == calibration
    path.write_text('{"depth": 8}', encoding="utf-8")
    with pytest.raises(ModelNotFoundError, match="reader.json"):
        ReaderCalibration.load(path)
    with pytest.raises(ModelNotFoundError, match="missing"):
        ReaderCalibration.load(tmp_path / "absent.json")
