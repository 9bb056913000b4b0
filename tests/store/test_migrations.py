"""Migrations ship inside the package and describe exactly the tables the models declare."""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from pledge.store import current_revision, head_revision, make_engine, upgrade
from pledge.store.base import import_all_models
from pledge.store.migrate import MIGRATIONS, alembic_config, new_revision


def test_upgrade_creates_the_schema_on_an_empty_database(empty_database_url: str) -> None:
    assert upgrade(empty_database_url) == head_revision()
    engine = make_engine(empty_database_url)
    try:
        assert "notice_version" in inspect(engine).get_table_names()
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_twice_is_harmless(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    assert upgrade(empty_database_url) == head_revision()


def test_every_migration_downgrades_and_upgrades_again(empty_database_url: str) -> None:
    from alembic import command

    upgrade(empty_database_url)
    command.downgrade(alembic_config(empty_database_url), "base")
    engine = make_engine(empty_database_url)
    try:
        assert current_revision(engine) is None
        assert "notice_version" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert upgrade(empty_database_url) == head_revision()


def test_migrations_match_the_models(database_url: str) -> None:
    """A model changed without a migration (or the reverse) shows up here as a difference."""
    metadata = import_all_models()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == [], (
        "the models and the migrations differ: write a migration with "
        "`.venv/bin/pledge db revision 'what changed'`, read it, commit it.\n"
        f"differences: {differences}")


def test_migration_scripts_are_found_from_the_package_not_the_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert head_revision() is not None


def test_a_new_revision_follows_the_newest_and_needs_no_pledge_import(tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    head = head_revision()
    assert head is not None

    written = new_revision("next thing", scripts)

    text = written.read_text()
    assert written.name == f"{int(head) + 1:04d}_next_thing.py"
    assert f"down_revision: str | None = {head!r}" in text
    assert "pledge" not in text


def test_every_models_module_is_found_for_autogenerate() -> None:
    """Checked in a fresh interpreter, where nothing has imported the models yet."""
    import subprocess
    import sys

    code = ("from pledge.store.base import import_all_models; "
            "print(' '.join(sorted(import_all_models().tables)))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "notice_version" in found
