"""The OpenAPI 3.1 description of the HTTP API, served at `/api/openapi.json`: its paths, written
by hand next to the views they describe, over the schemas of qa.service.schemas.
"""

from __future__ import annotations

import copy
from typing import Any

from qa.service.schemas import MAX_PAGE_SIZE, SCHEMAS, object_schema, ref


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(ref("Error"), description)


_COMMON_ERRORS = {
    "405": _error("Method not allowed for this path."),
    "429": _error("Too many requests from this client (server.rate_limit)."),
}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_AUTH_ERRORS = {
    "401": _error("Missing or wrong bearer token."),
    "403": _error("Write endpoints are disabled: no API token is configured."),
}
_ARTICLE_ID = {"name": "article_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _query_parameter(name: str, minimum: int, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return {"name": name, "in": "query", "required": False, "schema": schema}


PATHS: dict[str, Any] = {
    "/api/ask": {
        "post": {
            "summary": "Answer a question with cited sentences",
            "description": "Open by default; behind the bearer token when server.protect_ask.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("AskRequest")}},
            },
            "responses": {
                "200": _json(ref("Answer"), "The answer and its citations."),
                "400": _error(
                    "Malformed JSON, missing/non-string/empty/too long question, bad top_k "
                    "or conversation_id, a since/until not written YYYY-MM-DD or since after "
                    "until (invalid_date), sources not a list of names (invalid_sources), a "
                    "field the request does not define (unknown_field)."
                ),
                **_AUTH_ERRORS,
                "413": _error("Body over server.max_body_bytes."),
                "415": _error("Not sent as application/json."),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/articles": {
        "get": {
            "summary": "List articles, newest first",
            "parameters": [
                _query_parameter("offset", 0),
                _query_parameter("limit", 1, MAX_PAGE_SIZE),
            ],
            "responses": {
                "200": _json(ref("ArticleList"), "One page of articles and the total."),
                "400": _error("offset or limit out of range."),
                **_COMMON_ERRORS,
            },
        },
        "post": {
            "summary": "Add (or replace) an article",
            "security": _BEARER,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": ref("ArticleInput")},
                    "text/html": {"schema": {"type": "string"}},
                    "text/plain": {
                        "schema": {"type": "string", "description": "First line: headline."}
                    },
                    "multipart/form-data": {
                        "schema": object_schema(
                            {"file": {"type": "string", "contentMediaType": "text/html"}}
                        )
                    },
                },
            },
            "responses": {
                "200": _json(ref("ArticleAdded"), "Replaced a changed version, or unchanged."),
                "201": _json(ref("ArticleAdded"), "Added."),
                "400": _error("Malformed JSON or no file in the form."),
                **_AUTH_ERRORS,
                "413": _error("Body over server.max_body_bytes."),
                "415": _error("Unsupported content type or file type."),
                "422": _error("Not a usable article (no title, no text, bad date...)."),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/articles/{article_id}": {
        "get": {
            "summary": "One article: cleaned text and sentences with offsets",
            "parameters": [_ARTICLE_ID],
            "responses": {
                "200": _json(ref("Article"), "The article."),
                "404": _error("No article has this id."),
                **_COMMON_ERRORS,
            },
        },
        "delete": {
            "summary": "Remove an article from the index and from answers at once",
            "security": _BEARER,
            "parameters": [_ARTICLE_ID],
            "responses": {
                "204": {"description": "Deleted."},
                **_AUTH_ERRORS,
                "404": _error("No article has this id."),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1 document."}, **_COMMON_ERRORS},
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness, and what is indexed: articles, dates, sources",
            "responses": {"200": _json(ref("Health"), "Serving."), "405": _COMMON_ERRORS["405"]},
        }
    },
}


def openapi_document() -> dict[str, Any]:
    """The whole document (a fresh copy each call, so callers may change it)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "qa",
            "version": "0.1.0",
            "description": "Ask questions of news articles; answers cite the sentences they "
            'rest on. Every error is JSON {"error": {"code", "message"}}.',
        },
        "paths": copy.deepcopy(PATHS),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
