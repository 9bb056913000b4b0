"""Run the Alembic migrations shipped inside the package, against whatever URL we are given.

The migration scripts live in ``pledge/store/migrations`` and are found from this file, not from
the working directory, so ``pledge db upgrade`` works from anywhere an installed pledge runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from pledge.store.engine import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | URL | None = None, directory: Path = MIGRATIONS) -> Config:
    """An Alembic configuration pointing at the packaged scripts; ``url`` is what env.py connects to."""
    config = Config()
    config.set_main_option("script_location", str(directory))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
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


def new_revision(message: str, directory: Path = MIGRATIONS) -> Path:
    """Write the next migration (``0002_...``) from what the models declare and the migrations lack.

    It compares against a scratch SQLite database at the newest revision; read the file before
    committing it, since autogenerate misses renames and data changes.
    """
    scripts = ScriptDirectory.from_config(alembic_config(directory=directory))
    rev_id = f"{len(list(scripts.walk_revisions())) + 1:04d}"
    with tempfile.TemporaryDirectory(prefix="pledge-revision-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            with engine.begin() as connection:
                config = alembic_config(directory=directory)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                written = command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
        finally:
            engine.dispose()
    script = written[0] if isinstance(written, list) else written
    assert script is not None and script.path is not None
    return Path(script.path)
