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
        ("answer:\n  topk: 3\n", {}, "unknown key"),
        ("answer:\n  top_k: many\n", {}, "answer.top_k"),
        ("", {"QA_ANSWER_TOP_K": "x"}, "QA_ANSWER_TOP_K"),
    ],
)
def test_malformed_settings_name_the_problem(
    tmp_path: Path, yaml_text: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, env=env)


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.yaml", env={})
