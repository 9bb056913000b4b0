"""Bad input is a 4xx problem, never a 500 (issue 3, Bad input): random bodies against every write route."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from pledge.bootstrap import Container, bootstrap
from pledge.consent.models import ConsentEvent
from pledge.settings import Settings
from pledge.store import engine as engine_module
from pledge.store import upgrade
from pledge.web import create_app
from pledge.web.problems import PROBLEM_JSON
from tests.consent.conftest import CONSENT_POLICY
from tests.web.api.conftest import make_key

TEXT = st.one_of(st.text(max_size=30), st.sampled_from([
    "ann@example.com", "+4930901820", "browser:b-1", "subject:", "subject:nobody", "lumix:x", "C-1", "DE", "US-CA",
    "Narnia", "newsletter", "orders", "ads", "analytics", "shop", "shop-web", "sale_share", "sms", "advertising",
    "essential", "direct_marketing", "guardian", "staff", "app", "banner", "gpc_signal", "1970-01-01",
    "2999-01-01T00:00:00Z", "2020-01-01T00:00:00", "13-15", "18+", "teen", "a\x00b", "browser:\x00", "C-1\x00"]))
KINDS = st.sampled_from(["consent_granted", "consent_denied", "consent_withdrawn", "objection_raised",
                         "objection_withdrawn", "restriction_requested", "restriction_lifted", "opted_out",
                         "opted_in", "channel_switched_off", "channel_switched_on", "cookies_accepted",
                         "cookies_rejected", "parental_consent_given", "parental_consent_withdrawn", "nonsense"])
VALUE = st.one_of(st.none(), TEXT, st.integers(), st.booleans(), st.lists(TEXT, max_size=3))
EVENT = st.fixed_dictionaries(
    {"subject": TEXT, "kind": KINDS, "collection_point": st.sampled_from(["app", "banner", "gpc_signal", "x"])},
    optional={"purpose": TEXT, "target": TEXT, "notice": TEXT, "service": TEXT, "residence": TEXT,
              "birth_date": TEXT, "age_band": TEXT, "actor": TEXT, "occurred_at": TEXT, "expires_at": TEXT,
              "evidence_hash": TEXT, "actor_ref": TEXT, "extra": VALUE})
ASK = st.fixed_dictionaries({"purpose": TEXT}, optional={
    "subject": TEXT, "subjects": st.lists(TEXT, max_size=4), "notice": TEXT, "service": TEXT,
    "data_categories": st.lists(TEXT, max_size=3), "recipient": TEXT, "channel": TEXT, "jurisdiction": TEXT})


@given(event=EVENT, gpc=st.booleans(), ask=ASK)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_input_is_never_a_server_error(api_container: Container, event: dict[str, Any], gpc: bool,
                                              ask: dict[str, Any]) -> None:
    key = make_key(api_container, "consent:write", "consent:read", "decide")
    headers = {"Authorization": f"Bearer {key}", **({"Sec-GPC": "1"} if gpc else {})}
    path = quote(event["subject"] or "x", safe="")
    with TestClient(create_app(api_container), headers=headers, raise_server_exceptions=False) as client:
        answers = [
            client.post("/api/v1/consent-events", json=event),
            client.post("/api/v1/consent-events/batch", json={"events": [event, event]}),
            client.post("/api/v1/decisions", json=ask),
            client.post("/api/v1/decisions/bulk", json=ask),
            client.get(f"/api/v1/subjects/{path}/state"),
            client.post(f"/api/v1/subjects/{path}/identities",
                        json={"kind": "browser_id", "value": event["subject"]}),
        ]
    for answer in answers:
        assert answer.status_code < 500, (answer.request.url, answer.text)


def test_a_locked_database_is_a_503_problem_and_nothing_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer holds SQLite's lock past the wait: the client is told to retry, not shown a 500."""
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    database = tmp_path / "pledge.db"
    upgrade(f"sqlite:///{database}")
    settings_ = Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{database}", policy_dir=CONSENT_POLICY)
    with bootstrap(settings_) as container:
        key = make_key(container, "consent:write")
        with TestClient(create_app(container), headers={"Authorization": f"Bearer {key}"},
                        raise_server_exceptions=False) as client:
            holder = sqlite3.connect(database)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                answer = client.post("/api/v1/consent-events", json={
                    "subject": "ann@example.com", "residence": "DE", "kind": "consent_granted",
                    "purpose": "newsletter", "collection_point": "app"})
            finally:
                holder.rollback()
                holder.close()
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith(PROBLEM_JSON)
        assert answer.json()["type"] == "urn:pledge:problem:busy"
        with container.unit_of_work() as session:
            assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 0


