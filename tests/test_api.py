"""The HTTP API through Flask's test client: every endpoint, every refused input, auth, rate
limits, and every response checked against the OpenAPI document the app serves."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from conftest import REPO, SEED_QUESTION, SEED_SENTENCE_END, SEED_SENTENCE_START
from qa.cli import cli
from qa.config import ServerSettings, Settings
from qa.ingest.loaders import RECORD_FIELDS, load_file
from qa.ingest.sentences import SpacySplitter
from qa.models.embedder import SentenceTransformerEmbedder
from qa.models.reader import SpanReader
from qa.service.app import create_app, default_web_dir
from qa.service.openapi import openapi_document
from qa.service.serialize import answer_to_json
from qa.wiring import Components

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OIL_ARTICLES = REPO / "samples" / "squad2-dev-a-1973-oil-crisis.jsonl"
SPEC = openapi_document()


def _template_for(path: str) -> str | None:
    """The OpenAPI path template a concrete path matches, if any."""
    for template in SPEC["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", ".+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    return None


def check_against_spec(response: TestResponse, method: str, path: str) -> None:
    """The response is documented for this path, method and status, and its JSON body matches
    the documented schema; undocumented paths must still return the JSON error shape."""
    template = _template_for(path.split("?")[0])
    if template is None or method.lower() not in SPEC["paths"][template]:
        assert response.status_code in (404, 405)
        assert set(response.get_json()["error"]) == {"code", "message"}
        return
    responses = SPEC["paths"][template][method.lower()]["responses"]
    assert str(response.status_code) in responses, (method, path, response.status_code)
    content = responses[str(response.status_code)].get("content")
    if content is None:
        return
    schema = content["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator(
        {**SPEC, **schema}, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(response.get_json())


class SpecClient:
    """Flask's test client, checking every response against the OpenAPI document."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def open(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        response = self.client.open(path, method=method, **kwargs)
        check_against_spec(response, method, path)
        return response

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.open("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.open("DELETE", path, **kwargs)


MakeClient = Callable[..., SpecClient]


def spec_client(components: Components, splitter: SpacySplitter, **changes: Any) -> SpecClient:
    """An app on `components` with server settings changed as given (by default a configured
    token and no rate limit), behind its checked test client."""
    server = dataclasses.replace(
        ServerSettings(), **{"api_token": TOKEN, "rate_limit": "", **changes}
    )
    app: Flask = create_app(components, server=server, splitter=splitter)
    app.testing = True
    return SpecClient(app.test_client())


@pytest.fixture
def make_client(seed_components: Components, splitter: SpacySplitter) -> MakeClient:
    """Build an app on the seed index with server settings changed as given, and return its
    checked test client."""

    def make(**changes: Any) -> SpecClient:
        return spec_client(seed_components, splitter, **changes)

    return make


@pytest.fixture
def client(make_client: MakeClient) -> SpecClient:
    return make_client()


@pytest.fixture
def dated_client(dated_components: Components, splitter: SpacySplitter) -> SpecClient:
    """The checked client of an app on the seed article and three more of other dates and
    sources (conftest.DATED_ARTICLES)."""
    return spec_client(dated_components, splitter)


def ask(client: SpecClient, question: str, **fields: Any) -> TestResponse:
    return client.post("/api/ask", json={"question": question, **fields})


def seed_article_id(client: SpecClient) -> str:
    items = client.get("/api/articles").get_json()["items"]
    assert len(items) == 1
    article_id: str = items[0]["id"]
    return article_id


# --- ask -------------------------------------------------------------------------------------


def test_seed_question_is_answered_with_the_cited_sentence(
    client: SpecClient, seed_components: Components
) -> None:
    response = ask(client, SEED_QUESTION)
    assert response.status_code == 200
    body = response.get_json()
    assert body["answer"] == "within three years"
    assert body["answerable"] is True
    first = body["citations"][0]["sentence"]
    assert first.startswith(SEED_SENTENCE_START) and first.endswith(SEED_SENTENCE_END)
    assert isinstance(body["conversation_id"], str) and body["conversation_id"]
    # Exactly the CLI's JSON plus the conversation id.
    expected = answer_to_json(seed_components.pipeline.ask(SEED_QUESTION, 3))
    del body["conversation_id"]
    assert body["timeline"] == [] and body["as_of"] is None  # one article: no story
    assert body.keys() == expected.keys()
    body.pop("timing_ms"), expected.pop("timing_ms")
    assert body == expected


def test_a_question_at_the_length_limit_is_answered(client: SpecClient) -> None:
    """The longest question allowed must not overflow the reader's input (it once did: 500)."""
    question = (SEED_QUESTION + " ") * (ServerSettings().max_question_chars // 37)
    assert len(question) <= ServerSettings().max_question_chars
    response = ask(client, question.strip())
    assert response.status_code == 200
    assert response.get_json()["citations"][0]["sentence"].startswith(SEED_SENTENCE_START)


def test_top_k_limits_the_citations(client: SpecClient) -> None:
    body = ask(client, SEED_QUESTION, top_k=1).get_json()
    assert len(body["citations"]) == 1
    assert len(ask(client, SEED_QUESTION, top_k=5).get_json()["citations"]) == 5


def test_follow_up_question_is_understood_from_the_earlier_turn(
    client: SpecClient, seed_components: Components, splitter: SpacySplitter
) -> None:
    seed_id = seed_article_id(client)
    report = seed_components.ingester(splitter).ingest_articles(
        load_file(OIL_ARTICLES, 10**7).articles
    )
    assert report.ok
    first = ask(client, SEED_QUESTION).get_json()
    follow_up = ask(client, "why are they leaving?", conversation_id=first["conversation_id"])
    body = follow_up.get_json()
    assert body["conversation_id"] == first["conversation_id"]
    assert body["question"] == "why are they leaving?"
    cited = body["citations"]
    assert cited[0]["article_id"] == seed_id
    assert any("coalition" in c["sentence"] and "withdr" in c["sentence"] for c in cited)
    spokesman = ask(
        client, "what did the spokesman say about it?", conversation_id=first["conversation_id"]
    ).get_json()
    assert spokesman["citations"][0]["article_id"] == seed_id
    assert "spokesman" in spokesman["citations"][0]["sentence"]
    # Without the conversation id there is nothing to carry over: a new conversation starts.
    alone = ask(client, "why are they leaving?").get_json()
    assert alone["conversation_id"] != first["conversation_id"]


def test_unknown_conversation_id_starts_a_new_conversation(client: SpecClient) -> None:
    body = ask(client, SEED_QUESTION, conversation_id="expired-or-made-up").get_json()
    assert body["conversation_id"] != "expired-or-made-up"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "missing_question"),
        ({"question": None}, "missing_question"),
        ({"question": 42}, "invalid_question"),
        ({"question": ["when?"]}, "invalid_question"),
        ({"question": ""}, "empty_question"),
        ({"question": "   \n\t "}, "empty_question"),
        ({"question": "x" * 1001}, "question_too_long"),
        ({"question": SEED_QUESTION, "top_k": 0}, "invalid_top_k"),
        ({"question": SEED_QUESTION, "top_k": 51}, "invalid_top_k"),
        ({"question": SEED_QUESTION, "top_k": "3"}, "invalid_top_k"),
        ({"question": SEED_QUESTION, "top_k": True}, "invalid_top_k"),
        ({"question": SEED_QUESTION, "top_k": 2.5}, "invalid_top_k"),
        ({"question": SEED_QUESTION, "conversation_id": 7}, "invalid_conversation_id"),
        ({"question": SEED_QUESTION, "conversation_id": "c" * 65}, "invalid_conversation_id"),
        ({"question": SEED_QUESTION, "since": "2020-13-01"}, "invalid_date"),
        ({"question": SEED_QUESTION, "since": "2021-02-29"}, "invalid_date"),
        ({"question": SEED_QUESTION, "since": "20201011"}, "invalid_date"),
        ({"question": SEED_QUESTION, "until": "11/10/2020"}, "invalid_date"),
        ({"question": SEED_QUESTION, "until": ""}, "invalid_date"),
        ({"question": SEED_QUESTION, "until": 20201011}, "invalid_date"),
        ({"question": SEED_QUESTION, "since": "2021-01-02", "until": "2021-01-01"}, "invalid_date"),
        ({"question": SEED_QUESTION, "sources": "Xinhua"}, "invalid_sources"),
        ({"question": SEED_QUESTION, "sources": ["Xinhua", 7]}, "invalid_sources"),
        ({"question": SEED_QUESTION, "sources": [" "]}, "invalid_sources"),
        ({"question": SEED_QUESTION, "sources": ["s"] * 51}, "invalid_sources"),
        ({"question": SEED_QUESTION, "source": ["Xinhua"]}, "unknown_field"),
        ({"question": SEED_QUESTION, "from": "2020-01-01"}, "unknown_field"),
        (["a", "list"], "invalid_body"),
        ("just a string", "invalid_body"),
    ],
)
def test_bad_questions_are_400_with_a_code(client: SpecClient, body: Any, code: str) -> None:
    response = client.post("/api/ask", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]


