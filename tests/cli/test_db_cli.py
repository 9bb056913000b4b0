"""`pledge db upgrade`: migrations shipped in the package, applied to the configured database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from pledge.store import current_revision, head_revision, make_engine
from tests.conftest import CliInvoke

PLEDGE = Path(sys.executable).parent / "pledge"


def test_upgrade_migrates_an_empty_database_to_the_newest_revision(cli: CliInvoke, empty_database_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATABASE_URL", empty_database_url)
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"at revision {head_revision()}" in result.stdout

    engine = make_engine(empty_database_url)
    try:
        assert current_revision(engine) == head_revision()
        assert "notice_version" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert cli("db", "upgrade").exit_code == 0
    assert "up to date" in cli("db", "current").stdout


def test_upgrade_works_from_any_directory(tmp_path: Path) -> None:
    """The installed command finds its migrations in the package, not in the working directory."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_")}
    env["PLEDGE_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run([str(PLEDGE), "db", "upgrade"], cwd=elsewhere, env=env, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "pledge.db").exists()
    assert not list(elsewhere.iterdir())


def test_current_before_any_migration(cli: CliInvoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    result = cli("db", "current")
    assert result.exit_code == 0
    assert "at revision none" in result.stdout and "run `pledge db upgrade`" in result.stdout


@pytest.mark.parametrize("url, message", [
    ("postgresql://postgres:s3cret@127.0.0.1:1/nowhere",
     "database postgresql://postgres:***@127.0.0.1:1/nowhere: connection failed"),
    ("mysql://u@h/db", "pledge runs on SQLite or PostgreSQL"),
])
def test_a_database_that_cannot_be_used_is_one_line_without_the_password(
        cli: CliInvoke, monkeypatch: pytest.MonkeyPatch, url: str, message: str) -> None:
    monkeypatch.setenv("PLEDGE_DATABASE_URL", url)
    result = cli("db", "upgrade")
    assert result.exit_code == 1
    assert message in result.stderr
    assert "s3cret" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
