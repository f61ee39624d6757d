"""Rate-limit counters in the store: windows, expiry, atomic counting across connections, on
SQLite and PostgreSQL; apps on one store (as `qa serve` workers are) share one limit."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from backends import DATABASES, empty_database
from conftest import Clock
from qa.config import ConfigError, ServerSettings
from qa.ingest.sentences import SpacySplitter
from qa.models.reader import SpanReader
from qa.service.app import create_app
from qa.service.rate_limits import DatabaseRateLimitStorage, limiter_storage
from qa.store.database import Database
from qa.wiring import Components, open_components

KEY = "LIMITER/127.0.0.1/api/3/1/minute"


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with empty_database(request.param, tmp_path / "store") as opened:
        yield opened


def test_a_window_counts_hits_then_starts_afresh(database: Database) -> None:
    clock = Clock()
    storage = DatabaseRateLimitStorage(database=database, clock=clock)
    assert storage.get(KEY) == 0 and storage.get_expiry(KEY) == clock.now
    assert [storage.incr(KEY, 60) for _ in range(3)] == [1, 2, 3]
    assert storage.incr(KEY, 60, amount=2) == 5
    assert storage.get(KEY) == 5 and storage.get_expiry(KEY) == clock.now + 60
    clock.now += 59
    assert storage.incr(KEY, 60) == 6  # the window does not move with each hit
    clock.now += 1
    assert storage.get(KEY) == 0
    assert storage.incr(KEY, 60) == 1 and storage.get_expiry(KEY) == clock.now + 60
    storage.clear(KEY)
    assert storage.get(KEY) == 0
    storage.incr("other", 60)
    assert storage.reset() == 1 and storage.get("other") == 0
    assert storage.check()


def test_storages_on_one_database_count_together(database: Database) -> None:
    """Two workers' storages, hit from several threads at once, lose no hit."""
    storages = [DatabaseRateLimitStorage(database=database) for _ in range(2)]
    counts: list[int] = []

    def hit(storage: DatabaseRateLimitStorage) -> None:
        for _ in range(25):
            counts.append(storage.incr(KEY, 60))

    threads = [threading.Thread(target=hit, args=(storages[n % 2],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 101))
    assert storages[0].get(KEY) == storages[1].get(KEY) == 100


def test_expired_counters_are_deleted(database: Database) -> None:
    clock = Clock()
    storage = DatabaseRateLimitStorage(database=database, clock=clock)
    storage.incr("gone", 10)
    clock.now += 3600
    storage.incr(KEY, 60)
    keys = [row["key"] for row in database.execute("SELECT key FROM rate_limits")]
    assert keys == [KEY]


def test_storage_setting(database: Database) -> None:
    assert limiter_storage("store", database) == ("qa-store://", {"database": database})
    assert limiter_storage("redis://cache:6379", database) == ("redis://cache:6379", {})
    with pytest.raises(ConfigError, match="rate_limit_storage"):
        limiter_storage("redis", database)


MakeClients = Callable[..., list[FlaskClient]]


@pytest.fixture
def two_clients(
    seed_components: Components, splitter: SpacySplitter, reader: SpanReader
) -> Iterator[MakeClients]:
    """Makes the test clients of two apps on the seed index, each on its own connection (as two
    workers are), with server settings changed as given."""
    opened: list[Components] = []

    def make(**changes: str) -> list[FlaskClient]:
        server = dataclasses.replace(ServerSettings(), **changes)
        second = open_components(
            seed_components.settings,
            embedder=seed_components.embedder,
            index_dir=seed_components.index.folder,
            reader=reader,
        )
        opened.append(second)
        return [
            create_app(components, server=server, splitter=splitter).test_client()
            for components in (seed_components, second)
        ]

    yield make
    for components in opened:
        components.close()


def statuses_of_six_requests(clients: list[FlaskClient]) -> list[int]:
    """Six requests, taking turns between the clients."""
    return [clients[n % 2].get("/api/articles").status_code for n in range(6)]


def test_apps_on_one_store_share_the_limit(two_clients: MakeClients) -> None:
    statuses = statuses_of_six_requests(two_clients(rate_limit="3/minute"))
    assert statuses.count(200) == 3 and statuses.count(429) == 3


def test_memory_storage_counts_per_app(two_clients: MakeClients) -> None:
    clients = two_clients(rate_limit="3/minute", rate_limit_storage="memory://")
    assert statuses_of_six_requests(clients) == [200] * 6


def test_an_unusable_storage_is_a_configuration_error(
    seed_components: Components, splitter: SpacySplitter
) -> None:
    server = dataclasses.replace(ServerSettings(), rate_limit_storage="nosuch://host")
    with pytest.raises(ConfigError, match="nosuch://host"):
        create_app(seed_components, server=server, splitter=splitter)
