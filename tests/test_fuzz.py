"""Schema-based fuzzing: schemathesis generates requests from the app's own OpenAPI document
(valid and invalid bodies, parameters and paths) and no response may be a server error.

Writes are fuzzed too (with the token), on a private copy of the seed index."""

from __future__ import annotations

import dataclasses

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings

from qa.app import create_app
from qa.config import ServerSettings
from qa.text import SpacySplitter
from qa.wiring import Components

TOKEN = "fuzz-token"


@pytest.fixture
def fuzzed_app(seed_components: Components, splitter: SpacySplitter) -> Flask:
    server = dataclasses.replace(ServerSettings(), api_token=TOKEN, rate_limit="")
    return create_app(seed_components, server=server, splitter=splitter)


@pytest.fixture
def api_schema(fuzzed_app: Flask) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/openapi.json", fuzzed_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
