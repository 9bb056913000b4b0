"""Consent tests run on the consent fixture policy, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from pledge.bootstrap import Container, bootstrap
from pledge.consent import service
from pledge.consent.schemas import ConsentEventCreate, RequestContext
from pledge.policy import CompiledPolicy, load_compiled
from pledge.settings import Settings
from tests.conftest import FIXTURES

CONSENT_POLICY = FIXTURES / "policies" / "consent"


@pytest.fixture(scope="session")
def consent_policy() -> CompiledPolicy:
    """tests/fixtures/policies/consent: a shop for the EEA, California and Thailand."""
    return load_compiled(CONSENT_POLICY)


@pytest.fixture
def consent_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url, policy_dir=CONSENT_POLICY)


@pytest.fixture
def consent_container(consent_settings: Settings) -> Iterator[Container]:
    with bootstrap(consent_settings) as container:
        yield container


@pytest.fixture
def consent_env(monkeypatch: pytest.MonkeyPatch, consent_settings: Settings) -> Settings:
    """The CLI reads these: the fresh database and the consent policy."""
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(consent_settings.data_dir))
    monkeypatch.setenv("PLEDGE_POLICY_DIR", str(consent_settings.policy_dir))
    monkeypatch.setenv("PLEDGE_DATABASE_URL", str(consent_settings.database_url))
    return consent_settings


Record = Callable[..., service.Recorded]


@pytest.fixture
def record(session: Session, consent_policy: CompiledPolicy) -> Record:
    """Record one event in the test's session: ``record(subject=..., kind=..., purpose=...)``."""

    def recorder(*, context: RequestContext | None = None, **fields: Any) -> service.Recorded:
        fields.setdefault("collection_point", "preference_centre")
        return service.record_event(session=session, policy=consent_policy, event_in=ConsentEventCreate(**fields),
                                    context=context)

    return recorder
