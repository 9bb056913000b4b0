"""The fast path of POST /api/v1/consent-events (web/api/fast_path.py) answers exactly as the route does.

Each case is sent twice, about two different people: first with the key cache emptied, so the
request takes the FastAPI route (which looks the key up and caches it), then with the key cached,
so it takes the fast path. The answers must match in status, headers and body, up to what differs
between two people and two moments (ids, times, idempotency keys).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pledge.bootstrap import Container
from pledge.web import create_app
from pledge.web.api import keys
from tests.web.api.conftest import CLIENT_ADDRESS, make_key

VOLATILE = {"uid", "subject_id", "record_id", "receipt_id", "pii_principal_id", "record_created_at", "recorded_at",
            "occurred_at", "event_time", "entity_id", "idempotency_key"}
GRANT = {"residence": "DE", "kind": "consent_granted", "purpose": "newsletter", "collection_point": "app",
         "evidence_text": "Send me the newsletter."}
BANNER = {"residence": "US-CA", "kind": "cookies_rejected", "target": "advertising", "collection_point": "banner"}


@pytest.fixture(autouse=True)
def _keys_stay_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path acts on cached keys: a slow machine must not let the cache lapse between the two sends."""
    monkeypatch.setattr(keys, "CACHE_SECONDS", 600.0)


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "*" if k in VOLATILE else _without_volatile(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_volatile(item) for item in value]
    return value


def _comparable(response: Any) -> tuple[int, str, str | None, Any]:
    return (response.status_code, response.headers["content-type"], response.headers.get("preference-applied"),
            _without_volatile(response.json()))


CASES: dict[str, tuple[dict[str, Any], dict[str, str], bool]] = {  # body, headers, taken by the fast path
    "a consent, full answer": (GRANT, {}, True),
    "Prefer: return=minimal": (GRANT, {"Prefer": "return=minimal"}, True),
    "Sec-GPC: 1 from California": (BANNER, {"Sec-GPC": "1"}, True),
    "an unknown purpose (the write's own 422)": ({**GRANT, "purpose": "nope"}, {}, True),
    "an Idempotency-Key too long (a header's 422)": (GRANT, {"Idempotency-Key": "k" * 129}, True),
    "a body that does not validate (handed to the route)": ({**GRANT, "kind": "nonsense"}, {}, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_fast_path_answers_as_the_route_does(api_container: Container, case: str) -> None:
    body, headers, fast = CASES[case]
    key = make_key(api_container, "consent:write", "consent:read")
    app = create_app(api_container)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}, client=(CLIENT_ADDRESS, 50000)) as client:
        keys._cache.clear()
        by_route = client.post("/api/v1/consent-events", json={**body, "subject": "browser:b-route"}, headers=headers)
        assert app.state.consent_fast_path_writes == 0
        by_fast_path = client.post("/api/v1/consent-events", json={**body, "subject": "browser:b-fast"},
                                   headers=headers)
        assert app.state.consent_fast_path_writes == (1 if fast else 0)
    assert _comparable(by_fast_path) == _comparable(by_route)


def test_a_replay_answers_alike_by_either_way(api_container: Container) -> None:
    key = make_key(api_container, "consent:write")
    app = create_app(api_container)
    with TestClient(app, headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "k-1"}) as client:
        first = client.post("/api/v1/consent-events", json={**GRANT, "subject": "ann@example.com"})
        keys._cache.clear()
        by_route = client.post("/api/v1/consent-events", json={**GRANT, "subject": "ann@example.com"})
        by_fast_path = client.post("/api/v1/consent-events", json={**GRANT, "subject": "ann@example.com"})
        reused = client.post("/api/v1/consent-events", json={**GRANT, "subject": "bob@example.com"})
    assert first.status_code == 201
    assert by_route.status_code == by_fast_path.status_code == 200
    assert by_route.json() == by_fast_path.json()
    assert by_fast_path.json()["event"]["uid"] == first.json()["event"]["uid"]
    assert reused.status_code == 422 and reused.json()["type"] == "urn:pledge:problem:idempotency-key-reused"
    assert app.state.consent_fast_path_writes == 2  # the second replay and the reused key


def test_a_key_without_the_scope_or_not_yet_known_takes_the_route(api_container: Container) -> None:
    """The fast path acts only for a key already checked; the route refuses the rest as it always has."""
    reader = make_key(api_container, "consent:read")
    app = create_app(api_container)
    with TestClient(app) as client:
        unknown = client.post("/api/v1/consent-events", json={**GRANT, "subject": "ann@example.com"},
                              headers={"Authorization": "Bearer not-a-key"})
        client.get("/api/v1/subjects/ann@example.com/state", headers={"Authorization": f"Bearer {reader}"})
        missing_scope = client.post("/api/v1/consent-events", json={**GRANT, "subject": "ann@example.com"},
                                    headers={"Authorization": f"Bearer {reader}"})
    assert unknown.status_code == 401 and missing_scope.status_code == 403
    assert app.state.consent_fast_path_writes == 0


def test_a_url_with_a_query_takes_the_route_and_its_checks(api_container: Container) -> None:
    key = make_key(api_container, "consent:write")
    app = create_app(api_container)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        client.post("/api/v1/consent-events", json={**GRANT, "subject": "ann@example.com"})  # the key is cached
        answer = client.post("/api/v1/consent-events?x=%00", json={**GRANT, "subject": "bob@example.com"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "query"
    assert app.state.consent_fast_path_writes == 0


@pytest.mark.parametrize("content_type", ["application/jsonx", "application/json-seq", "application/json, text/plain",
                                          "text/plain"])
def test_a_body_not_sent_as_json_takes_the_route_which_refuses_it(api_container: Container, content_type: str) -> None:
    """FastAPI reads a body as JSON only under a JSON media type; the fast path must not be more lenient."""
    key = make_key(api_container, "consent:write")
    app = create_app(api_container)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        client.post("/api/v1/consent-events", json={**GRANT, "subject": "ann@example.com"})  # the key is cached
        answer = client.post("/api/v1/consent-events", content=json.dumps({**GRANT, "subject": "bob@example.com"}),
                             headers={"Content-Type": content_type})
    assert answer.status_code == 422, answer.text
    assert app.state.consent_fast_path_writes == 0
