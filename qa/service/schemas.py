"""JSON Schemas of the HTTP API's requests and responses (OpenAPI 3.1 schemas are JSON Schema
2020-12), and the limits they state. `tests/test_api.py` validates real responses against them,
so a change to a response shape that is not made here fails a test.
"""

from __future__ import annotations

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


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def object_schema(
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
    "Error": object_schema(
        {
            "error": object_schema(
                {
                    "code": {"type": "string", "examples": ["empty_question"]},
                    "message": {"type": "string"},
                }
            )
        }
    ),
    "AskRequest": object_schema(
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
    "ResolvedDate": object_schema(
        {
            "expression": {"type": "string"},
            "date": {"type": "string", "format": "date"},
            "relation": {"type": "string", "enum": ["on", "by", "after", "before"]},
        }
    ),
    "Citation": object_schema(
        {
            "rank": {"type": "integer", "minimum": 1},
            "article_id": {"type": "string"},
            **_ARTICLE_METADATA,
            "sentence": {"type": "string"},
            "start": {"type": "integer", "minimum": 0},
            "end": {"type": "integer", "minimum": 0},
            "score": {"type": "number"},
            "resolved_dates": {"type": "array", "items": ref("ResolvedDate")},
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
    "TimelineEntry": object_schema(
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
    "Period": object_schema(
        {
            "since": _DATE,
            "until": _DATE,
            "named": {"type": "string", "description": "The question's words that named it."},
        }
    ),
    "Answer": {
        **object_schema(
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
                "citations": {"type": "array", "items": ref("Citation")},
                "as_of": {
                    **_DATE,
                    "description": "With a timeline: the day the answer holds for (the day "
                    "its sentence names, else its article's date); null otherwise.",
                },
                "timeline": {
                    "type": "array",
                    "items": ref("TimelineEntry"),
                    "description": "When dated articles answer the question differently (a "
                    "figure that grew, another office holder), each answering article once, "
                    "oldest first, with its own answer; the answer is the newest's. Empty "
                    "when one article answers, or the articles agree.",
                },
                "period": {
                    "oneOf": [ref("Period"), {"type": "null"}],
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
    "ArticleSummary": object_schema(
        {
            "id": {"type": "string"},
            **_ARTICLE_METADATA,
            "sentence_count": {"type": "integer", "minimum": 0},
        }
    ),
    "ArticleList": object_schema(
        {
            "items": {"type": "array", "items": ref("ArticleSummary")},
            "total": {"type": "integer", "minimum": 0},
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1},
        }
    ),
    "Article": object_schema(
        {
            "id": {"type": "string"},
            **_ARTICLE_METADATA,
            "dateline": _NULLABLE_STRING,
            "text": {"type": "string", "description": "Cleaned text; offsets point into it."},
            "sentences": {
                "type": "array",
                "items": object_schema(
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
    "ArticleInput": object_schema(
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
    "ArticleAdded": object_schema(
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
    "Health": object_schema(
        {
            "status": {"type": "string", "enum": ["ok"]},
            "index_loaded": {"type": "boolean"},
            "articles": {"type": "integer", "minimum": 0},
            "model": {"type": "string"},
            "coverage": object_schema(
                {
                    "first_published": {"type": ["string", "null"], "format": "date"},
                    "last_published": {"type": ["string", "null"], "format": "date"},
                    "sources": {
                        "type": "array",
                        "items": object_schema(
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
