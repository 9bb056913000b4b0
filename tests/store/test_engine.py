"""The engine: SQLite in WAL mode with foreign keys enforced, PostgreSQL through psycopg 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from pledge.store import make_engine, normalise_url


def test_sqlite_runs_in_wal_mode_with_foreign_keys_enforced(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
            conn.execute(text("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))"))
            with pytest.raises(Exception, match="FOREIGN KEY constraint failed"):
                conn.execute(text("INSERT INTO child (id, parent_id) VALUES (1, 42)"))
    finally:
        engine.dispose()


def test_sqlite_file_folder_is_created(tmp_path: Path) -> None:
    target = tmp_path / "not" / "yet" / "there.db"
    engine = make_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert target.exists()


@pytest.mark.parametrize("given", ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"])
def test_every_postgresql_spelling_uses_psycopg3(given: str) -> None:
    assert normalise_url(given).drivername == "postgresql+psycopg"


def test_an_unsupported_database_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        make_engine("mysql+pymysql://u:secret@h/db")


@pytest.mark.postgres
def test_postgresql_engine_talks_through_psycopg3(postgres_server) -> None:
    engine = make_engine(postgres_server.url("postgres").replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
