"""One bootstrap wires settings, database and compiled policy for every entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from pledge.bootstrap import Container, bootstrap
from pledge.policy import PolicyError
from pledge.settings import Settings
from tests.conftest import MINIMAL_POLICY


def test_the_container_holds_the_compiled_policy_and_a_working_database(container: Container) -> None:
    assert "app" in container.policy.notices
    assert len(container.policy.revision) == 64
    with container.unit_of_work() as session:
        assert session.execute(text("SELECT 1")).scalar() == 1


def test_the_default_database_is_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", policy_dir=MINIMAL_POLICY)
    with bootstrap(settings) as container:
        assert container.engine.url.get_backend_name() == "sqlite"
        assert container.engine.url.database == str(tmp_path / "var" / "pledge.db")


def test_parts_built_for_a_test_replace_the_ones_settings_would_build(tmp_path: Path, minimal_policy) -> None:
    settings = Settings(data_dir=tmp_path, policy_dir=tmp_path / "no-such-policy")
    with bootstrap(settings, policy=minimal_policy) as container:
        assert container.policy is minimal_policy


def test_a_policy_with_errors_stops_the_bootstrap(tmp_path: Path, minimal_copy) -> None:
    minimal_copy.edit("notices/app.yaml", "controller: minimal-ltd", "controller: nobody")
    with pytest.raises(PolicyError, match="controller 'nobody' is not defined"):
        bootstrap(Settings(data_dir=tmp_path, policy_dir=minimal_copy.root))
