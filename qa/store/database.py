"""SQL database adapters, so one store works on SQLite (embedded default) and PostgreSQL.

The store writes its SQL once, with `?` placeholders and portable statements; an adapter supplies
the connection, the placeholder style, transactions and the few column types that differ.
Rows come back as mappings by column name on both.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from qa.extras import install_hint

Row = Mapping[str, Any]


class DatabaseError(RuntimeError):
    """The database cannot be opened or read; the message names it and says what to do."""


class DatabaseUnavailableError(DatabaseError):
    """The database cannot be reached or opened for a reason outside the store (a server down,
    a client not installed): nothing says the store itself is damaged."""


class MissingClientError(DatabaseUnavailableError):
    """The database's Python client is not installed; the message names the extra that
    installs it."""


class Database(Protocol):
    name: str
    """Shown in error messages: a file path, or a connection string without the password."""

    blob_type: str
    serial_primary_key: str
    full_text_search: bool
    """Whether the database ranks chunk passages by their words itself (PostgreSQL's tsvector and
    GIN index); if not, keyword search runs in memory (`qa.store.lexical.BM25Index`)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]: ...

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def transaction(self, write: bool) -> AbstractContextManager[None]:
        """A write transaction (serialised with other writers), or a read that sees one
        consistent snapshot across several statements."""
        ...

    def schema_change(self) -> AbstractContextManager[None]:
        """A write transaction for CREATE … IF NOT EXISTS, one at a time across connections:
        PostgreSQL's IF NOT EXISTS fails, rather than waits, when another connection creates the
        same table at that moment (two replicas starting on a fresh database)."""
        ...

    def integrity_problems(self) -> list[str]: ...

    def close(self) -> None: ...


@contextmanager
def _transaction(
    lock: threading.RLock, execute: Callable[[str], Any], begin: str
) -> Iterator[None]:
    """BEGIN … COMMIT on one shared connection, ROLLBACK on any exception; the lock keeps other
    threads' statements out of the transaction."""
    with lock:
        execute(begin)
        try:
            yield
        except BaseException:
            execute("ROLLBACK")
            raise
        execute("COMMIT")


# How long a statement waits for another connection's lock before it fails.
BUSY_TIMEOUT_SECONDS = 30.0


class SQLiteDatabase:
    """One connection shared by threads under a lock; WAL lets other processes read meanwhile."""

    blob_type = "BLOB"
    serial_primary_key = "INTEGER PRIMARY KEY AUTOINCREMENT"
    full_text_search = False

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        self._lock = threading.RLock()
        try:
            # Waiting for locks starts with the connection: switching a new file to WAL takes
            # one, and several workers or replicas may open a fresh store together.
            self._connection = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False, isolation_level=None
            )
            self._connection.row_factory = sqlite3.Row
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA foreign_keys=ON")
            self._connection.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as error:
            raise DatabaseError(f"{path}: {error}") from error

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            try:
                return list(self._connection.execute(sql, tuple(parameters)).fetchall())
            except sqlite3.DatabaseError as error:
                raise DatabaseError(f"{self.name}: {error}") from error

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            try:
                self._connection.executemany(sql, rows)
            except sqlite3.DatabaseError as error:
                raise DatabaseError(f"{self.name}: {error}") from error

    def transaction(self, write: bool) -> AbstractContextManager[None]:
        begin = "BEGIN IMMEDIATE" if write else "BEGIN DEFERRED"
        return _transaction(self._lock, self._connection.execute, begin)

    def schema_change(self) -> AbstractContextManager[None]:
        return self.transaction(write=True)  # BEGIN IMMEDIATE already excludes other writers

    def integrity_problems(self) -> list[str]:
        rows = [row[0] for row in self._connection.execute("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else [f"{self.name}: SQLite integrity check: {'; '.join(rows)}"]

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def redact_password(url: str) -> str:
    """postgresql://user:secret@host/db → postgresql://user:***@host/db, for messages."""
    scheme, separator, rest = url.partition("://")
    if not separator or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def _psycopg() -> Any:
    """The psycopg module; MissingClientError naming the extra when it is not installed."""
    try:
        import psycopg
    except ImportError as error:
        raise MissingClientError(f"PostgreSQL stores need {install_hint('postgres')}") from error
    return psycopg


@contextmanager
def scratch_schema(dsn: str, prefix: str) -> Iterator[str]:
    """A URL for the PostgreSQL database `dsn` whose connections use a new, empty schema named
    `prefix` + a random suffix, dropped with everything in it afterwards: a store that starts
    empty whatever the database holds, for the backend tests and benchmarks/replicas.py."""
    import uuid

    psycopg = _psycopg()
    schema = f"{prefix}{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


# The advisory lock key qa's schema changes hold (any constant that other software is unlikely
# to pick: "qa-schm" in ASCII).
_SCHEMA_LOCK = 0x71612D7363686D


class PostgresDatabase:
    """PostgreSQL through psycopg 3: several `qa serve` replicas can share one store.

    Snapshot reads use REPEATABLE READ, writes READ COMMITTED; the store's generation row is the
    point where concurrent writers serialise.
    """

    blob_type = "BYTEA"
    serial_primary_key = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    full_text_search = True

    def __init__(self, url: str) -> None:
        psycopg = _psycopg()
        from psycopg.rows import dict_row

        self.name = redact_password(url)
        self._lock = threading.RLock()
        try:
            self._connection = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        except psycopg.Error as error:
            message = f"cannot connect to {self.name}: {error}".strip()
            raise DatabaseUnavailableError(message) from error

    @staticmethod
    def _portable(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        import psycopg

        with self._lock:
            try:
                cursor = self._connection.execute(self._portable(sql), tuple(parameters))
                return list(cursor.fetchall()) if cursor.description else []
            except psycopg.Error as error:
                raise DatabaseError(f"{self.name}: {error}") from error

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        import psycopg

        with self._lock, self._connection.cursor() as cursor:
            try:
                cursor.executemany(self._portable(sql), rows)
            except psycopg.Error as error:
                raise DatabaseError(f"{self.name}: {error}") from error

    def transaction(self, write: bool) -> AbstractContextManager[None]:
        level = "READ COMMITTED" if write else "REPEATABLE READ READ ONLY"
        return _transaction(self._lock, self._connection.execute, f"BEGIN ISOLATION LEVEL {level}")

    @contextmanager
    def schema_change(self) -> Iterator[None]:
        with self.transaction(write=True):
            self.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            yield

    def integrity_problems(self) -> list[str]:
        return []  # the server keeps its own pages sound; the store checks its rows itself

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def open_database(location: str, folder: Path, default_file: str) -> Database:
    """`sqlite` (a file in the index folder), `sqlite:///path`, or a postgresql:// URL."""
    if location in ("", "sqlite"):
        return SQLiteDatabase(folder / default_file)
    if location.startswith("sqlite:///"):
        return SQLiteDatabase(Path(location.removeprefix("sqlite:///")))
    if location.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(location)
    raise DatabaseError(
        f"store.url {location!r} is not 'sqlite', 'sqlite:///PATH' or a postgresql:// URL"
    )