def test_a_misspelt_filter_is_named_rather_than_ignored(client: SpecClient) -> None:
    error = ask(client, SEED_QUESTION, published_from="2020-01-01").get_json()["error"]
    assert "'published_from'" in error["message"] and "since" in error["message"]


def test_a_malformed_date_says_what_to_send(client: SpecClient) -> None:
    error = ask(client, SEED_QUESTION, since="2020-13-01").get_json()["error"]
    assert error["code"] == "invalid_date" and "'since'" in error["message"]
    error = ask(client, SEED_QUESTION, since="2021-01-02", until="2021-01-01").get_json()["error"]
    assert "2021-01-02" in error["message"] and "after" in error["message"]


def _cited(client: SpecClient, **fields: Any) -> list[dict[str, Any]]:
    response = ask(client, SEED_QUESTION, top_k=10, **fields)
    assert response.status_code == 200, response.get_json()
    citations: list[dict[str, Any]] = response.get_json()["citations"]
    assert citations, fields
    return citations


def test_period_and_sources_restrict_the_citations(dated_client: SpecClient) -> None:
    everything = _cited(dated_client)
    assert len({c["source"] for c in everything}) >= 3
    assert None in {c["published"] for c in everything}
    since_2021 = _cited(dated_client, since="2021-01-01")
    assert {c["article_id"] for c in since_2021} == {"baghdad-courier-2021"}
    in_2020 = _cited(dated_client, since="2020-01-01", until="2020-12-31")
    assert {(c["source"], c["published"]) for c in in_2020} == {("Xinhua", "2020-10-11")}
    dated = _cited(dated_client, until="2030-12-31")
    assert all(c["published"] for c in dated)
    by_source = _cited(dated_client, sources=["field notes", "Desert Times"])
    assert {c["source"] for c in by_source} == {"Field Notes", "Desert Times"}
    assert _cited(dated_client, sources=[]) == everything  # an empty list restricts nothing
    mixed = _cited(dated_client, sources=["Desert Times", "Xinhua"], until="2019-12-31")
    assert {c["source"] for c in mixed} == {"Desert Times"}


