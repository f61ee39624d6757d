"""HTTP errors: every failure the API returns is `{"error": {"code", "message"}}` with a 4xx/5xx.

This is the one place where the project's exceptions become HTTP statuses, so a new exception
type is mapped here once rather than caught in every view. Bad input never becomes a 500.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from qa.answering.pipeline import EmptyQuestionError
from qa.answering.retrieve import InvalidDateError
from qa.ingest.loaders import ArticleError
from qa.store.articles import ArticleNotFoundError

log = logging.getLogger(__name__)

# Werkzeug's HTTP errors by status, as stable machine-readable codes.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
}


class ApiError(Exception):
    """A request the API refuses, with the status and code the client gets."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def _api_error(error: ApiError) -> tuple[Response, int]:
    response, status = error_response(error.status, error.code, error.message)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="qa"'
    return response, status


def _http_error(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    message = error.description or error.name
    if status == 429:
        message = f"too many requests: the limit is {error.description}; slow down and retry"
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        sent = request.content_length
        message = (
            f"the body{f' has {sent} bytes; it' if sent else ''} is over the limit of {limit} "
            "bytes (server.max_body_bytes)"
        )
    response, status = error_response(status, HTTP_CODES.get(status, "http_error"), message)
    for name, value in error.get_headers():
        if name.lower() in {"allow", "retry-after"}:
            response.headers[name] = value
    return response, status


def _empty_question(error: EmptyQuestionError) -> tuple[Response, int]:
    return error_response(400, "empty_question", str(error))


def _invalid_date(error: InvalidDateError) -> tuple[Response, int]:
    return error_response(400, "invalid_date", str(error))


def _article_not_found(error: ArticleNotFoundError) -> tuple[Response, int]:
    article_id = error.args[0] if error.args else ""
    return error_response(404, "article_not_found", f"no article has the id {article_id!r}")


def _bad_article(error: ArticleError) -> tuple[Response, int]:
    return error_response(422, "invalid_article", str(error))


def _unexpected(error: Exception) -> tuple[Response, int]:
    log.exception("unhandled error while serving a request", exc_info=error)
    return error_response(500, "internal_error", "the server failed; the log says why")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(EmptyQuestionError, _empty_question)
    app.register_error_handler(InvalidDateError, _invalid_date)
    app.register_error_handler(ArticleNotFoundError, _article_not_found)
    app.register_error_handler(ArticleError, _bad_article)
    app.register_error_handler(Exception, _unexpected)
