"""Schema-based fuzzing: schemathesis generates requests from the app's own OpenAPI document,
valid ones and ones that break it (wrong types, missing fields, bad paths), for every operation,
and no response may be a server error. Writes are fuzzed too (with the token), on a private
copy of the seed index.

The cases are drawn with Hypothesis directly rather than through schemathesis's pytest plugin,
whose internals follow pytest's private API and break on pytest upgrades."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from qa.config import ServerSettings
from qa.ingest.sentences import SpacySplitter
from qa.service.app import create_app
from qa.wiring import Components

TOKEN = "fuzz-token"
EXAMPLES_PER_OPERATION_AND_MODE = 40


@pytest.fixture
def fuzzed_app(seed_components: Components, splitter: SpacySplitter) -> Flask:
    server = dataclasses.replace(ServerSettings(), api_token=TOKEN, rate_limit="")
    return create_app(seed_components, server=server, splitter=splitter)


def fuzz(operation: Any, mode: schemathesis.GenerationMode, sent: Counter[str]) -> None:
    """Send generated cases for one operation; raises on the first server error."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def no_server_error(case: schemathesis.Case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
        sent[operation.label] += 1
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)

    no_server_error()


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode))
def test_no_request_gets_a_server_error(
    fuzzed_app: Flask, mode: schemathesis.GenerationMode
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzzed_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6  # ask, list, get, add, delete, health (the spec covers them)
    sent: Counter[str] = Counter()
    nothing_to_break = []
    for operation in operations:
        try:
            fuzz(operation, mode, sent)
        except Unsatisfiable:
            nothing_to_break.append(operation.label)  # no input to make invalid
    # Only operations whose inputs are all free strings (an article id) or absent have nothing
    # invalid to send; every operation that takes a body or query is fuzzed in both modes.
    by_path_alone = {"GET /healthz", "GET /api/articles/{article_id}"}
    by_path_alone.add("DELETE /api/articles/{article_id}")
    assert set(nothing_to_break) <= by_path_alone
    for label in ("POST /api/ask", "POST /api/articles", "GET /api/articles"):
        assert sent[label] >= 5, sent
    print(f"{mode.value}: {sum(sent.values())} requests, {dict(sent)}")