def test_filters_apply_to_the_question_they_come_with(dated_client: SpecClient) -> None:
    first = ask(dated_client, SEED_QUESTION, sources=["Desert Times"]).get_json()
    assert {c["source"] for c in first["citations"]} == {"Desert Times"}
    conversation = first["conversation_id"]
    follow_up = ask(
        dated_client, "why are they leaving?", conversation_id=conversation, top_k=10
    ).get_json()
    assert follow_up["conversation_id"] == conversation
    assert len({c["source"] for c in follow_up["citations"]}) > 1  # not carried over
    other = ask(
        dated_client, "why are they leaving?", conversation_id=conversation, sources=["Xinhua"]
    ).get_json()
    assert {c["source"] for c in other["citations"]} == {"Xinhua"}


def rank(citation: dict[str, Any]) -> int:
    value: int = citation["rank"]
    return value


def test_articles_that_answer_differently_give_the_newest_answer_and_a_timeline(
    dated_client: SpecClient,
) -> None:
    """The 2019 article says "by the end of 2020", the 2020 one "within three years"."""
    body = ask(dated_client, SEED_QUESTION, top_k=5).get_json()
    assert body["answerable"] and body["answer"] == "within three years"
    timeline = body["timeline"]
    assert [e["published"] for e in timeline] == ["2019-05-02", "2020-10-11"]
    assert "end of 2020" in timeline[0]["answer"] and timeline[-1]["answer"] == body["answer"]
    first = timeline[0]
    article = dated_client.get(f"/api/articles/{first['article_id']}").get_json()
    assert article["text"][first["start"] : first["end"]] == first["sentence"]
    assert body["as_of"] == "2020-08-20"  # "On Aug. 20", the day the newest sentence names


