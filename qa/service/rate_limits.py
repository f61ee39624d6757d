"""Rate-limit counters in the article store's database, so every worker and replica counts alike.

flask-limiter keeps its counters in a `limits` storage. Its own storages are process memory
(each `qa serve` worker would grant a client the whole limit again) or a server of their own
(Redis, Memcached, MongoDB). The store is already shared by every worker (one SQLite file) or
replica (one PostgreSQL database), so by default the counters live there too: one
`rate_limits` row per client and limit, a fixed window that restarts once it has expired.

`server.rate_limit_storage` chooses: `store` (this module), or any `limits` storage URI such as
`memory://` or `redis://host:6379` (which needs that storage's client package).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from limits.storage import Storage

from qa.config import ConfigError
from qa.store.database import Database, DatabaseError, Row

STORE_STORAGE = "store"
SCHEME = "qa-store"
# Expired counters are deleted at most this often by each process; until then they are ignored.
PURGE_INTERVAL_SECONDS = 60.0

# An additive table: a store without it gains it on first use (see qa.store.articles).
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rate_limits ("
    "key TEXT PRIMARY KEY, hits INTEGER NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
)


class DatabaseRateLimitStorage(Storage):
    """A `limits` storage for the fixed-window strategy over a `qa.store.database.Database`.

    Every counter update is one statement (an upsert), atomic on SQLite and PostgreSQL alike,
    so concurrent requests in any number of processes never lose a hit. Times are wall-clock
    seconds (`clock`), comparable across processes.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        *,
        database: Database,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        """Create the table if the store lacks it (raises qa.store.database.DatabaseError)."""
        super().__init__(uri, wrap_exceptions)
        self.database = database
        self._clock = clock
        self._next_purge = 0.0
        with database.schema_change():
            for statement in _SCHEMA:
                database.execute(statement)

    @property
    def base_exceptions(self) -> type[Exception]:
        return DatabaseError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` hits to `key`'s window (a new window of `expiry` seconds if there is
        none, or it has expired); returns the hits in the window."""
        now = self._clock()
        self._purge_expired(now)
        [row] = self.database.execute(
            "INSERT INTO rate_limits (key, hits, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET "
            "hits = CASE WHEN rate_limits.expires_at <= ? THEN excluded.hits "
            "ELSE rate_limits.hits + excluded.hits END, "
            "expires_at = CASE WHEN rate_limits.expires_at <= ? THEN excluded.expires_at "
            "ELSE rate_limits.expires_at END "
            "RETURNING hits",
            (key, amount, now + expiry, now, now),
        )
        return int(row["hits"])

    def _live_row(self, key: str) -> Row | None:
        rows = self.database.execute(
            "SELECT hits, expires_at FROM rate_limits WHERE key = ? AND expires_at > ?",
            (key, self._clock()),
        )
        return rows[0] if rows else None

    def get(self, key: str) -> int:
        row = self._live_row(key)
        return int(row["hits"]) if row else 0

    def get_expiry(self, key: str) -> float:
        """When `key`'s window ends, in wall-clock seconds (now when it has none)."""
        row = self._live_row(key)
        return float(row["expires_at"]) if row else self._clock()

    def check(self) -> bool:
        try:
            self.database.execute("SELECT 1 AS ok")
        except DatabaseError:
            return False
        return True

    def reset(self) -> int | None:
        with self.database.transaction(write=True):
            count = int(self.database.execute("SELECT COUNT(*) AS n FROM rate_limits")[0]["n"])
            self.database.execute("DELETE FROM rate_limits")
        return count

    def clear(self, key: str) -> None:
        self.database.execute("DELETE FROM rate_limits WHERE key = ?", (key,))

    def _purge_expired(self, now: float) -> None:
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_INTERVAL_SECONDS
        self.database.execute("DELETE FROM rate_limits WHERE expires_at <= ?", (now,))


def limiter_storage(configured: str, database: Database) -> tuple[str, dict[str, Any]]:
    """flask-limiter's `storage_uri` and `storage_options` for `server.rate_limit_storage`:
    the store's `database` for `store`, else the configured `limits` URI as it is."""
    if configured.strip() == STORE_STORAGE:
        return f"{SCHEME}://", {"database": database}
    if "://" not in configured:
        raise ConfigError(
            f"server.rate_limit_storage must be '{STORE_STORAGE}' or a storage URI such as "
            f"memory:// or redis://host:6379, not {configured!r}"
        )
    return configured, {}
