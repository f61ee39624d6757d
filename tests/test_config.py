import re
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import REPO
from qa.config import ConfigError, Settings, load_settings


def test_shipped_config_matches_the_built_in_defaults() -> None:
    assert load_settings(REPO / "config.yaml", env={}) == Settings()


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("index_dir: from-file\nanswer:\n  top_k: 5\n")
    settings = load_settings(
        path,
        env={
            "QA_INDEX_DIR": "/srv/idx",
            "QA_ANSWER_MIN_CONFIDENCE": "0.25",
            "QA_CHUNKING_OVERLAP": "2",
        },
    )
    assert settings.index_dir == Path("/srv/idx")
    assert settings.answer.top_k == 5
    assert settings.answer.min_confidence == 0.25
    assert settings.chunking.overlap == 2


@pytest.mark.parametrize(
    ("yaml_text", "env", "message"),
    [
        ("answer: [1, 2\n", {}, "not valid YAML"),
        ("- a\n- b\n", {}, "mapping"),
        ("answr:\n  top_k: 3\n", {}, "unknown section"),
        ("answer:\n  topk: 3\n", {}, "{path}: unknown key"),
        ("answer:\n  top_k: many\n", {}, "{path}: answer.top_k"),
        ("", {"QA_ANSWER_TOP_K": "x"}, "QA_ANSWER_TOP_K"),
        # A section that is not a mapping was a TypeError.
        ("retrieval: 5\n", {}, "section 'retrieval' must be a mapping"),
        # Out of range: accepted before, then always abstaining, or a crash at ingest.
        ("answer:\n  min_confidence: 2\n", {}, "{path}: answer.min_confidence must be from 0 to 1"),
        (
            "",
            {"QA_RETRIEVAL_CANDIDATE_CHUNKS": "-5"},
            "QA_RETRIEVAL_CANDIDATE_CHUNKS: retrieval.candidate_chunks must be at least 1",
        ),
        ("chunking:\n  sentences_per_chunk: 0\n", {}, "sentences_per_chunk must be at least 1"),
        ("chunking:\n  overlap: 9\n", {}, "{path}: chunking.overlap must be less than"),
        # Two keys from two places: both are named.
        (
            "chunking:\n  overlap: 3\n",
            {"QA_CHUNKING_SENTENCES_PER_CHUNK": "2"},
            "{path}, QA_CHUNKING_SENTENCES_PER_CHUNK: chunking.overlap",
        ),
        ("server:\n  port: 70000\n", {}, "{path}: server.port must be from 0 to 65535"),
        # Neither a yes nor a no, a fraction for a count, a yes for a number: no silent guess.
        ("answer:\n  reader: maybe\n", {}, "{path}: answer.reader: expected bool"),
        ("", {"QA_ANSWER_READER": "ture"}, "QA_ANSWER_READER: expected bool"),
        ("answer:\n  top_k: 3.5\n", {}, "answer.top_k: expected int"),
        ("answer:\n  top_k: yes\n", {}, "answer.top_k: expected int"),
        ("answer:\n  min_confidence: .nan\n", {}, "answer.min_confidence: expected float"),
        # Runtimes that no longer serve (torch only trains and exports; int8 was retired).
        (
            "embedding:\n  runtime: torch\n",
            {},
            "{path}: embedding.runtime must be one of auto, onnx, openvino-bf16, not 'torch'",
        ),
        (
            "",
            {"QA_ANSWER_READER_RUNTIME": "onnx-int8"},
            "QA_ANSWER_READER_RUNTIME: answer.reader_runtime must be one of auto, onnx, "
            "openvino-bf16, not 'onnx-int8'",
        ),
    ],
)
def test_malformed_settings_name_the_problem(
    tmp_path: Path, yaml_text: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=re.escape(message.format(path=path))):
        load_settings(path, env=env)


def test_settings_in_their_written_forms_are_read(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("answer:\n  top_k: 4.0\n  reader: off\n  min_confidence: 1\n")
    settings = load_settings(path, env={"QA_SERVER_PROTECT_ASK": " Yes ", "QA_SERVER_PORT": "0"})
    assert (settings.answer.top_k, settings.answer.reader) == (4, False)
    assert settings.answer.min_confidence == 1.0
    assert settings.server.protect_ask is True and settings.server.port == 0


def test_settings_built_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="answer.top_k must be at least 1"):
        replace(Settings().answer, top_k=0)


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.yaml", env={})