def test_a_period_the_question_names_is_asked_and_said(dated_client: SpecClient) -> None:
    body = ask(dated_client, "when will coalition forces withdraw in 2019?").get_json()
    assert body["period"] == {"since": "2019-01-01", "until": "2020-01-07", "named": "in 2019"}
    assert {c["published"] for c in body["citations"]} == {"2019-05-02"}
    assert "end of 2020" in body["answer"]
    # Dates the request gives win over the question's.
    body = ask(
        dated_client, "when will coalition forces withdraw in 2019?", since="2020-01-01"
    ).get_json()
    assert body["period"] is None
    assert all(c["published"] >= "2020-01-01" for c in body["citations"])


@pytest.mark.parametrize(
    "raw",
    [
        '{"question": "when',
        "{'question': 'x'}",
        "",
        "\xff\xfe",
        # Deeper than Python's recursion limit: a RecursionError, once a 500.
        "[" * 100_000 + "]" * 100_000,
        '{"question": ' + "[" * 100_000 + "]" * 100_000 + "}",
        # Half a surrogate pair: accepted by Python, then a 500 in the tokenizer.
        '{"question": "when \\ud800?"}',
    ],
    ids=["cut", "quotes", "empty", "bytes", "deep", "deep-question", "surrogate"],
)
def test_malformed_json_is_400(client: SpecClient, raw: str) -> None:
    response = client.post("/api/ask", data=raw.encode("latin-1"), content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"


def test_wrong_content_type_is_415(client: SpecClient) -> None:
    response = client.post("/api/ask", data="question=when", content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_oversized_body_is_413(make_client: MakeClient) -> None:
    client = make_client(max_body_bytes=1000)
    body = json.dumps({"question": "x" * 2000})
    response = client.post("/api/ask", data=body, content_type="application/json")
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "body_too_large"
    assert f"has {len(body)} bytes" in error["message"]
    assert "limit of 1000 bytes" in error["message"]


def test_a_chunked_upload_over_the_limit_is_413_not_stored_cut_short(
    make_client: MakeClient,
) -> None:
    """Werkzeug reads a chunked body up to the limit and stops without an error; the app
    refuses it rather than store the article cut short. A chunked body within it is whole."""
    client = make_client(max_body_bytes=1000)

    def upload(body: bytes) -> TestResponse:
        headers = {**AUTH, "Content-Type": "text/plain", "Transfer-Encoding": "chunked"}
        # gunicorn, which de-chunks the body, says so in wsgi.input_terminated.
        return client.post(
            "/api/articles",
            input_stream=io.BytesIO(body),
            headers=headers,
            environ_overrides={"wsgi.input_terminated": True},
        )

    before = client.get("/api/articles").get_json()["total"]
    response = upload(b"Council news\n\n" + b"The council met on Monday. " * 100)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "body_too_large"
    assert client.get("/api/articles").get_json()["total"] == before
    whole = b"Council news\n\n" + b"The council met on Monday. " * 10
    response = upload(whole)
    assert response.status_code == 201
    stored = client.get(f"/api/articles/{response.get_json()['id']}").get_json()
    assert stored["text"] == whole.decode().split("\n\n", 1)[1].strip()


def test_question_length_limit_is_configurable(make_client: MakeClient) -> None:
    client = make_client(max_question_chars=10)
    response = ask(client, SEED_QUESTION)
    assert response.status_code == 400
    assert "10" in response.get_json()["error"]["message"]


def test_unknown_api_route_is_json_404(client: SpecClient) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = client.open(method, "/api/nothing-here")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_json_405(client: SpecClient) -> None:
    response = client.get("/api/ask")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]
    assert client.delete("/healthz").status_code == 405


# --- articles ----------------------------------------------------------------------------------


def test_articles_are_listed_in_pages(
    client: SpecClient, seed_components: Components, splitter: SpacySplitter
) -> None:
    seed_components.ingester(splitter).ingest_articles(load_file(OIL_ARTICLES, 10**7).articles)
    total = seed_components.index.store.count()
    first = client.get("/api/articles?limit=2").get_json()
    assert first["total"] == total and first["limit"] == 2 and len(first["items"]) == 2
    rest = client.get(f"/api/articles?offset=2&limit={total}").get_json()
    ids = [a["id"] for a in first["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == total
    assert all(item["sentence_count"] > 0 for item in first["items"])


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=x", "limit=", "limit=²", "offset=-1", "offset=1.5"]
)
def test_bad_paging_is_400(client: SpecClient, query: str) -> None:
    response = client.get(f"/api/articles?{query}")
    assert response.status_code == 400


def test_article_has_text_and_sentence_offsets(client: SpecClient) -> None:
    article = client.get(f"/api/articles/{seed_article_id(client)}").get_json()
    assert article["title"] == "Iraq says int'l coalition forces still needed to fight IS threat"
    assert article["source"] == "Xinhua" and article["published"] == "2020-10-11"
    for sentence in article["sentences"]:
        assert article["text"][sentence["start"] : sentence["end"]] == sentence["text"]
    cited = ask(client, SEED_QUESTION).get_json()["citations"][0]
    assert article["text"][cited["start"] : cited["end"]] == cited["sentence"]


def test_unknown_article_is_404(client: SpecClient) -> None:
    response = client.get("/api/articles/no-such-id")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "article_not_found"
    assert client.delete("/api/articles/no-such-id", headers=AUTH).status_code == 404


NEW_ARTICLE = {
    "id": "harbour-1",
    "title": "Harbour bridge to reopen in May",
    "text": "The city council said on Monday that the harbour bridge will reopen on May 3 "
    "after repairs.\n\nRepairs cost 40 million dollars, the mayor said.",
    "published": "2021-02-01",
    "source": "City Wire",
}


def test_post_json_article_adds_then_recognises_then_replaces(client: SpecClient) -> None:
    added = client.post("/api/articles", json=NEW_ARTICLE, headers=AUTH)
    assert added.status_code == 201
    assert added.get_json()["status"] == "added" and added.get_json()["id"] == "harbour-1"
    assert added.get_json()["ignored_fields"] == []
    assert added.headers["Location"] == "/api/articles/harbour-1"
    again = client.post("/api/articles", json=NEW_ARTICLE, headers=AUTH)
    assert again.status_code == 200 and again.get_json()["status"] == "unchanged"
    changed = {**NEW_ARTICLE, "text": NEW_ARTICLE["text"].replace("May 3", "May 4")}
    replaced = client.post("/api/articles", json=changed, headers=AUTH)
    assert replaced.get_json()["status"] == "replaced"
    stored = client.get("/api/articles/harbour-1").get_json()
    assert "May 4" in stored["text"] and stored["source"] == "City Wire"
    body = ask(client, "when will the harbour bridge reopen?").get_json()
    assert body["citations"][0]["article_id"] == "harbour-1"


HTML_PAGE = b"""<!doctype html><html><head><title>Dam project approved</title>
<meta property="og:site_name" content="Valley News">
<meta name="date" content="2021-03-04">
<script>alert('x')</script></head><body><article>
<h1>Dam project approved</h1>
<p>The regional government approved the river dam project on Thursday after ten years of
debate among farmers and environmental groups.</p>
<p>Construction is expected to start next spring and last four years, officials said.</p>
<iframe src="https://example.com/ad"></iframe>
<p onclick="steal()">The dam will supply water to about two hundred thousand homes.</p>
</article></body></html>"""


def test_article_ids_may_hold_slashes(client: SpecClient) -> None:
    record = {**NEW_ARTICLE, "id": "wire/2021/harbour-1"}
    assert client.post("/api/articles", json=record, headers=AUTH).status_code == 201
    for path in ("/api/articles/wire/2021/harbour-1", "/api/articles/wire%2F2021%2Fharbour-1"):
        assert client.get(path).get_json()["id"] == "wire/2021/harbour-1"
    response = client.delete("/api/articles/wire%2F2021%2Fharbour-1", headers=AUTH)
    assert response.status_code == 204


def test_fields_an_article_does_not_use_are_named_not_lost_silently(client: SpecClient) -> None:
    misspelt = {**NEW_ARTICLE, "id": "typo-1", "publised": "2021-02-01", "license": "CC BY"}
    del misspelt["published"]
    added = client.post("/api/articles", json=misspelt, headers=AUTH)
    assert added.status_code == 201
    assert added.get_json()["ignored_fields"] == ["license", "publised"]
    assert client.get("/api/articles/typo-1").get_json()["published"] is None
    upload = client.post(
        "/api/articles",
        data={"file": (io.BytesIO(json.dumps(misspelt).encode()), "typo.json")},
        content_type="multipart/form-data",
        headers=AUTH,
    )
    assert upload.get_json()["ignored_fields"] == ["license", "publised"]
    page = client.post("/api/articles", data=HTML_PAGE, content_type="text/html", headers=AUTH)
    assert page.get_json()["ignored_fields"] == []


def test_the_location_of_an_added_article_names_it_whatever_its_id_holds(
    client: SpecClient,
) -> None:
    for article_id in ("a b?c#d", "x%2Fy", "../../etc", "wire/2021/7", "caf\u00e9 \u65e5\u672c"):
        added = client.post("/api/articles", json={**NEW_ARTICLE, "id": article_id}, headers=AUTH)
        assert added.status_code == 201, added.get_json()
        assert client.get(added.headers["Location"]).get_json()["id"] == article_id


def test_an_id_holding_a_control_character_is_refused_and_nothing_stored(
    client: SpecClient,
) -> None:
    before = client.get("/api/articles").get_json()["total"]
    for article_id in ("a\nb", "a\x00b", "tab\there", "x" * 1_001, ".."):
        refused = client.post("/api/articles", json={**NEW_ARTICLE, "id": article_id}, headers=AUTH)
        assert refused.status_code == 422, article_id
        assert refused.get_json()["error"]["code"] == "invalid_article"
    assert client.get("/api/articles").get_json()["total"] == before


def test_post_html_body_and_upload(client: SpecClient) -> None:
    response = client.post("/api/articles", data=HTML_PAGE, content_type="text/html", headers=AUTH)
    assert response.status_code == 201, response.get_json()
    article = client.get(f"/api/articles/{response.get_json()['id']}").get_json()
    assert article["title"] == "Dam project approved"
    assert "approved the river dam project" in article["text"]
    assert "alert(" not in article["text"] and "steal()" not in article["text"]

    upload = client.post(
        "/api/articles",
        data={"file": (io.BytesIO(HTML_PAGE.replace(b"Dam", b"Bridge")), "bridge.html")},
        content_type="multipart/form-data",
        headers=AUTH,
    )
    assert upload.status_code == 201, upload.get_json()
    assert upload.get_json()["title"] == "Bridge project approved"


def test_post_plain_text_article(client: SpecClient) -> None:
    text = "Library extends opening hours\n\nThe central library will open until 10 p.m. daily."
    response = client.post("/api/articles", data=text, content_type="text/plain", headers=AUTH)
    assert response.status_code == 201
    assert response.get_json()["title"] == "Library extends opening hours"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"title": "No text"}}, 422, "invalid_article"),
        ({"json": {"title": "", "text": "Body."}}, 422, "invalid_article"),
        ({"json": {**NEW_ARTICLE, "published": "yesterday"}}, 422, "invalid_article"),
        ({"json": ["not", "an", "object"]}, 422, "invalid_article"),
        ({"data": "{bad json", "content_type": "application/json"}, 400, "malformed_json"),
        ({"data": "<html></html>", "content_type": "text/html"}, 422, "invalid_article"),
        ({"data": b"\x00\x01", "content_type": "application/octet-stream"}, 415, None),
        (
            {"data": {"file": (io.BytesIO(b"x"), "a.pdf")}, "content_type": "multipart/form-data"},
            415,
            None,
        ),
        ({"data": {}, "content_type": "multipart/form-data"}, 400, "missing_file"),
    ],
)
def test_bad_articles_are_refused(
    client: SpecClient, kwargs: dict[str, Any], status: int, code: str | None
) -> None:
    response = client.post("/api/articles", headers=AUTH, **kwargs)
    assert response.status_code == status
    if code:
        assert response.get_json()["error"]["code"] == code


