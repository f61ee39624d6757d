"""Choosing and reaching a database: locations, and errors that name it without its password."""

import sys
import threading
from pathlib import Path

import pytest

from backends import DATABASES, database_connector
from fakes import HashEmbedder
from qa.config import AnswerSettings, Settings, StoreSettings
from qa.service.conversations import ConversationStore
from qa.service.rate_limits import DatabaseRateLimitStorage
from qa.store.articles import ArticleStore
from qa.store.database import (
    DatabaseError,
    MissingClientError,
    SQLiteDatabase,
    open_database,
    redact_password,
)
from qa.wiring import open_components


def test_locations(tmp_path: Path) -> None:
    default = open_database("sqlite", tmp_path, "store.sqlite")
    elsewhere = open_database(f"sqlite:///{tmp_path}/other.sqlite", tmp_path, "store.sqlite")
    try:
        assert isinstance(default, SQLiteDatabase) and default.name == str(
            tmp_path / "store.sqlite"
        )
        assert elsewhere.name == f"{tmp_path}/other.sqlite"
    finally:
        default.close()
        elsewhere.close()
    with pytest.raises(DatabaseError, match="mysql://"):
        open_database("mysql://db/qa", tmp_path, "store.sqlite")


def test_unreachable_postgres_is_named_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://qa:s3cret@127.0.0.1:1/qa?connect_timeout=2"
    with pytest.raises(DatabaseError) as raised:
        open_database(url, tmp_path, "store.sqlite")
    assert "cannot connect to postgresql://qa:***@127.0.0.1:1/qa" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_an_unreachable_postgresql_store_is_not_called_unreadable(tmp_path: Path) -> None:
    """The server being down says nothing about the store: no advice to rebuild it."""
    settings = Settings(
        store=StoreSettings(url="postgresql://qa:s3cret@127.0.0.1:1/qa?connect_timeout=2"),
        answer=AnswerSettings(reader=False),
    )
    with pytest.raises(DatabaseError) as raised:
        open_components(
            settings, embedder=HashEmbedder(), create=True, index_dir=tmp_path / "index"
        )
    assert "cannot connect to postgresql://qa:***@127.0.0.1:1/qa" in str(raised.value)
    assert "ingest" not in str(raised.value) and "s3cret" not in str(raised.value)


def test_a_postgresql_store_without_psycopg_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` raises ImportError
    with pytest.raises(MissingClientError) as raised:
        open_database("postgresql://qa:s3cret@127.0.0.1:5432/qa", tmp_path, "store.sqlite")
    assert str(raised.value) == (
        "PostgreSQL stores need the postgres extra: pip install 'qa[postgres]'"
    )


def test_redact_password() -> None:
    assert redact_password("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert redact_password("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact_password("sqlite") == "sqlite"


@pytest.mark.parametrize("kind", DATABASES)
def test_replicas_starting_together_on_a_fresh_database_all_open_it(
    kind: str, tmp_path: Path
) -> None:
    """Each creates the tables it finds missing; on PostgreSQL two CREATE TABLE IF NOT EXISTS
    of one table at once fail unless they take turns (six at once failed 10 times in 10)."""
    replicas = 6
    with database_connector(kind, tmp_path) as connect:
        started = threading.Barrier(replicas)
        errors: list[Exception] = []
        identities: list[str | None] = []

        def start_replica() -> None:
            try:
                database = connect()
            except Exception as error:  # noqa: BLE001 - every failure is the test's finding
                errors.append(error)
                started.abort()  # the others stop waiting, and the test reports the error
                return
            try:
                started.wait(timeout=120)
                store = ArticleStore(database, 8, "model")
                ConversationStore(database, 60.0, 10)
                DatabaseRateLimitStorage(database=database)
                identities.append(store.get_meta("identity"))
            except Exception as error:  # noqa: BLE001 - every failure is the test's finding
                errors.append(error)
            finally:
                database.close()

        threads = [threading.Thread(target=start_replica) for _ in range(replicas)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert len(identities) == replicas and len(set(identities)) == 1
