"""The JSON API under /api/v1 (issue 3, item 7): record events with an idempotency key, read state and
ledger, decide one and in bulk; API keys with scopes; a 4xx problem body for bad input, never a 500."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pledge.bootstrap import Container
from pledge.web.api import keys
from pledge.web.problems import PROBLEM_JSON
from tests.web.api.conftest import CLIENT_ADDRESS, make_key

GRANT = {"subject": "ann@example.com", "residence": "DE", "kind": "consent_granted", "purpose": "newsletter",
         "collection_point": "preference_centre", "evidence_text": "Send me the newsletter."}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_recording_a_consent_answers_with_the_event_receipt_and_state(api: TestClient) -> None:
    response = api.post("/api/v1/consent-events", json=GRANT)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] is True
    assert body["event"]["kind"] == "consent_granted" and body["event"]["identity"] == "email"
    assert body["receipt"]["record_id"] == body["event"]["uid"]
    assert body["state"]["consents"] == [{"notice": "shop", "purpose": "newsletter", "status": "granted",
                                          "expires_at": None}]
    assert body["event"]["ip_address"] == CLIENT_ADDRESS


def test_the_same_idempotency_key_records_once(api: TestClient) -> None:
    first = api.post("/api/v1/consent-events", json=GRANT, headers={"Idempotency-Key": "abc-1"})
    again = api.post("/api/v1/consent-events", json=GRANT, headers={"Idempotency-Key": "abc-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["event"]["uid"] == first.json()["event"]["uid"]
    assert again.json()["created"] is False
    ledger = api.get("/api/v1/subjects/ann@example.com/ledger").json()
    assert len(ledger["events"]) == 1
    other = api.post("/api/v1/consent-events", json={**GRANT, "kind": "consent_withdrawn"},
                     headers={"Idempotency-Key": "abc-1"})
    assert _problem(other, 422)["type"] == "urn:pledge:problem:idempotency-key-reused"


def test_state_and_ledger_are_read_by_any_identity(api: TestClient) -> None:
    api.post("/api/v1/consent-events", json={**GRANT, "subject": "+49 30 901820"})
    api.post("/api/v1/consent-events", json={**GRANT, "subject": "+49 30 901820", "kind": "consent_withdrawn",
                                             "collection_point": "email_link"})
    state = api.get("/api/v1/subjects/+4930901820/state")
    assert state.status_code == 200
    assert state.json()["consents"][0]["status"] == "withdrawn"
    subject_id = state.json()["subject_id"]
    ledger = api.get(f"/api/v1/subjects/subject:{subject_id}/ledger").json()
    assert [e["kind"] for e in ledger["events"]] == ["consent_granted", "consent_withdrawn"]
    receipt = api.get(f"/api/v1/consent-events/{ledger['events'][0]['uid']}/receipt")
    assert receipt.json()["schema_version"].startswith("ISO/IEC TS 27560")


def test_decide_one_and_in_bulk(api: TestClient) -> None:
    api.post("/api/v1/consent-events", json=GRANT)
    one = api.post("/api/v1/decisions", json={"subject": "ann@example.com", "purpose": "newsletter",
                                              "channel": "email"})
    assert one.status_code == 200, one.text
    assert one.json()["allowed"] is True and one.json()["legal_basis"] == "consent"
    assert one.json()["reasons"][0]["source"]
    bulk = api.post("/api/v1/decisions/bulk", json={"purpose": "newsletter", "jurisdiction": "DE",
                                                    "subjects": ["ann@example.com", "stranger@example.com"]})
    assert bulk.status_code == 200, bulk.text
    body = bulk.json()
    assert (body["allowed"], body["refused"]) == (1, 1)
    assert body["results"][1] == {"subject": "stranger@example.com", "subject_id": None, "allowed": False,
                                  "rule": "no-live-consent"}


def test_linking_a_browser_at_login(api: TestClient) -> None:
    api.post("/api/v1/consent-events", json={**GRANT, "subject": "browser:b-9", "kind": "cookies_accepted",
                                             "purpose": None, "target": "advertising", "collection_point": "banner"})
    api.post("/api/v1/consent-events", json={**GRANT, "subject": "C-42"})
    linked = api.post("/api/v1/subjects/C-42/identities", json={"kind": "browser_id", "value": "b-9"})
    assert linked.status_code == 200, linked.text
    assert len(linked.json()["merged_subjects"]) == 1
    state = api.get("/api/v1/subjects/C-42/state").json()
    assert state["cookie_categories"] == ["advertising"]


# --- keys and scopes ----------------------------------------------------------------------------------


def test_every_route_needs_an_api_key(anonymous: TestClient) -> None:
    for method, path in [("post", "/api/v1/consent-events"), ("get", "/api/v1/subjects/a@b.co/state"),
                         ("post", "/api/v1/decisions"), ("post", "/api/v1/decisions/bulk")]:
        response = getattr(anonymous, method)(path, **({"json": {}} if method == "post" else {}))
        assert _problem(response, 401)["type"] == "urn:pledge:problem:unauthenticated"


def test_a_key_only_does_what_its_scopes_allow(api_container: Container, anonymous: TestClient) -> None:
    reader = make_key(api_container, "consent:read")
    response = anonymous.post("/api/v1/consent-events", json=GRANT, headers={"X-API-Key": reader})
    assert _problem(response, 403)["detail"] == "This key lacks the scope 'consent:write'."
    bogus = anonymous.get("/api/v1/subjects/a@b.co/state", headers={"Authorization": "Bearer pk_nope_nope"})
    _problem(bogus, 401)


def test_a_revoked_key_stops_working(api_container: Container, anonymous: TestClient) -> None:
    key = make_key(api_container, "decide")
    headers = {"Authorization": f"Bearer {key}"}
    ask = {"subject": "a@b.co", "purpose": "newsletter", "jurisdiction": "DE"}
    assert anonymous.post("/api/v1/decisions", json=ask, headers=headers).status_code == 200
    with api_container.unit_of_work() as session:
        keys.revoke_key(session=session, key_id=key.split("_")[1])
        session.commit()
    _problem(anonymous.post("/api/v1/decisions", json=ask, headers=headers), 401)


def test_keys_are_stored_hashed(api_container: Container) -> None:
    key = make_key(api_container, "decide")
    with api_container.unit_of_work() as session:
        (row,) = keys.list_keys(session=session)
        assert key not in (row.secret_hash, row.key_id) and len(row.secret_hash) == 64


# --- bad input: 4xx problems, nothing written ----------------------------------------------------------


@pytest.mark.parametrize(("change", "status", "field", "detail"), [
    ({"purpose": "nope"}, 422, "purpose", "unknown purpose 'nope'"),
    ({"purpose": "orders"}, 422, "purpose", "not on consent"),
    ({"subject": "+1 23"}, 422, "subject", "not a valid phone number"),
    ({"subject": "notanemail@"}, 422, "subject", "not an email address"),
    ({"subject": "has spaces"}, 422, "subject", "not a customer number"),
    ({"residence": "Mars"}, 422, "residence", "unknown jurisdiction"),
    ({"kind": "cookies_accepted", "purpose": None, "target": "tracking"}, 422, "target", "unknown cookie category"),
    ({"kind": "parental_consent_given", "purpose": None, "actor": "guardian", "birth_date": "1970-01-01"}, 422,
     "actor", "a guardian cannot act for them"),
    ({"subject": "subject:does-not-exist"}, 404, "subject", "no subject"),
])
def test_bad_input_is_a_problem_that_says_what_is_wrong(api: TestClient, change: dict[str, Any], status: int,
                                                        field: str, detail: str) -> None:
    body = _problem(api.post("/api/v1/consent-events", json={**GRANT, **change}), status)
    assert detail in body["detail"]
    assert body["errors"][0]["field"] == field
    assert api.get("/api/v1/subjects/ann@example.com/state").status_code == 404


@pytest.mark.parametrize("payload", [
    {}, {"subject": "a@b.co"}, {**GRANT, "kind": "consent_maybe"}, {**GRANT, "surprise": 1},
    {**GRANT, "evidence_hash": "xyz"}, {**GRANT, "occurred_at": "yesterday"},
])
def test_malformed_bodies_are_422_problems_with_field_paths(api: TestClient, payload: dict[str, Any]) -> None:
    body = _problem(api.post("/api/v1/consent-events", json=payload), 422)
    assert body["errors"] and all("field" in error for error in body["errors"])


@pytest.mark.parametrize(("ask", "detail"), [
    ({"purpose": "nope"}, "unknown purpose"),
    ({"purpose": "ads", "data_categories": ["dna"]}, "unknown data category 'dna'"),
    ({"purpose": "ads", "recipient": "nsa"}, "unknown recipient 'nsa'"),
    ({"purpose": "newsletter", "channel": "fax"}, "unknown marketing channel 'fax'"),
    ({"purpose": "newsletter", "jurisdiction": "Narnia"}, "unknown jurisdiction"),
])
def test_a_bad_decision_ask_is_a_4xx(api: TestClient, ask: dict[str, Any], detail: str) -> None:
    body = _problem(api.post("/api/v1/decisions", json={"subject": "a@b.co", **ask}), 422)
    assert detail in body["detail"]


def test_openapi_documents_the_v1_routes(anonymous: TestClient) -> None:
    spec = anonymous.get("/api/openapi.json").json()
    for path in ["/api/v1/consent-events", "/api/v1/subjects/{subject}/state", "/api/v1/subjects/{subject}/ledger",
                 "/api/v1/decisions", "/api/v1/decisions/bulk"]:
        assert path in spec["paths"]
    assert anonymous.get("/docs", follow_redirects=False).headers["location"] == "/api/docs"


# --- batches ---------------------------------------------------------------------------------------------


def test_a_batch_records_every_event_in_order(api: TestClient) -> None:
    events = [{**GRANT, "idempotency_key": "b-1"},
              {**GRANT, "kind": "consent_withdrawn", "collection_point": "email_link", "idempotency_key": "b-2"},
              {**GRANT, "subject": "bob@example.com", "idempotency_key": "b-3"}]
    response = api.post("/api/v1/consent-events/batch", json={"events": events})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["replayed"]) == (3, 0)
    assert [e["kind"] for e in body["events"]] == ["consent_granted", "consent_withdrawn", "consent_granted"]
    again = api.post("/api/v1/consent-events/batch", json={"events": events}).json()
    assert (again["created"], again["replayed"]) == (0, 3)
    state = api.get("/api/v1/subjects/ann@example.com/state").json()
    assert state["consents"][0]["status"] == "withdrawn"


def test_a_batch_with_one_bad_event_writes_nothing(api: TestClient) -> None:
    events = [GRANT, {**GRANT, "subject": "bob@example.com", "purpose": "orders"}]
    body = _problem(api.post("/api/v1/consent-events/batch", json={"events": events}), 422)
    assert body["errors"][0]["field"] == "events.1.purpose"
    assert body["detail"].startswith("event 1: ")
    assert api.get("/api/v1/subjects/ann@example.com/state").status_code == 404


def test_a_birth_date_no_living_person_has_is_a_422_and_writes_nothing(api: TestClient) -> None:
    """Child status follows from the birth date (issue 3, item 1): one in the future would make a
    customer a child forever after."""
    today = dt.datetime.now(dt.UTC).date()  # pledge's day is UTC's, with a day of slack for UTC+14
    tomorrow_but_one = (today + dt.timedelta(days=2)).isoformat()
    for birth_date in (tomorrow_but_one, "1890-01-01"):
        body = _problem(api.post("/api/v1/consent-events", json={**GRANT, "birth_date": birth_date}), 422)
        assert body["errors"][0]["field"] == "birth_date"
        assert birth_date in body["detail"]
        batch = api.post("/api/v1/consent-events/batch", json={"events": [GRANT, {**GRANT, "birth_date": birth_date}]})
        assert _problem(batch, 422)["errors"][0]["field"] == "events.1.birth_date"
    assert api.get("/api/v1/subjects/ann@example.com/state").status_code == 404
    born_today = api.post("/api/v1/consent-events", json={**GRANT, "birth_date": today.isoformat()})
    assert born_today.status_code == 201, born_today.text
    assert born_today.json()["state"]["birth_date"] == today.isoformat()


@pytest.mark.parametrize("field, value, says", [
    ("occurred_at", "0001-01-01T00:00:00+14:00", "out of range"),  # no UTC time: Python overflowed, a 500
    ("expires_at", "9999-12-31T23:59:59-14:00", "out of range"),
    ("occurred_at", "0202-05-01T00:00:00Z", "before 1900"),  # a typing slip, not a consent of the year 202
])
def test_a_time_with_no_place_in_the_ledger_is_a_422_naming_it(api: TestClient, field: str, value: str,
                                                                says: str) -> None:
    body = _problem(api.post("/api/v1/consent-events", json={**GRANT, field: value}), 422)
    assert body["errors"][0]["field"] == field and says in body["detail"]
    assert api.get("/api/v1/subjects/ann@example.com/state").status_code == 404
    assert api.post("/api/v1/consent-events", json={**GRANT, "expires_at": "9999-12-31T23:59:59Z"}).status_code == 201


def test_requests_waiting_on_an_expired_key_cost_one_database_look_up(
        api_container: Container, anonymous: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy client whose cached key expires: its concurrent requests wait for one look-up."""
    key = make_key(api_container, "decide")
    headers = {"Authorization": f"Bearer {key}"}
    ask = {"subject": "a@b.co", "purpose": "newsletter", "jurisdiction": "DE"}
    looked_up: list[str] = []
    real_lookup = keys._lookup

    def slow_lookup(session: Any, plain: str, digest: str) -> Any:
        looked_up.append(digest)
        time.sleep(0.3)  # long enough for every request below to arrive while it runs
        return real_lookup(session, plain, digest)

    monkeypatch.setattr(keys, "_lookup", slow_lookup)
    keys._cache.clear()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _n: anonymous.post("/api/v1/decisions", json=ask, headers=headers)
                                 .status_code, range(8)))

    assert statuses == [200] * 8
    assert len(looked_up) == 1


