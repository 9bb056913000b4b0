"""Global Privacy Control honoured over real HTTP: a uvicorn server on a loopback port, an httpx client
(issue 3, item 3; 11 CCR § 7025(b)-(c), Cal. Civ. Code § 1798.135; S0 "until an industry standard exists")."""

from __future__ import annotations

import httpx

from pledge.bootstrap import Container
from tests.web.api.conftest import make_key

BANNER = {"subject": "browser:3f9c0f5e-2b1a-4c1d-9e8f-0123456789ab", "residence": "US-CA",
          "kind": "cookies_rejected", "target": "advertising", "collection_point": "banner"}


def test_sec_gpc_opts_a_californian_browser_out_of_sale_and_sharing(api_container: Container,
                                                                    live_server: str) -> None:
    key = make_key(api_container, "consent:write", "consent:read")
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {key}"}) as client:
        response = client.post("/api/v1/consent-events", json=BANNER, headers={"Sec-GPC": "1"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["gpc_event"]["kind"] == "opted_out"
        assert body["gpc_event"]["target"] == "sale_share"
        assert body["gpc_event"]["collection_point"] == "gpc_signal"
        assert body["state"]["opt_out_sale_share"] is True and body["state"]["gpc"] is True
        receipt = client.get(f"/api/v1/consent-events/{body['gpc_event']['uid']}/receipt").json()
        assert receipt["collection_method"] == "gpc_signal"
        assert receipt["events"][0]["event_state"] == "opted out"
        state = client.get(f"/api/v1/subjects/{BANNER['subject']}/state").json()
        assert state["gpc"] is True


def test_sec_gpc_is_not_an_opt_out_where_the_law_does_not_recognise_it(api_container: Container,
                                                                       live_server: str) -> None:
    key = make_key(api_container, "consent:write", "consent:read")
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {key}"}) as client:
        response = client.post("/api/v1/consent-events", json={**BANNER, "residence": "DE"},
                               headers={"Sec-GPC": "1"})
        assert response.status_code == 201
        assert response.json()["gpc_event"] is None
        assert response.json()["state"]["opt_out_sale_share"] is False


def test_sec_gpc_on_a_state_read_records_the_opt_out(api_container: Container, live_server: str) -> None:
    key = make_key(api_container, "consent:write", "consent:read")
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {key}"}) as client:
        client.post("/api/v1/consent-events", json={**BANNER, "subject": "browser:b-ca"})
        state = client.get("/api/v1/subjects/browser:b-ca/state", headers={"Sec-GPC": "1"}).json()
        assert state["gpc_event"]["collection_point"] == "gpc_signal"
        assert state["opt_out_sale_share"] is True
        ledger = client.get("/api/v1/subjects/browser:b-ca/ledger").json()
        assert [e["kind"] for e in ledger["events"]] == ["cookies_rejected", "opted_out"]
