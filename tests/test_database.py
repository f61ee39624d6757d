"""Choosing and reaching a database: locations, and errors that name it without its password."""

from pathlib import Path

import pytest

from qa.database import DatabaseError, SQLiteDatabase, open_database, redact_password


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


def test_redact_password() -> None:
    assert redact_password("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert redact_password("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact_password("sqlite") == "sqlite"
