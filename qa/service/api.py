"""The JSON API: ask (with conversations), list/read/add/delete articles, health, OpenAPI.

Views validate the request, call the pipeline or the index, and return what `qa.service.serialize`
builds; failures raise and `qa.service.errors` turns them into JSON errors. The heavy parts come
from the `ServiceState` the app factory put in `app.extensions`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import threading
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request

from qa.answering.retrieve import InvalidDateError, article_filter, parse_day
from qa.config import ServerSettings
from qa.ingest.clean import has_control_characters
from qa.ingest.ingester import Ingester, IngestReport
from qa.ingest.loaders import (
    article_from_html,
    article_from_record,
    article_from_text,
    decode_bytes,
    parse_json,
    unused_fields,
)
from qa.service.conversations import MAX_CONVERSATION_ID_CHARS, ConversationStore
from qa.service.errors import ApiError
from qa.service.openapi import openapi_document
from qa.service.schemas import MAX_PAGE_SIZE, MAX_SOURCES, SCHEMAS
from qa.service.serialize import answer_to_json, article_to_json, coverage_to_json, summary_to_json
from qa.types import Article, ArticleFilter
from qa.wiring import Components

STATE_KEY = "qa"
DEFAULT_PAGE_SIZE = 20
# What an ask may hold: the fields the OpenAPI document gives AskRequest, so the two cannot differ.
ASK_FIELDS = frozenset(SCHEMAS["AskRequest"]["properties"])
UPLOAD_FIELD = "file"

api = Blueprint("api", __name__, url_prefix="/api")
health = Blueprint("health", __name__)


@dataclass
class ServiceState:
    """What the views share: the heavy parts, the server settings, and the write lock that keeps
    one ingest or delete at a time (the splitter is not safe to share between threads)."""

    components: Components
    server: ServerSettings
    ingester: Ingester
    conversations: ConversationStore
    write_lock: threading.Lock


def _state() -> ServiceState:
    state: ServiceState = current_app.extensions[STATE_KEY]
    return state


def _require_token(server: ServerSettings, action: str) -> None:
    """Refuse unless the request carries the configured bearer token (compared in constant
    time). With no token configured the protected endpoints are off, not open."""
    if not server.api_token:
        raise ApiError(
            403,
            "writes_disabled",
            f"{action} is disabled: no API token is configured "
            "(set server.api_token in config.yaml or QA_SERVER_API_TOKEN)",
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise ApiError(401, "unauthorized", f"{action} needs 'Authorization: Bearer <token>'")
    if not hmac.compare_digest(given.strip().encode(), server.api_token.encode()):
        raise ApiError(401, "unauthorized", "the bearer token is not valid")


def _json_body() -> Any:
    """The request's JSON value: 415 unless sent as application/json, 400 when malformed."""
    if not request.is_json:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send JSON with 'Content-Type: application/json' (got {request.mimetype or 'none'})",
        )
    raw = request.get_data()  # over MAX_CONTENT_LENGTH this raises 413
    try:
        return parse_json(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from error


def _int_field(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, f"invalid_{name}", f"'{name}' must be an integer from {low} to {high}")
    return value


def _query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = int(raw) if raw.strip().lstrip("-").isdecimal() else None
    return _int_field(value, name, low, high)


@dataclass(frozen=True)
class AskRequest:
    question: str
    top_k: int
    conversation_id: str | None
    where: ArticleFilter | None


def _day_field(body: dict[str, Any], name: str) -> dt.date | None:
    """The optional day in `body[name]`; InvalidDateError (400 invalid_date) when malformed."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidDateError(f"'{name}' must be a day written YYYY-MM-DD, not {value!r}")
    return parse_day(value, f"'{name}'")


def _sources_field(value: Any) -> list[str]:
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_SOURCES
        or not all(isinstance(name, str) and name.strip() for name in value)
    ):
        raise ApiError(
            400,
            "invalid_sources",
            f"'sources' must be a list of at most {MAX_SOURCES} non-empty source names",
        )
    return value


def _ask_request(body: Any, server: ServerSettings, default_top_k: int) -> AskRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object with a 'question'")
    # A misspelt filter ("source", "from") would otherwise be ignored, and the answer drawn from
    # every article without the asker knowing.
    unknown = sorted(set(body) - ASK_FIELDS)
    if unknown:
        raise ApiError(
            400,
            "unknown_field",
            f"unknown field(s) {', '.join(map(repr, unknown))}; an ask takes "
            f"{', '.join(sorted(ASK_FIELDS))}",
        )
    question = body.get("question")
    if question is None:
        raise ApiError(400, "missing_question", "the body needs a 'question' string")
    if not isinstance(question, str):
        raise ApiError(400, "invalid_question", "'question' must be a string")
    if not question.strip():
        raise ApiError(400, "empty_question", "the question is empty")
    if len(question) > server.max_question_chars:
        raise ApiError(
            400,
            "question_too_long",
            f"the question has {len(question)} characters; the limit is "
            f"{server.max_question_chars}",
        )
    top_k = body.get("top_k", default_top_k)
    top_k = _int_field(top_k, "top_k", 1, server.max_top_k)
    conversation_id = body.get("conversation_id")
    if conversation_id is not None and (
        not isinstance(conversation_id, str)
        or len(conversation_id) > MAX_CONVERSATION_ID_CHARS
        or has_control_characters(conversation_id)
    ):
        raise ApiError(
            400,
            "invalid_conversation_id",
            f"'conversation_id' must be a string of at most {MAX_CONVERSATION_ID_CHARS} "
            "characters, as returned by an earlier answer",
        )
    where = article_filter(
        _day_field(body, "since"), _day_field(body, "until"), _sources_field(body.get("sources"))
    )
    return AskRequest(question, top_k, conversation_id, where)


@api.post("/ask")
def ask() -> Response:
    state = _state()
    if state.server.protect_ask:
        _require_token(state.server, "asking")
    wanted = _ask_request(_json_body(), state.server, state.components.settings.answer.top_k)
    conversation_id, earlier_terms = state.conversations.terms_for(
        wanted.conversation_id, wanted.question
    )
    answer = state.components.pipeline.ask(
        wanted.question, wanted.top_k, context=earlier_terms, where=wanted.where
    )
    # The question as answered: the pipeline's, without control characters (a NUL would not
    # go into a PostgreSQL store).
    state.conversations.record(conversation_id, answer.question)
    return jsonify({**answer_to_json(answer), "conversation_id": conversation_id})


@api.get("/articles")
def list_articles() -> Response:
    store = _state().components.index.store
    offset = _query_int("offset", 0, 0, 2**31 - 1)
    limit = _query_int("limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    items = [summary_to_json(s) for s in store.list_articles(offset, limit)]
    return jsonify({"items": items, "total": store.count(), "offset": offset, "limit": limit})


@api.get("/articles/<path:article_id>")
def get_article(article_id: str) -> Response:
    article, sentences = _state().components.index.store.get(article_id)
    return jsonify(article_to_json(article, sentences))


def _record_article(record: Any, where: str) -> tuple[Article, list[str]]:
    """The article of a JSON record, and the record's fields it does not use (named in the
    answer; see loaders.unused_fields)."""
    article = article_from_record(record, where)
    return article, unused_fields(record)


def _uploaded_article() -> tuple[Article, list[str]]:
    """The article in the request: a JSON record, an HTML or text body, or a multipart file
    (.html/.htm/.txt/.json) in the form field 'file'; and the JSON record's fields it ignored.
    Loading and cleaning are the loaders'."""
    mimetype = request.mimetype
    if request.is_json:
        return _record_article(_json_body(), "request body")
    if mimetype == "text/html":
        return article_from_html(request.get_data(), "request body"), []
    if mimetype == "text/plain":
        text = decode_bytes(request.get_data(), "request body")
        return article_from_text(text, "request body"), []
    if mimetype == "multipart/form-data":
        upload = request.files.get(UPLOAD_FIELD)
        if upload is None or not upload.filename:
            raise ApiError(
                400, "missing_file", f"upload the article in the form field '{UPLOAD_FIELD}'"
            )
        name = PurePath(upload.filename).name
        data = upload.read()
        suffix = PurePath(name).suffix.lower()
        if suffix in {".html", ".htm"}:
            return article_from_html(data, name), []
        if suffix == ".txt":
            return article_from_text(decode_bytes(data, name), name), []
        if suffix == ".json":
            try:
                record = parse_json(decode_bytes(data, name))
            except json.JSONDecodeError as error:
                raise ApiError(400, "malformed_json", f"{name}: not valid JSON: {error}") from error
            return _record_article(record, name)
        raise ApiError(415, "unsupported_media_type", f"{name}: upload .html, .htm, .txt or .json")
    raise ApiError(
        415,
        "unsupported_media_type",
        "send application/json, text/html, text/plain or multipart/form-data "
        f"(got {mimetype or 'none'})",
    )


