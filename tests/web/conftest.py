"""A web app on a fresh database (SQLite, then PostgreSQL) with the render fixture policy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pledge.bootstrap import Container, bootstrap
from pledge.settings import Settings
from pledge.web import create_app
from tests.conftest import PolicyFolder

RENDER_POLICY = Path(__file__).resolve().parents[1] / "fixtures" / "policies" / "render"


@pytest.fixture
def web_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url, policy_dir=RENDER_POLICY)


@pytest.fixture
def web_container(web_settings: Settings) -> Iterator[Container]:
    with bootstrap(web_settings) as container:
        yield container


@pytest.fixture
def client(web_container: Container) -> Iterator[TestClient]:
    """A client of the app after start-up (so every notice has its first version)."""
    with TestClient(create_app(web_container)) as test_client:
        yield test_client


@pytest.fixture
def render_copy(tmp_path: Path) -> PolicyFolder:
    """A copy of the render fixture policy to change, as a privacy team would."""
    root = tmp_path / "render-policy"
    shutil.copytree(RENDER_POLICY, root)
    return PolicyFolder(root)
