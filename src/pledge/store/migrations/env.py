"""Alembic environment: migrate the database we are handed, or the one the settings name.

``pledge.store.migrate.upgrade`` passes an open connection in ``config.attributes``; the plain
``alembic`` command (for writing new revisions) passes ``sqlalchemy.url`` or falls back to
``PLEDGE_DATABASE_URL``. SQLite gets batch mode, since it cannot ALTER most things in place.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from pledge.store.base import import_all_models
from pledge.store.columns import UTCDateTime
from pledge.store.engine import make_engine

config = context.config
target_metadata = import_all_models()


def _render_item(kind: str, obj: Any, _autogen_context: AutogenContext) -> str | Literal[False]:
    """Write pledge's column types as the plain SQLAlchemy types they store, so migrations need no pledge import."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from pledge.settings import get_settings

    return get_settings().effective_database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