def test_an_idempotency_key_longer_than_128_characters_is_a_422_naming_the_header(api: TestClient) -> None:
    body = _problem(api.post("/api/v1/consent-events", json=GRANT, headers={"Idempotency-Key": "k" * 129}), 422)
    assert body["errors"][0]["field"] == "header.Idempotency-Key"
    assert "128" in body["errors"][0]["message"]
    assert api.get("/api/v1/subjects/ann@example.com/state").status_code == 404
    assert api.post("/api/v1/consent-events", json=GRANT, headers={"Idempotency-Key": "k" * 128}).status_code == 201


def test_openapi_documents_the_headers_of_recording_an_event(anonymous: TestClient) -> None:
    operation = anonymous.get("/api/openapi.json").json()["paths"]["/api/v1/consent-events"]["post"]
    headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
    assert set(headers) == {"Idempotency-Key", "Sec-GPC", "Prefer"}
    assert headers["Idempotency-Key"]["schema"]["maxLength"] == 128
    assert headers["Idempotency-Key"]["schema"]["minLength"] == 1


def test_an_empty_idempotency_key_is_refused_rather_than_shared(api: TestClient) -> None:
    """An empty key would make every later empty-keyed request a replay of the first, someone else's event."""
    body = _problem(api.post("/api/v1/consent-events", json=GRANT, headers={"Idempotency-Key": ""}), 422)
    assert body["errors"][0]["field"] == "header.Idempotency-Key"
    batch = api.post("/api/v1/consent-events/batch", json={"events": [{**GRANT, "idempotency_key": ""}]})
    assert _problem(batch, 422)["errors"][0]["field"].endswith("idempotency_key")
    assert api.get("/api/v1/subjects/ann@example.com/state").status_code == 404
