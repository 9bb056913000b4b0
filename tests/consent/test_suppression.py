"""Suppression lists for vendors (issue 3, item 6; S0 000_8ec896ddd871dbc0.txt: "we provide our vendors
with our opt-out lists")."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from pledge.consent import asks
from pledge.consent.models import Disclosure
from pledge.consent.suppression import HEADER, email_sha256, export_suppression
from pledge.policy import CompiledPolicy
from tests.consent.conftest import Record


def test_vendors_get_the_hashed_emails_of_everyone_not_allowed(session: Session, consent_policy: CompiledPolicy,
                                                               record: Record) -> None:
    record(subject="Yes@Example.com", residence="DE", kind="consent_granted", purpose="newsletter")
    record(subject="no@example.com", residence="DE", kind="consent_granted", purpose="newsletter")
    record(subject="no@example.com", kind="consent_withdrawn", purpose="newsletter")
    record(subject="never@example.com", residence="DE", kind="channel_switched_off", target="sms")
    record(subject="browser:b-1", residence="DE", kind="consent_withdrawn", purpose="newsletter")
    ask = asks.check_ask(consent_policy, purpose="newsletter")
    result = export_suppression(session=session, policy=consent_policy, ask=ask, recipient="mailer")
    lines = result.csv.splitlines()
    assert lines[0] == HEADER
    assert sorted(lines[1:]) == sorted([email_sha256("no@example.com"), email_sha256("never@example.com")])
    assert email_sha256(" NO@example.com ") == hashlib.sha256(b"no@example.com").hexdigest()
    assert (result.count, result.subjects_considered) == (2, 3)


def test_each_export_is_recorded_as_a_disclosure(session: Session, consent_policy: CompiledPolicy,
                                                 record: Record) -> None:
    """S0: what was disclosed, to which recipients, in the past 12 months must be reportable."""
    record(subject="no@example.com", residence="DE", kind="consent_withdrawn", purpose="newsletter")
    ask = asks.check_ask(consent_policy, purpose="newsletter")
    result = export_suppression(session=session, policy=consent_policy, ask=ask, recipient="mailer")
    (disclosure,) = session.scalars(select(Disclosure))
    assert (disclosure.kind, disclosure.recipient, disclosure.notice_id, disclosure.purpose) == (
        "suppression_list", "mailer", "shop", "newsletter")
    assert disclosure.record_count == 1
    assert disclosure.data_categories == ["contact"]
    assert disclosure.content_hash == hashlib.sha256(result.csv.encode()).hexdigest()
