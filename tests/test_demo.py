"""The demo articles (samples/) answer the questions a new user tries first, over the JSON API
as the chat page asks them."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from conftest import SEED_QUESTION, SEED_SENTENCE_END, SEED_SENTENCE_START
from qa.config import ServerSettings, Settings
from qa.ingest.sentences import SpacySplitter
from qa.models.embedder import SentenceTransformerEmbedder
from qa.models.reader import SpanReader
from qa.service.app import create_app
from qa.types import ABSTAIN_REASONS
from qa.wiring import open_components


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
    demo_index_dir: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> Iterator[FlaskClient]:
    """The chat service over an index of every file in samples/, as `scripts/demo` serves it
    (a copy: conversations are written to the store)."""
    folder = tmp_path_factory.mktemp("demo") / "index"
    shutil.copytree(demo_index_dir, folder)
    components = open_components(settings, embedder=embedder, index_dir=folder, reader=reader)
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
    # A plausible question about a person in the seed article that no article answers.
    body = ask(demo, "what did the coalition spokesman eat for breakfast?")
    assert not body["answerable"] and body["answer"] is None
    assert body["citations"], "closest matches are still shown"


def test_a_period_and_a_source_restrict_the_archives_citations(demo: FlaskClient) -> None:
    question = "how many people died?"
    everything = ask(demo, question, top_k=10)["citations"]
    assert {c["published"][:4] for c in everything if c["published"]} == {"2019", "2020"}
    in_spring = ask(demo, question, top_k=10, since="2020-03-01", until="2020-05-31")
    assert in_spring["citations"]
    assert all("2020-03-01" <= c["published"] <= "2020-05-31" for c in in_spring["citations"])
    seed = ask(demo, SEED_QUESTION, sources=["xinhua"])
    assert {c["source"] for c in seed["citations"]} == {"Xinhua"}
    assert seed["answer"] == "within three years"


def test_a_malformed_date_is_refused_over_the_archive(demo: FlaskClient) -> None:
    response = demo.post("/api/ask", json={"question": "who died?", "until": "2020-02-30"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_date"


def test_the_health_line_says_what_the_archive_holds(demo: FlaskClient) -> None:
    coverage = demo.get("/healthz").get_json()["coverage"]
    assert (coverage["first_published"], coverage["last_published"]) == (
        "2019-01-04",
        "2020-12-28",
    )
    sources = {item["source"]: item["articles"] for item in coverage["sources"]}
    assert sources["Wikinews"] == 291 and sources["Xinhua"] == 1


def test_a_question_about_what_no_article_mentions_names_it(demo: FlaskClient) -> None:
    body = ask(demo, "who won the 2019 Wimbledon final?")
    assert not body["answerable"] and body["answer"] is None
    assert body["abstain_reason"] == "not_in_archive"
    assert body["missing_terms"] == ["Wimbledon"]
    assert body["citations"], "closest matches are still shown"


def test_an_answer_says_no_abstention_reason(demo: FlaskClient) -> None:
    body = ask(demo, "when did the oil crisis begin?")
    assert body["abstain_reason"] is None and body["missing_terms"] == []


@pytest.mark.parametrize(
    "question",
    ["what is the?", "???", "who " * 250, "谁赢了2019年温布尔登网球公开赛?", "🏆", "Ωmega ünïcode"],
)
def test_odd_questions_get_an_answer_not_an_error(demo: FlaskClient, question: str) -> None:
    response = demo.post("/api/ask", json={"question": question})
    assert response.status_code in {200, 400}, response.get_json()
    body = response.get_json()
    if response.status_code == 200:
        assert body["answerable"] is False or body["answer"], body
        assert body["abstain_reason"] in {None, *ABSTAIN_REASONS}
    else:
        assert body["error"]["code"]


def test_another_script_is_named_as_missing(demo: FlaskClient) -> None:
    body = ask(demo, "谁赢了温布尔登")
    assert body["abstain_reason"] == "not_in_archive" and body["missing_terms"] == [
        "谁赢了温布尔登"
    ]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("When will coalition forces withdraw?", "within three years"),  # the page's examples
        ("When did the 1973 oil crisis begin?", "October 1973"),
        ("when did the embargo end?", "March 1974"),  # samples/README.md's
        ("who won the 2019 Nobel Prize in Physics?", "Queloz and Michel Mayor"),
    ],
)
def test_the_example_questions_are_answered_right(
    demo: FlaskClient, question: str, answer: str
) -> None:
    body = ask(demo, question)
    assert body["answerable"] and answer in body["answer"], body["answer"]


def test_the_readme_example_is_the_newest_governor_with_how_it_changed(demo: FlaskClient) -> None:
    body = ask(demo, "who is the governor of puerto rico?")
    assert body["answerable"] and "Vázquez Garced" in body["answer"]
    assert body["as_of"] == body["timeline"][-1]["published"] == "2020-01-17"
    assert "Rosselló" in body["timeline"][0]["answer"]  # who it was before


def test_the_readme_example_about_wimbledon_names_it_missing(demo: FlaskClient) -> None:
    body = ask(demo, "who won wimbledon in 2019?")
    assert not body["answerable"] and body["abstain_reason"] == "not_in_archive"
    assert body["missing_terms"] == ["wimbledon"] and body["period"]["named"] == "in 2019"


def test_who_won_is_answered_by_the_winners_not_the_announcer(demo: FlaskClient) -> None:
    body = ask(demo, "who won the 2019 Nobel Prize in Physics?")
    assert body["answer"].startswith("James Peebles") and "Academy" not in body["answer"]


def test_the_example_with_a_period_answers_from_that_period(demo: FlaskClient) -> None:
    body = ask(
        demo,
        "how many people have died of the coronavirus?",
        since="2020-03-01",
        until="2020-04-30",
    )
    assert body["answerable"] and body["period"] is None  # the request's dates, not the question's
    assert "2020-03-01" <= body["citations"][0]["published"] <= "2020-04-30"
    assert body["answer"] in body["citations"][0]["sentence"]


def test_a_question_that_names_its_period_is_asked_in_it(demo: FlaskClient) -> None:
    body = ask(demo, "how many people had died of covid worldwide in march 2020?")
    assert body["period"]["named"] == "in march 2020"
    assert body["period"]["since"] == "2020-03-01"
    assert all("2020-03-01" <= c["published"] <= body["period"]["until"] for c in body["citations"])
