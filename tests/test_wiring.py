"""Building the parts from the settings: a runtime whose extra is not installed."""

from __future__ import annotations

import logging
import sys

import pytest

from conftest import REPO
from qa.config import ConfigError, load_settings
from qa.wiring import installed_runtime, make_embedder, make_reader

WITHOUT_OPENVINO = "the openvino extra: pip install 'qa[openvino]'"


@pytest.fixture
def without_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if it were not installed


@pytest.mark.usefixtures("without_openvino")
def test_openvino_chosen_without_its_extra_is_a_config_error_naming_it() -> None:
    settings = load_settings(
        REPO / "config.yaml",
        env={"QA_ANSWER_READER_RUNTIME": "openvino-bf16", "QA_EMBEDDING_RUNTIME": "openvino-bf16"},
    )
    with pytest.raises(ConfigError) as raised:
        make_reader(settings)
    assert str(raised.value) == f"answer.reader_runtime: openvino-bf16 needs {WITHOUT_OPENVINO}"
    with pytest.raises(ConfigError, match="^embedding.runtime: openvino-bf16 needs"):
        make_embedder(settings)


@pytest.mark.usefixtures("without_openvino")
def test_auto_falls_back_to_onnx_on_a_bfloat16_cpu_without_openvino(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="qa.wiring"):
        assert installed_runtime("auto", "answer.reader_runtime", bfloat16=True) == "onnx"
    [record] = caplog.records
    assert record.getMessage().startswith("answer.reader_runtime auto: this CPU would run")
    assert WITHOUT_OPENVINO in record.getMessage() and "running onnx instead" in record.getMessage()


@pytest.mark.usefixtures("without_openvino")
def test_runtimes_without_openvino_are_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    for runtime in ("onnx", "onnx-int8", "torch"):
        assert installed_runtime(runtime, "embedding.runtime", bfloat16=True) == runtime
    assert installed_runtime("auto", "embedding.runtime", bfloat16=False) == "auto"
    assert not caplog.records


def test_auto_keeps_openvino_when_it_is_installed() -> None:
    pytest.importorskip("openvino")
    assert installed_runtime("auto", "embedding.runtime", bfloat16=True) == "auto"
    assert installed_runtime("openvino-bf16", "embedding.runtime") == "openvino-bf16"
