"""Engines and session factories for SQLite (embedded, WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

#: How long a SQLite writer waits for another writer's lock before failing, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 5000

#: A pooled PostgreSQL connection older than this is closed and replaced at its next checkout.
POSTGRES_RECYCLE_SECONDS = 1800

#: PostgreSQL connections a process keeps once opened: as many as the request threads that can use
#: one at once (anyio's default limit for sync routes is 40); 10 more may open for a burst.
POSTGRES_POOL_SIZE = 40


def normalise_url(url: str | URL) -> URL:
    """Use psycopg 3 for every PostgreSQL URL, whichever spelling (``postgres://``, ``postgresql://``) was given."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for pledge's database: SQLite in WAL mode with foreign keys enforced, or PostgreSQL."""
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if backend == "postgresql":
        # No pre-ping: it costs a round trip on every checkout (a tenth of a consent write's time).
        # Connections are recycled after POSTGRES_RECYCLE_SECONDS instead, and one a server restart
        # broke fails its request with a 503 (retry), after which SQLAlchemy empties the whole pool.
        kwargs.setdefault("pool_recycle", POSTGRES_RECYCLE_SECONDS)
        # Keep as many connections as a server's request threads use at once: with SQLAlchemy's
        # default of 5, every connection past the fifth was closed on return and opened again for
        # the next request (a new PostgreSQL backend each time, more CPU than the write itself).
        kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
        kwargs.setdefault("max_overflow", 10)
        return create_engine(parsed, **kwargs)
    raise ValueError(f"unsupported database {parsed.render_as_string(hide_password=True)!r}: "
                     "pledge runs on SQLite or PostgreSQL")


def make_async_engine(engine: Engine, **kwargs: Any) -> AsyncEngine:
    """An asyncio engine on the same PostgreSQL database (psycopg's async connection).

    Why: the consent write path runs its transactions on the web server's event loop (SQLAlchemy
    runs the same service code in a greenlet and awaits each round trip), so one thread serves the
    requests and their database work, with no hand-over between threads and no fight for the GIL.
    """
    if engine.dialect.name != "postgresql":
        raise ValueError("pledge uses an asyncio engine on PostgreSQL only (SQLite has no asyncio driver here)")
    kwargs.setdefault("pool_recycle", POSTGRES_RECYCLE_SECONDS)
    return create_async_engine(engine.url, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers work while one writer commits; SQLite ignores foreign keys unless told."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit, so a caller can print what it just saved."""
    return sessionmaker(bind=engine, expire_on_commit=False)
