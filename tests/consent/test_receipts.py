"""Consent receipts carry the fields of ISO/IEC TS 27560:2023 (issue 3, item 2)."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from pledge.consent.receipts import SCHEMA_VERSION, affected_purposes, receipt
from pledge.policy import CompiledPolicy
from tests.consent.conftest import Record

#: Mandatory fields of a 27560 record (header, processing, parties, events), as pledge names them.
HEADER = {"schema_version", "record_id", "receipt_id", "pii_principal_id"}
PROCESSING = {"purpose", "lawful_basis", "pii_information", "storage_locations", "retention_period",
              "recipient_third_parties", "withdrawal_method", "service"}
PARTY = {"party_id", "party_name", "party_address", "party_role", "party_contact", "party_type"}
EVENT = {"event_time", "validity_duration", "entity_id", "event_type", "event_state"}


def test_a_consent_receipt_has_the_iso_27560_fields(session: Session, consent_policy: CompiledPolicy,
                                                    record: Record) -> None:
    recorded = record(subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter",
                      evidence_text="Send me the newsletter")
    body = receipt(policy=consent_policy, event=recorded.event, identity_kind="email")
    json.dumps(body)
    assert set(body) >= HEADER
    assert body["schema_version"] == SCHEMA_VERSION
    assert body["record_id"] == recorded.event.uid and body["pii_principal_id"] == recorded.subject.id
    assert {"language", "jurisdiction", "privacy_notice", "pii_controllers", "collection_method"} <= set(body)
    (processing,) = body["processing"]
    assert set(processing) >= PROCESSING
    assert processing["lawful_basis"] == "consent"
    assert processing["withdrawal_method"] == ["the unsubscribe link in every email", "the preference centre"]
    assert set(body["parties"][0]) >= PARTY
    (event,) = body["events"]
    assert set(event) >= EVENT
    assert event["event_state"] == "consent given" and event["validity_duration"] == "until withdrawn"
    assert body["evidence"]["text_sha256"] == recorded.event.evidence_hash


def test_an_opt_out_receipt_lists_the_purposes_it_switches_off(session: Session, consent_policy: CompiledPolicy,
                                                               record: Record) -> None:
    """S0 (000_8ec896ddd871dbc0.txt): "Do Not Sell My Data" turns sale and sharing off."""
    recorded = record(subject="cal@example.com", residence="US-CA", kind="opted_out", target="sale_share")
    assert affected_purposes(consent_policy, recorded.event) == [("shop", "ads")]
    body = receipt(policy=consent_policy, event=recorded.event)
    assert [p["purpose"] for p in body["processing"]] == ["ads"]
    assert body["events"][0]["event_type"] == "opt-out of sale share"
    assert body["jurisdiction"] == "US-CA"


def test_a_channel_choice_maps_onto_the_purposes_that_use_the_channel(
        session: Session, consent_policy: CompiledPolicy, record: Record) -> None:
    recorded = record(subject="ann@example.com", residence="DE", kind="channel_switched_off", target="sms")
    assert affected_purposes(consent_policy, recorded.event) == [("shop", "newsletter")]
