"""The JSON API: notices and their archive as JSON; every error as RFC 9457 problem details."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from pledge.bootstrap import Container
from pledge.notices.render import notice_document
from pledge.web import create_app
from pledge.web.app import DatabaseNotReady
from pledge.web.problems import PROBLEM_JSON
from pledge.web.routes import PUBLIC_ROUTERS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def assert_problem(response: object, status: int, type_: str | None = None) -> dict[str, object]:
    """The response is an ``application/problem+json`` body with the members RFC 9457 defines."""
    from httpx2 import Response

    assert isinstance(response, Response)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["type"] and body["instance"] == response.request.url.path
    if type_:
        assert body["type"] == type_
    assert "Traceback" not in response.text
    return dict(body)


def test_notices_lists_every_notice_with_its_dates_and_published_version(client: TestClient) -> None:
    response = client.get("/api/notices")

    assert response.status_code == 200
    notices = {n["id"]: n for n in response.json()["notices"]}
    assert set(notices) == {"app", "us-web"}
    assert notices["app"]["last_updated"] == "2022-06-27"
    assert notices["app"]["published_version"] == 1
    assert notices["app"]["url"] == "http://testserver/api/notices/app"
    assert notices["app"]["page_url"] == "http://testserver/privacy/app"


def test_notice_returns_the_resolved_document(client: TestClient, web_container: Container) -> None:
    response = client.get("/api/notices/app")

    assert response.status_code == 200
    assert response.json()["document"] == notice_document(web_container.policy, "app")


def test_notice_narrowed_to_a_jurisdiction(client: TestClient) -> None:
    body = client.get("/api/notices/us-web", params={"jurisdiction": "US-CA"}).json()

    assert body["jurisdiction"] == "US-CA"
    assert list(body["document"]["rights"]) == ["US-CA"]


def test_versions_and_one_version(client: TestClient, web_container: Container) -> None:
    versions = client.get("/api/notices/app/versions").json()["versions"]

    assert [v["number"] for v in versions] == [1]
    assert versions[0]["policy_revision"] == web_container.policy.revision
    one = client.get(versions[0]["url"]).json()
    assert one["version"]["content_hash"] == versions[0]["content_hash"]
    assert one["document"] == notice_document(web_container.policy, "app")
    assert one["is_latest"] is True


def test_unknown_notice_is_a_404_problem(client: TestClient) -> None:
    for path in ("/api/notices/nope", "/api/notices/nope/versions", "/api/notices/nope/versions/1"):
        body = assert_problem(client.get(path), 404, "urn:pledge:problem:unknown-notice")
        assert "nope" in str(body["detail"])


def test_unknown_version_is_a_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/api/notices/app/versions/7"), 404, "urn:pledge:problem:unknown-version")

    assert body["detail"] == "notice 'app' has no published version 7"


def test_invalid_input_is_a_422_problem_naming_the_field(client: TestClient) -> None:
    body = assert_problem(client.get("/api/notices/app/versions/seven"), 422, "urn:pledge:problem:invalid-request")

    assert body["errors"] == [{"field": "path.number", "type": "int_parsing",
                               "message": "Input should be a valid integer, unable to parse string as an integer"}]
    body = assert_problem(client.get("/api/notices/app/versions/0"), 422)
    assert [e["field"] for e in body["errors"]] == ["path.number"]  # type: ignore[attr-defined]
    body = assert_problem(client.get("/api/notices/app", params={"jurisdiction": "X" * 41}), 422)
    assert [e["field"] for e in body["errors"]] == ["query.jurisdiction"]  # type: ignore[attr-defined]


def test_unknown_api_route_and_method_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/api/no-such-thing"), 404, "about:blank")
    assert_problem(client.post("/api/notices"), 405, "about:blank")


@pytest.fixture
def failing_app(web_container: Container) -> Iterator[TestClient]:
    app: FastAPI = create_app(web_container)

    def explode() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/api/explode", explode)
    app.add_api_route("/explode", explode)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_an_unexpected_error_is_a_500_problem_without_internals(failing_app: TestClient,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    body = assert_problem(failing_app.get("/api/explode"), 500, "about:blank")
    page = failing_app.get("/explode")

    assert "secret internals" not in str(body)
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "secret internals" not in page.text and "Traceback" not in page.text
    assert "secret internals" in caplog.text  # logged for the operators, not shown


def test_start_up_refuses_a_database_without_the_schema(web_container: Container,
                                                       empty_database_url: str) -> None:
    from pledge.store import make_engine, make_session_factory

    engine = make_engine(empty_database_url)
    try:
        bare = Container(settings=web_container.settings, engine=engine,
                         session_factory=make_session_factory(engine), policy=web_container.policy)
        with pytest.raises(DatabaseNotReady, match="pledge db upgrade"), TestClient(create_app(bare)):
            pass
    finally:
        engine.dispose()


def test_every_route_is_documented(web_container: Container) -> None:
    """STYLE.md: a test fails when the docs drift from the code."""
    text = (DOCS / "web.md").read_text()
    app = create_app(web_container)
    paths = {f"{route.path}/{{path}}" if isinstance(route, Mount) else getattr(route, "path", "")
             for route in app.routes}
    paths |= {getattr(route, "path", "") for router in PUBLIC_ROUTERS for route in router.routes}
    paths -= {"/api/docs", "/api/docs/oauth2-redirect", "/api/openapi.json", ""}

    missing = sorted(path for path in paths if f"`{path}`" not in text)
    assert not missing, f"routes missing from docs/web.md: {missing}"
    documented = set(re.findall(r"`((?:/api|/privacy|/healthz|/static)[^`]*)`", text))
    stale = sorted(documented - paths - {"/static/pledge.css", "/api/openapi.json", "/api/docs"})
    assert not stale, f"docs/web.md documents routes that do not exist: {stale}"


def test_a_server_process_freezes_its_long_lived_objects_once_started(web_container: Container) -> None:
    """``pledge serve`` (``server=True``) moves what start-up made out of the collector's full passes,
    which otherwise walked some 170,000 objects a few times a minute; an app made in a test does not."""
    import gc

    gc.unfreeze()
    try:
        with TestClient(create_app(web_container)):
            assert gc.get_freeze_count() == 0
        with TestClient(create_app(web_container, server=True)) as client:
            assert gc.get_freeze_count() > 10_000
            assert client.get("/api/notices").status_code == 200
    finally:
        gc.unfreeze()