def _ingest_outcome(report: IngestReport, article_id: str) -> tuple[str, int]:
    if report.skipped:
        raise ApiError(422, "invalid_article", "; ".join(report.skipped))
    if article_id in report.added:
        return "added", 201
    if article_id in report.replaced:
        return "replaced", 200
    return "unchanged", 200


@api.post("/articles")
def add_article() -> tuple[Response, int]:
    state = _state()
    _require_token(state.server, "adding articles")
    article, ignored_fields = _uploaded_article()
    with state.write_lock:
        report = state.ingester.ingest_articles([article])
    status_word, status = _ingest_outcome(report, article.id)
    _, sentences = state.components.index.store.get(article.id)
    body = {
        "id": article.id,
        "title": article.title,
        "status": status_word,
        "sentence_count": len(sentences),
        "ignored_fields": ignored_fields,
    }
    response = jsonify(body)
    # Quoted whole ("/" too: the route takes it back), so that an id holding "?", "#", "%" or
    # ".." still names its article.
    response.headers["Location"] = f"/api/articles/{quote(article.id, safe='')}"
    return response, status


@api.delete("/articles/<path:article_id>")
def delete_article(article_id: str) -> tuple[str, int]:
    state = _state()
    _require_token(state.server, "deleting articles")
    with state.write_lock:
        state.components.index.delete(article_id)
    return "", 204


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@health.get("/healthz")
def healthz() -> Response:
    components = _state().components
    coverage = components.index.store.coverage()
    return jsonify(
        {
            "status": "ok",
            "index_loaded": True,
            "articles": coverage.articles,
            "model": components.index.manifest.model,
            "coverage": coverage_to_json(coverage),
        }
    )
