"""The JSON API on the consent fixture policy, with API keys of each scope, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from pledge.bootstrap import Container, bootstrap
from pledge.settings import Settings
from pledge.web import create_app
from pledge.web.api import keys
from tests.consent.conftest import CONSENT_POLICY


@pytest.fixture
def api_container(tmp_path: Path, database_url: str) -> Iterator[Container]:
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url, policy_dir=CONSENT_POLICY)
    with bootstrap(settings) as container:
        yield container


def make_key(container: Container, *scopes: str) -> str:
    with container.unit_of_work() as session:
        _row, plain = keys.create_key(session=session, name="test", scopes=list(scopes))
        session.commit()
    return plain


#: The address the test client's requests come from (a documentation range, RFC 5737).
CLIENT_ADDRESS = "203.0.113.9"


@pytest.fixture
def api(api_container: Container) -> Iterator[TestClient]:
    """A client with a key that may do everything."""
    key = make_key(api_container, "consent:write", "consent:read", "decide")
    with TestClient(create_app(api_container), headers={"Authorization": f"Bearer {key}"},
                    client=(CLIENT_ADDRESS, 50000)) as client:
        yield client


@pytest.fixture
def anonymous(api_container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(api_container)) as client:
        yield client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_server(api_container: Container) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(api_container), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
