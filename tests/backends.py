"""The store and vector backend combinations every backend test runs against, as settings.

PostgreSQL needs a server: `QA_TEST_POSTGRES_DSN` names a database the tests may create schemas
in (`bash scripts/postgres` starts one and prints its DSN). Without it the PostgreSQL cases are
skipped on a developer machine and fail under CI (`CI` set), so a missing server cannot pass
unnoticed. Milvus runs embedded (Milvus Lite, a local file), so it always runs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import unavailable
from qa.config import Settings
from qa.store.database import Database, PostgresDatabase, SQLiteDatabase, scratch_schema

BACKENDS = ["sqlite+faiss", "sqlite+milvus", "postgres+faiss", "postgres+milvus"]
DATABASES = ["sqlite", "postgres"]


def postgres_dsn() -> str:
    dsn = os.environ.get("QA_TEST_POSTGRES_DSN", "")
    if not dsn:
        unavailable("QA_TEST_POSTGRES_DSN is not set (bash scripts/postgres prints one)")
    return dsn


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A DSN whose connections use a fresh, private schema, dropped afterwards."""
    with scratch_schema(postgres_dsn(), "qa_test_") as dsn:
        yield dsn


@contextmanager
def backend_settings(settings: Settings, backend: str, folder: Path) -> Iterator[Settings]:
    """`settings` pointed at this backend combination, with its data under `folder`."""
    store_kind, vector_kind = backend.split("+")
    vectors = dataclasses.replace(
        settings.vectors,
        backend=vector_kind,
        milvus_uri=str(folder / "milvus.db") if vector_kind == "milvus" else "",
    )
    folder.mkdir(parents=True, exist_ok=True)
    if store_kind == "postgres":
        with postgres_schema() as dsn:
            store = dataclasses.replace(settings.store, url=dsn)
            yield dataclasses.replace(settings, store=store, vectors=vectors)
    else:
        yield dataclasses.replace(settings, vectors=vectors)


@contextmanager
def database_connector(kind: str, folder: Path) -> Iterator[Callable[[], Database]]:
    """Opens connections to one new, empty database of this kind ("sqlite": a file in
    `folder`; "postgres": a private schema, dropped afterwards)."""
    if kind == "postgres":
        with postgres_schema() as dsn:
            yield lambda: PostgresDatabase(dsn)
        return
    folder.mkdir(parents=True, exist_ok=True)
    yield lambda: SQLiteDatabase(folder / "store.sqlite")


@contextmanager
def empty_database(kind: str, folder: Path) -> Iterator[Database]:
    """One connection to a new, empty database of this kind (`database_connector`), closed
    afterwards."""
    with database_connector(kind, folder) as connect:
        database = connect()
        try:
            yield database
        finally:
            database.close()