def test_article_with_markup_is_stored_as_text(client: SpecClient) -> None:
    hostile = {
        "id": "hostile",
        "title": "Council <script>alert(1)</script> vote",
        "text": 'The council voted <script>alert("x")</script> on the budget on Monday. '
        'A resident wrote <img src=x onerror="alert(2)"> in the comments.',
    }
    assert client.post("/api/articles", json=hostile, headers=AUTH).status_code == 201
    stored = client.get("/api/articles/hostile").get_json()
    assert '<script>alert("x")</script>' in stored["text"]
    assert '<img src=x onerror="alert(2)">' in stored["text"]
    assert stored["title"] == hostile["title"]


def test_delete_removes_the_article_from_answers_at_once(client: SpecClient) -> None:
    article_id = seed_article_id(client)
    assert ask(client, SEED_QUESTION).get_json()["citations"]
    response = client.delete(f"/api/articles/{article_id}", headers=AUTH)
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/api/articles/{article_id}").status_code == 404
    after = ask(client, SEED_QUESTION).get_json()
    assert after["answerable"] is False
    assert all(c["article_id"] != article_id for c in after["citations"])
    assert client.get("/api/articles").get_json()["total"] == 0
    assert client.delete(f"/api/articles/{article_id}", headers=AUTH).status_code == 404


