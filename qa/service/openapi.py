"""The OpenAPI 3.1 description of the HTTP API, served at `/api/openapi.json`.

Written by hand next to the views it describes; `tests/test_api.py` validates real responses
against these schemas, so a change to a response shape that is not made here fails a test.
OpenAPI 3.1 schemas are JSON Schema 2020-12, so any JSON Schema validator can check them.
"""

from __future__ import annotations

import copy
from typing import Any

from qa.ingest.loaders import MAX_ARTICLE_ID_CHARS
from qa.service.conversations import MAX_CONVERSATION_ID_CHARS
from qa.types import ABSTAIN_REASONS

# The most source names one question may be restricted to (the ask view enforces it).
MAX_SOURCES = 50
MAX_PAGE_SIZE = 100

_NULLABLE_STRING = {"type": ["string", "null"]}
_DATE = {"type": ["string", "null"], "format": "date"}
# What a citation, a listed article and a whole article all say about the article.
_ARTICLE_METADATA: dict[str, Any] = {
    "title": {"type": "string"},
    "source": _NULLABLE_STRING,
    "published": _DATE,
    "url": _NULLABLE_STRING,
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _object(
    properties: dict[str, Any], required: list[str] | None = None, closed: bool = False
) -> dict[str, Any]:
    """An object schema; `closed`: other fields are refused (a request's, 400 unknown_field)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": {"type": "string", "examples": ["empty_question"]},
                    "message": {"type": "string"},
                }
            )
        }
    ),
    "AskRequest": _object(
        {
            "question": {"type": "string", "minLength": 1},
            "top_k": {"type": "integer", "minimum": 1, "description": "Up to server.max_top_k."},
            "conversation_id": {"type": "string", "maxLength": MAX_CONVERSATION_ID_CHARS},
            "since": {
                "type": "string",
                "format": "date",
                "examples": ["2020-01-01"],
                "description": "Only articles published on or after this day (YYYY-MM-DD); "
                "undated articles are left out. Malformed: 400 invalid_date.",
            },
            "until": {
                "type": "string",
                "format": "date",
                "examples": ["2020-12-31"],
                "description": "Only articles published on or before this day (YYYY-MM-DD); "
                "undated articles are left out. Before `since`: 400 invalid_date.",
            },
            "sources": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "maxItems": MAX_SOURCES,
                "examples": [["Xinhua"]],
                "description": "Only articles from one of these sources (names compared "
                "case-insensitively); empty or absent: every source. Else 400 invalid_sources.",
            },
        },
        required=["question"],
        closed=True,
    ),
    "ResolvedDate": _object(
        {
            "expression": {"type": "string"},
            "date": {"type": "string", "format": "date"},
            "relation": {"type": "string", "enum": ["on", "by", "after", "before"]},
        }
    ),
    "Citation": _object(
        {
            "rank": {"type": "integer", "minimum": 1},
            "article_id": {"type": "string"},
            **_ARTICLE_METADATA,
            "sentence": {"type": "string"},
            "start": {"type": "integer", "minimum": 0},
            "end": {"type": "integer", "minimum": 0},
            "score": {"type": "number"},
            "resolved_dates": {"type": "array", "items": _ref("ResolvedDate")},
        },
        required=[
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
        ],
    ),
    "TimelineEntry": _object(
        {
            "published": _DATE,
            "article_id": {"type": "string"},
            "title": {"type": "string"},
            "answer": {
                "type": "string",
                "maxLength": 200,
                "description": "This article's own short answer (longer than 200 characters, "
                "cut at a word and ended with …).",
            },
            "sentence": {"type": "string", "description": "The sentence it rests on."},
            "start": {"type": "integer", "minimum": 0},
            "end": {"type": "integer", "minimum": 0},
        }
    ),
    "Period": _object(
        {
            "since": _DATE,
            "until": _DATE,
            "named": {"type": "string", "description": "The question's words that named it."},
        }
    ),
    "Answer": {
        **_object(
            {
                "question": {"type": "string"},
                "answerable": {"type": "boolean"},
                "answer": _NULLABLE_STRING,
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "abstain_reason": {
                    "type": ["string", "null"],
                    "enum": [*ABSTAIN_REASONS, None],
                    "description": "Null when answered. Why the articles do not say: "
                    "`not_in_archive` (a term of the question is in no article: "
                    "`missing_terms`), `not_in_cited_article` (the closest article lacks a "
                    "name or the year the question gives), `no_fitting_answer` (no sentence "
                    "read holds the kind of answer asked for, such as a number for 'how "
                    "many'), `low_confidence` (the evidence is too weak).",
                },
                "missing_terms": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The question's terms that no article holds, as the "
                    "question wrote them (empty unless `abstain_reason` is `not_in_archive`).",
                },
                "citations": {"type": "array", "items": _ref("Citation")},
                "as_of": {
                    **_DATE,
                    "description": "With a timeline: the day the answer holds for (the day "
                    "its sentence names, else its article's date); null otherwise.",
                },
                "timeline": {
                    "type": "array",
                    "items": _ref("TimelineEntry"),
                    "description": "When dated articles answer the question differently (a "
                    "figure that grew, another office holder), each answering article once, "
                    "oldest first, with its own answer; the answer is the newest's. Empty "
                    "when one article answers, or the articles agree.",
                },
                "period": {
                    "oneOf": [_ref("Period"), {"type": "null"}],
                    "description": "The period the question named ('in march 2020'), read as "
                    "the publication dates it was asked in; null when it named none, or the "
                    "request gave dates of its own.",
                },
                "timing_ms": {
                    "type": "object",
                    "additionalProperties": {"type": "number"},
                    "required": ["retrieve", "answer", "total"],
                },
                "conversation_id": {
                    "type": "string",
                    "description": "Send it back with the next question to ask a follow-up.",
                },
            },
            required=[
                "question",
                "answerable",
                "answer",
                "confidence",
                "abstain_reason",
                "missing_terms",
                "citations",
                "as_of",
                "timeline",
                "period",
                "timing_ms",
                "conversation_id",
            ],
        ),
        "description": "The same JSON as `qa ask --json`, plus `conversation_id`. When "
        "`answerable` is false, `answer` is null and the citations are the closest matches.",
    },
    "ArticleSummary": _object(
        {
            "id": {"type": "string"},
            **_ARTICLE_METADATA,
            "sentence_count": {"type": "integer", "minimum": 0},
        }
    ),
    "ArticleList": _object(
        {
            "items": {"type": "array", "items": _ref("ArticleSummary")},
            "total": {"type": "integer", "minimum": 0},
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1},
        }
    ),
    "Article": _object(
        {
            "id": {"type": "string"},
            **_ARTICLE_METADATA,
            "dateline": _NULLABLE_STRING,
            "text": {"type": "string", "description": "Cleaned text; offsets point into it."},
            "sentences": {
                "type": "array",
                "items": _object(
                    {
                        "position": {"type": "integer", "minimum": 0},
                        "start": {"type": "integer", "minimum": 0},
                        "end": {"type": "integer", "minimum": 0},
                        "text": {"type": "string"},
                    }
                ),
            },
        }
    ),
    "ArticleInput": _object(
        {
            "title": {"type": "string", "minLength": 1},
            "text": {"type": "string", "minLength": 1},
            "published": {"type": ["string", "null"], "examples": ["2020-10-11"]},
            "source": _NULLABLE_STRING,
            "url": _NULLABLE_STRING,
            "id": {
                "type": ["string", "integer", "null"],
                "maxLength": MAX_ARTICLE_ID_CHARS,
                "description": "Kept as given (a number becomes its text); no control "
                "characters, not '.' or '..'. Without it the id is derived from the URL, "
                "else from the content.",
            },
        },
        required=["title", "text"],
    ),
    "ArticleAdded": _object(
        {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "string", "enum": ["added", "replaced", "unchanged"]},
            "sentence_count": {"type": "integer", "minimum": 0},
            "ignored_fields": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Fields of a JSON article that are not ArticleInput's: kept "
                "nowhere, named so that a misspelt one is seen.",
            },
        }
    ),
    "Health": _object(
        {
            "status": {"type": "string", "enum": ["ok"]},
            "index_loaded": {"type": "boolean"},
            "articles": {"type": "integer", "minimum": 0},
            "model": {"type": "string"},
            "coverage": _object(
                {
                    "first_published": {"type": ["string", "null"], "format": "date"},
                    "last_published": {"type": ["string", "null"], "format": "date"},
                    "sources": {
                        "type": "array",
                        "items": _object(
                            {
                                "source": {"type": ["string", "null"]},
                                "articles": {"type": "integer", "minimum": 1},
                            }
                        ),
                    },
                }
            ),
        }
    ),
}

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
                "content": {"application/json": {"schema": _ref("AskRequest")}},
            },
            "responses": {
                "200": _json(_ref("Answer"), "The answer and its citations."),
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
                "200": _json(_ref("ArticleList"), "One page of articles and the total."),
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
                    "application/json": {"schema": _ref("ArticleInput")},
                    "text/html": {"schema": {"type": "string"}},
                    "text/plain": {
                        "schema": {"type": "string", "description": "First line: headline."}
                    },
                    "multipart/form-data": {
                        "schema": _object(
                            {"file": {"type": "string", "contentMediaType": "text/html"}}
                        )
                    },
                },
            },
            "responses": {
                "200": _json(_ref("ArticleAdded"), "Replaced a changed version, or unchanged."),
                "201": _json(_ref("ArticleAdded"), "Added."),
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
                "200": _json(_ref("Article"), "The article."),
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
            "responses": {"200": _json(_ref("Health"), "Serving."), "405": _COMMON_ERRORS["405"]},
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
