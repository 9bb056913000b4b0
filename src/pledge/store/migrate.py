"""Run the Alembic migrations shipped inside the package, against whatever URL we are given.

The migration scripts live in ``pledge/store/migrations`` and are found from this file, not from
the working directory, so ``pledge db upgrade`` works from anywhere an installed pledge runs.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from pledge.store.engine import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic configuration pointing at the packaged scripts; ``url`` is what env.py connects to."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        # ConfigParser interpolation treats '%' specially; URL-encoded passwords contain it.
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(target: str | URL | Engine, revision: str = "head") -> str | None:
    """Bring the database up to ``revision`` (default: the newest); return the revision it is at."""
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return current_revision(engine)
    finally:
        if engine is not target:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when no migration has run."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this pledge."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
