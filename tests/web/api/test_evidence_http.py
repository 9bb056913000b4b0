"""The evidence kept with an event over real HTTP: the client's address only when it is an address
(issue 3, item 2: "IP and user agent only as the policy's minimisation rule allows").

uvicorn trusts X-Forwarded-For from loopback (a reverse proxy in front of pledge), so whoever talks
to that proxy chooses the header's text. The shop notice of the fixture policy collects device data,
so its events keep the address."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from pledge.bootstrap import Container
from pledge.consent.schemas import RequestContext
from tests.web.api.conftest import make_key

NEWSLETTER = {"subject": "ada@example.com", "residence": "GB", "kind": "consent_granted",
              "notice": "shop", "purpose": "newsletter", "collection_point": "preference_centre"}


@pytest.mark.parametrize("forwarded_for", ["x" * 100, "not an address", "1.2.3.4.5"])
def test_a_forwarded_for_that_is_no_address_records_the_event_without_one(
        api_container: Container, live_server: str, forwarded_for: str) -> None:
    key = make_key(api_container, "consent:write", "consent:read")
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {key}",
                                                     "X-Forwarded-For": forwarded_for}) as client:
        one = client.post("/api/v1/consent-events", json=NEWSLETTER)
        batch = client.post("/api/v1/consent-events/batch",
                            json={"events": [{**NEWSLETTER, "kind": "consent_withdrawn"}]})
        assert one.status_code == 201, one.text
        assert batch.status_code == 200, batch.text
        assert one.json()["event"]["ip_address"] is None
        assert batch.json()["events"][0]["ip_address"] is None
        ledger = client.get("/api/v1/subjects/ada@example.com/ledger").json()["events"]
        assert [(e["kind"], e["ip_address"]) for e in ledger] == [("consent_granted", None),
                                                                   ("consent_withdrawn", None)]


def test_an_address_is_kept_in_its_canonical_form(api_container: Container, live_server: str) -> None:
    key = make_key(api_container, "consent:write", "consent:read")
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {key}"}) as client:
        direct = client.post("/api/v1/consent-events", json=NEWSLETTER)
        forwarded = client.post("/api/v1/consent-events", json={**NEWSLETTER, "kind": "consent_withdrawn"},
                                headers={"X-Forwarded-For": "2001:DB8:0:0::1"})
    assert direct.json()["event"]["ip_address"] == "127.0.0.1"
    assert forwarded.json()["event"]["ip_address"] == "2001:db8::1"


def test_a_caller_giving_a_context_with_no_address_is_told_so() -> None:
    with pytest.raises(ValidationError, match="not an IP address"):
        RequestContext(ip_address="203.0.113.7, 10.0.0.1")
    assert RequestContext(ip_address=" 203.0.113.7 ").ip_address == "203.0.113.7"