NUL_BODIES = [  # (route, body, the field the 422 names)
    ("/api/v1/consent-events", {"subject": "browser:b-1", "residence": "US-CA", "kind": "cookies_rejected",
                                "target": "advertising", "collection_point": "banner", "actor_ref": "desk\x00"},
     "actor_ref"),
    ("/api/v1/consent-events/batch", {"events": [{"subject": "browser:b-1", "residence": "US-CA",
                                                  "kind": "cookies_rejected", "target": "advertising",
                                                  "collection_point": "banner", "idempotency_key": "k\x00"}]},
     "events.0.idempotency_key"),
    ("/api/v1/decisions", {"subject": "subject:\x00", "purpose": "newsletter"}, "subject"),
    ("/api/v1/decisions/bulk", {"subjects": ["C-1\x00"], "purpose": "newsletter"}, "subjects"),
    ("/api/v1/subjects/browser:b-1/identities", {"kind": "customer_number", "value": "C-1\x00"}, "value"),
    ("/api/v1/requests", {"request_type": "access", "identity": "ann@example.com", "residence": "DE",
                          "details": {"message": "hello\x00"}}, "details.message"),
]


@pytest.mark.parametrize("route, body, field", NUL_BODIES, ids=[route for route, _b, _f in NUL_BODIES])
def test_text_with_a_nul_character_is_a_422_naming_the_field_and_writes_nothing(
        api_container: Container, route: str, body: dict[str, Any], field: str) -> None:
    """PostgreSQL cannot store U+0000 in text (it failed there as a 500, SQLite stored it): refused where
    it arrives, alike on both databases."""
    key = make_key(api_container, "consent:write", "consent:read", "decide")
    with TestClient(create_app(api_container), headers={"Authorization": f"Bearer {key}"},
                    raise_server_exceptions=False) as client:
        answer = client.post(route, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    errors = answer.json()["errors"]
    assert [e["field"] for e in errors if "NUL" in e["message"]] == [f"body.{field}"], errors
    with api_container.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 0


def test_an_idempotency_key_header_with_a_nul_character_is_a_422_naming_the_header(api_container: Container) -> None:
    key = make_key(api_container, "consent:write")
    with TestClient(create_app(api_container), headers={"Authorization": f"Bearer {key}"}) as client:
        answer = client.post("/api/v1/consent-events", headers={"Idempotency-Key": "k\x00"}, json={
            "subject": "browser:b-1", "residence": "US-CA", "kind": "cookies_rejected", "target": "advertising",
            "collection_point": "banner"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "header.Idempotency-Key"


NUL_URLS = ["/api/v1/subjects/subject:a%00b/state", "/api/v1/subjects/C-1%00/ledger",
            "/api/v1/consent-events/a%00b/receipt", "/api/notices/a%00/versions", "/api/notices?jurisdiction=a%00",
            "/api/v1/requests/R-%00ABC", "/api/v1/requests?jurisdiction=a%00", "/api/v1/requests/package/a%00"]
NUL_PAGES = ["/privacy/a%00/versions", "/privacy/a%00/versions/1/original", "/privacy?jurisdiction=a%00"]


def test_a_nul_character_in_a_url_is_a_422_for_clients_and_no_such_page_for_people(api_container: Container) -> None:
    """Every route looked the value up in the database, where PostgreSQL failed on it with a 500."""
    key = make_key(api_container, "consent:read", "requests:read")
    with TestClient(create_app(api_container), headers={"Authorization": f"Bearer {key}"},
                    raise_server_exceptions=False) as client:
        for url in NUL_URLS:
            answer = client.get(url)
            assert answer.status_code == 422, (url, answer.text)
            assert answer.json()["errors"][0]["field"] == ("query" if "?" in url else "path")
        for url in NUL_PAGES:
            answer = client.get(url)
            assert answer.status_code == 404, (url, answer.text)
            assert "text/html" in answer.headers["content-type"]
            assert "no such page" in answer.text
