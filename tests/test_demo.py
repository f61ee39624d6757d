"""The demo articles (samples/) answer the questions a new user tries first, over the JSON API
as the chat page asks them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from conftest import REPO, SEED_QUESTION, SEED_SENTENCE_END, SEED_SENTENCE_START
from qa.app import create_app
from qa.config import ServerSettings, Settings
from qa.embed import SentenceTransformerEmbedder
from qa.reader import SpanReader
from qa.text import SpacySplitter
from qa.wiring import open_components


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> Iterator[FlaskClient]:
    """The chat service over an index of every file in samples/, as `scripts/demo` serves it."""
    folder: Path = tmp_path_factory.mktemp("demo-index")
    components = open_components(
        settings, embedder=embedder, create=True, index_dir=folder, reader=reader
    )
    report = components.ingester(splitter).ingest_paths(
        [REPO / "samples"], 10**8, show_progress=False
    )
    assert report.ok and report.added
    app = create_app(
        components, server=dataclasses.replace(ServerSettings(), rate_limit=""), splitter=splitter
    )
    yield app.test_client()
    components.close()


def ask(client: FlaskClient, question: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/ask", json={"question": question, **fields})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_the_seed_question_cites_the_whole_sentence_and_answers_within_three_years(
    demo: FlaskClient,
) -> None:
    body = ask(demo, SEED_QUESTION)
    top = body["citations"][0]
    assert top["sentence"].startswith(SEED_SENTENCE_START)
    assert top["sentence"].endswith(SEED_SENTENCE_END)
    assert body["answerable"] and body["answer"] == "within three years"
    assert {"expression": "within three years", "date": "2023-08-20", "relation": "by"} in top[
        "resolved_dates"
    ]


def test_when_did_the_oil_crisis_begin(demo: FlaskClient) -> None:
    body = ask(demo, "when did the oil crisis begin?")
    assert body["answerable"], body
    assert body["answer"] == "October 1973"
    assert "began in October 1973" in body["citations"][0]["sentence"]


def test_why_are_they_leaving_is_answered_from_the_coronavirus_sentence(
    demo: FlaskClient,
) -> None:
    first = ask(demo, SEED_QUESTION)
    body = ask(demo, "why are they leaving?", conversation_id=first["conversation_id"])
    assert body["answerable"], body
    assert "coronavirus pandemic" in body["citations"][0]["sentence"]
    assert "coronavirus" in body["answer"]


def test_a_question_the_articles_do_not_answer_abstains(demo: FlaskClient) -> None:
    body = ask(demo, "who won the 1973 world series?")
    assert not body["answerable"] and body["answer"] is None
    assert body["citations"], "closest matches are still shown"