# --- auth and rate limits ----------------------------------------------------------------------


def test_writes_are_disabled_without_a_configured_token(make_client: MakeClient) -> None:
    client = make_client(api_token="")
    for response in (
        client.post("/api/articles", json=NEW_ARTICLE, headers=AUTH),
        client.delete("/api/articles/anything", headers=AUTH),
    ):
        assert response.status_code == 403
        error = response.get_json()["error"]
        assert error["code"] == "writes_disabled" and "QA_SERVER_API_TOKEN" in error["message"]
    assert ask(client, SEED_QUESTION).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
def test_writes_need_the_right_token(client: SpecClient, headers: dict[str, str]) -> None:
    article_id = seed_article_id(client)
    response = client.delete(f"/api/articles/{article_id}", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/api/articles", json=NEW_ARTICLE, headers=headers).status_code == 401
    assert client.get(f"/api/articles/{article_id}").status_code == 200  # still there


def test_ask_can_be_put_behind_the_token(make_client: MakeClient) -> None:
    client = make_client(protect_ask=True)
    assert ask(client, SEED_QUESTION).status_code == 401
    response = client.post("/api/ask", json={"question": SEED_QUESTION}, headers=AUTH)
    assert response.status_code == 200


def test_rate_limit_answers_429_as_json(make_client: MakeClient) -> None:
    client = make_client(rate_limit="3/minute")
    statuses = [client.get("/api/articles").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/articles")
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in limited.headers
    assert client.get("/healthz").status_code == 200  # health checks are not limited


# --- health, spec, page ------------------------------------------------------------------------


def test_healthz_says_what_is_indexed(client: SpecClient, settings: Settings) -> None:
    body = client.get("/healthz").get_json()
    assert body == {
        "status": "ok",
        "index_loaded": True,
        "articles": 1,
        "model": body["model"],
        "coverage": {
            "first_published": "2020-10-11",
            "last_published": "2020-10-11",
            "sources": [{"source": "Xinhua", "articles": 1}],
        },
    }
    assert body["model"]


def test_openapi_document_is_served_and_well_formed(client: SpecClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/ask",
        "/api/articles",
        "/api/articles/{article_id}",
        "/api/openapi.json",
        "/healthz",
    }
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    schemas = document["components"]["schemas"]
    assert {"since", "until", "sources"} <= set(schemas["AskRequest"]["properties"])
    assert {"timeline", "as_of", "period"} <= set(schemas["Answer"]["required"])
    # The fields the document promises are those the loader reads (the rest are ignored_fields).
    assert set(schemas["ArticleInput"]["properties"]) == RECORD_FIELDS


def test_page_is_served_offline_with_its_assets(client: SpecClient) -> None:
    with client.client.get("/") as page:
        assert page.status_code == 200 and page.mimetype == "text/html"
        html = page.get_data(as_text=True)
    assert 'name="viewport"' in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # no CDN
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for asset in ("/static/app.js", "/static/style.css"):
        with client.client.get(asset) as response:
            assert response.status_code == 200
            assert "http://" not in response.get_data(as_text=True)
    script = (REPO / "web" / "app.js").read_text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


def test_a_checkout_serves_its_own_web_folder() -> None:
    """From a checkout, or `pip install -e .`, the page is `web/` itself; an installed wheel's
    is `qa/web` inside the package (tests/test_packaging.py)."""
    assert default_web_dir() == REPO / "web"


def test_web_folder_can_be_configured(make_client: MakeClient, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>elsewhere</title>")
    client = make_client(web_dir=str(tmp_path))
    with client.client.get("/") as page:
        assert b"elsewhere" in page.data


def test_serve_command_configures_gunicorn_on_the_index(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    reader: SpanReader,
    seed_components: Components,
) -> None:
    """The options reach gunicorn, and a worker's app works on the index (built here without
    forking; tests/test_server.py starts the real thing)."""
    from qa.service.server import Server

    started: dict[str, Any] = {}

    def fake_run(server: Server) -> None:
        server.cfg.when_ready(SimpleNamespace(LISTENERS=["http://127.0.0.1:8123"]))
        app = server.load()
        started.update(
            bind=server.cfg.address,
            workers=server.cfg.workers,
            threads=server.cfg.threads,
            worker_class=server.cfg.worker_class_str,
            health=app.test_client().get("/healthz").get_json(),
        )
        server.cfg.worker_exit(
            SimpleNamespace(log=logging.getLogger("test")), SimpleNamespace(pid=1)
        )
        started["closed"] = server.components is None

    monkeypatch.setattr(Server, "run", fake_run)
    result = CliRunner().invoke(
        cli,
        [
            "serve",
            "--index",
            str(seed_components.index.folder),
            "--port",
            "8123",
            "--workers",
            "3",
            "--threads",
            "2",
        ],
        obj={"settings": settings, "embedder": embedder, "reader": reader},
    )
    assert result.exit_code == 0, result.output
    assert started["bind"] == [("127.0.0.1", 8123)]
    assert (started["workers"], started["threads"]) == (3, 2)
    assert started["worker_class"] == "gthread"
    assert started["health"]["articles"] == 1 and started["closed"]
    assert "serving 1 articles at http://127.0.0.1:8123/ with 3 workers" in result.output
    # The runtimes the models resolved, not the settings' words ("auto").
    said = f"questions and passages run under {embedder.runtime}, the reader under {reader.runtime}"
    assert "auto" not in said and said in result.output


def test_serve_command_refuses_a_missing_index(
    settings: Settings, embedder: SentenceTransformerEmbedder, reader: SpanReader, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli,
        ["serve", "--index", str(tmp_path / "none")],
        obj={"settings": settings, "embedder": embedder, "reader": reader},
    )
    assert result.exit_code == 1 and "no index in" in result.output
