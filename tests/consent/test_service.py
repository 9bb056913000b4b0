"""The consent ledger: every choice is appended, the projection follows in the same transaction,
and decisions read it (issue 3, item 2; seed-commitments §3, §4, §9, §10)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pledge.consent import asks, service
from pledge.consent.models import ConsentEvent, ConsentStateRow
from pledge.consent.schemas import RequestContext
from pledge.decisions import ConsentStatus
from pledge.policy import CompiledPolicy
from pledge.subjects.models import DataSubject
from tests.consent.conftest import Record

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

EIGHT_YEARS_AGO = (dt.date.today() - dt.timedelta(days=8 * 365)).isoformat()


def _decide(session: Session, policy: CompiledPolicy, subject: str, purpose: str, **ask: object) -> bool:
    checked = asks.check_ask(policy, purpose=purpose, **ask)  # type: ignore[arg-type]
    _found, decision = asks.decide_for(session=session, policy=policy, subject=subject, ask=checked)
    return decision.allowed


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_withdrawn_consent_stops_marketing_email(session: Session, consent_policy: CompiledPolicy,
                                                 record: Record) -> None:
    """S1 (001_cbab263f9514547f.txt) and S2 §7: consent can be withdrawn at any time."""
    granted = record(subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter")
    assert _decide(session, consent_policy, "ann@example.com", "newsletter", channel="email")
    record(subject="Ann@Example.com", kind="consent_withdrawn", purpose="newsletter", collection_point="email_link")
    assert not _decide(session, consent_policy, "ann@example.com", "newsletter", channel="email")
    ledger = service.ledger(session=session, subject_id=granted.subject.id)
    assert [e.kind for e in ledger] == ["consent_granted", "consent_withdrawn"]


def test_each_event_keeps_who_what_where_and_the_notice_version(session: Session, consent_policy: CompiledPolicy,
                                                               record: Record) -> None:
    """Issue 3 item 2: subject, identity used, kind, target, notice version, collection point, actor,
    evidence, time, expiry."""
    from pledge.notices.service import publish_notice

    publish_notice(session=session, policy=consent_policy, notice_id="shop")
    expires = NOW + dt.timedelta(days=365)
    recorded = service.record_event(
        session=session, policy=consent_policy, now=NOW, event_in=service.ConsentEventCreate(
            subject="+49 30 901820", residence="DE", kind="consent_granted", purpose="newsletter", service="shop-app",
        collection_point="app", actor="subject", evidence_text="Yes, send me the newsletter.",
        expires_at=expires), context=RequestContext(ip_address="203.0.113.9", user_agent="ShopApp/1.0"))
    event = recorded.event
    read = service.event_read(session=session, event=event)
    assert read.identity == "phone"
    assert (event.kind, event.notice_id, event.target, event.notice_version) == (
        "consent_granted", "shop", "newsletter", 1)
    assert (event.collection_point, event.actor, event.jurisdiction) == ("app", "subject", "EEA")
    assert event.evidence_hash == hashlib.sha256(b"Yes, send me the newsletter.").hexdigest()
    assert event.occurred_at == NOW and event.expires_at == expires
    assert (event.ip_address, event.user_agent) == ("203.0.113.9", "ShopApp/1.0")
    assert event.policy_revision == consent_policy.revision


def test_ip_and_user_agent_are_kept_only_when_the_notice_says_it_collects_them(
        session: Session, minimal_policy: CompiledPolicy) -> None:
    """GDPR Art. 5(1)(c) data minimisation: the minimal notice declares no device data."""
    recorded = service.record_event(session=session, policy=minimal_policy, event_in=service.ConsentEventCreate(
        subject="ann@example.com", kind="consent_granted", purpose="newsletter", collection_point="banner"),
        context=RequestContext(ip_address="203.0.113.9", user_agent="Firefox"))
    assert recorded.event.ip_address is None and recorded.event.user_agent is None


def test_the_projection_is_written_in_the_same_transaction(session: Session, consent_policy: CompiledPolicy,
                                                           record: Record) -> None:
    recorded = record(subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter")
    rows = service.projection_rows(session=session, subject_id=recorded.subject.id)
    assert rows[("consent", "shop", "newsletter")].value == "granted"
    session.rollback()
    assert _count(session, ConsentEvent) == 0 and _count(session, ConsentStateRow) == 0


def test_an_expired_consent_no_longer_allows(session: Session, consent_policy: CompiledPolicy,
                                             record: Record) -> None:
    """Issue 3 item 4: a consent purpose without a live grant (never given, withdrawn, expired)."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    granted = record(subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter",
                     expires_at=expires)
    state = service.subject_state(session=session, policy=consent_policy, subject_id=granted.subject.id)
    consent = state.consents[("shop", "newsletter")]
    assert consent.status is ConsentStatus.GRANTED
    assert consent.live_at(expires - dt.timedelta(minutes=1))
    assert not consent.live_at(expires + dt.timedelta(minutes=1))


def test_a_late_event_with_an_earlier_time_does_not_override_a_later_choice(
        session: Session, consent_policy: CompiledPolicy, record: Record) -> None:
    """Events are ordered by when they happened: an app syncing an old grant does not undo a withdrawal."""
    record(subject="ann@example.com", residence="DE", kind="consent_withdrawn", purpose="newsletter",
           occurred_at=NOW)
    record(subject="ann@example.com", kind="consent_granted", purpose="newsletter",
           occurred_at=NOW - dt.timedelta(days=3), collection_point="app")
    assert not _decide(session, consent_policy, "ann@example.com", "newsletter")
    assert service.rebuild(session=session).consistent


def test_an_objection_stops_a_legitimate_interest_purpose(session: Session, consent_policy: CompiledPolicy,
                                                          record: Record) -> None:
    """S2 §7 (002_9e508a21e3d0ba23.txt): the right to object; GDPR Art. 21(1)."""
    record(subject="ann@example.com", residence="FR", kind="objection_raised", purpose="analytics")
    assert not _decide(session, consent_policy, "ann@example.com", "analytics")
    record(subject="ann@example.com", kind="objection_withdrawn", purpose="analytics")
    assert _decide(session, consent_policy, "ann@example.com", "analytics")


def test_a_marketing_objection_stops_every_marketing_purpose(session: Session, consent_policy: CompiledPolicy,
                                                             record: Record) -> None:
    """S2 §7: marketing objection stops marketing processing; GDPR Art. 21(2)-(3)."""
    record(subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter")
    record(subject="ann@example.com", kind="objection_raised", target="direct_marketing")
    assert not _decide(session, consent_policy, "ann@example.com", "newsletter")


def test_a_restriction_stops_use_until_it_is_lifted(session: Session, consent_policy: CompiledPolicy,
                                                    record: Record) -> None:
    """GDPR Art. 18: under restriction only storage and legal claims go on."""
    record(subject="ann@example.com", residence="DE", kind="restriction_requested", collection_point="rights_request")
    assert not _decide(session, consent_policy, "ann@example.com", "orders")
    record(subject="ann@example.com", kind="restriction_lifted", collection_point="rights_request")
    assert _decide(session, consent_policy, "ann@example.com", "orders")


@pytest.mark.parametrize(("opt_out", "purpose"), [
    ("sale_share", "ads"), ("targeted_advertising", "ads"), ("profiling", "fitness-insights"),
    ("limit_sensitive", "fitness-insights"),
])
def test_a_californian_opt_out_stops_the_purposes_it_covers(session: Session, consent_policy: CompiledPolicy,
                                                            record: Record, opt_out: str, purpose: str) -> None:
    """S0 (000_8ec896ddd871dbc0.txt) Your Choices: opt out of sale/sharing, targeted advertising,
    profiling; limit the use of sensitive personal information."""
    record(subject="cal@example.com", residence="US-CA", birth_date="1990-01-01", kind="cookies_accepted",
           target="advertising", collection_point="banner")
    assert _decide(session, consent_policy, "cal@example.com", purpose)
    record(subject="cal@example.com", kind="opted_out", target=opt_out)
    assert not _decide(session, consent_policy, "cal@example.com", purpose)
    record(subject="cal@example.com", kind="opted_in", target=opt_out)
    assert _decide(session, consent_policy, "cal@example.com", purpose)


def test_a_channel_switched_off_stops_that_channel_only(session: Session, consent_policy: CompiledPolicy,
                                                        record: Record) -> None:
    """S2 §7, S3 §12: marketing by post, email, phone, SMS, push, each switchable."""
    record(subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter")
    record(subject="ann@example.com", kind="channel_switched_off", target="sms")
    assert not _decide(session, consent_policy, "ann@example.com", "newsletter", channel="sms")
    assert _decide(session, consent_policy, "ann@example.com", "newsletter", channel="email")


def test_cookie_categories_map_onto_purposes(session: Session, consent_policy: CompiledPolicy,
                                             record: Record) -> None:
    """S2 cookie policy §2.6: non-essential cookies only with consent."""
    record(subject="browser:b-1", residence="DE", kind="consent_granted", purpose="ads", collection_point="banner")
    assert not _decide(session, consent_policy, "browser:b-1", "ads")
    record(subject="browser:b-1", kind="cookies_accepted", target="advertising", collection_point="banner")
    assert _decide(session, consent_policy, "browser:b-1", "ads")


def test_a_guardian_gives_parental_consent_for_a_child(session: Session, consent_policy: CompiledPolicy,
                                                       record: Record) -> None:
    """S1, S3 §13: children's data only with a parent's consent."""
    record(subject="kid@example.com", residence="DE", birth_date=EIGHT_YEARS_AGO, kind="consent_granted",
           purpose="newsletter", actor="guardian", actor_ref="parent@example.com")
    assert not _decide(session, consent_policy, "kid@example.com", "newsletter")
    record(subject="kid@example.com", kind="parental_consent_given", actor="guardian",
           actor_ref="parent@example.com")
    assert _decide(session, consent_policy, "kid@example.com", "newsletter")


def test_a_guardian_declares_a_child_whose_age_is_unknown(session: Session, consent_policy: CompiledPolicy,
                                                          record: Record) -> None:
    recorded = record(subject="kid2@example.com", residence="DE", kind="parental_consent_given", actor="guardian")
    state = service.subject_state(session=session, policy=consent_policy, subject_id=recorded.subject.id)
    assert state.is_child and state.parental_consent


def test_an_age_band_becomes_the_latest_birth_date_it_allows(session: Session, consent_policy: CompiledPolicy,
                                                            record: Record) -> None:
    recorded = record(subject="teen@example.com", residence="TH", age_band="16-17", kind="consent_granted",
                      purpose="newsletter")
    state = service.subject_state(session=session, policy=consent_policy, subject_id=recorded.subject.id,
                                  today=dt.date(2026, 3, 1))
    assert state.birth_date == dt.date(2010, 3, 1)
    assert not _decide(session, consent_policy, "teen@example.com", "newsletter")


# --- bad input: a clear error, nothing written ------------------------------------------------------------


@pytest.mark.parametrize(("fields", "error", "message"), [
    ({"kind": "consent_granted", "purpose": "nope"}, service.UnknownPurpose, "unknown purpose 'nope'"),
    ({"kind": "consent_granted", "purpose": "orders"}, service.BasisMismatch, "rests on contract in EEA"),
    ({"kind": "objection_raised", "purpose": "newsletter"}, service.BasisMismatch, "withdraw the consent instead"),
    ({"kind": "cookies_accepted", "target": "tracking"}, service.UnknownTarget, "unknown cookie category"),
    ({"kind": "cookies_accepted", "target": "essential"}, service.BasisMismatch, "need no consent"),
    ({"kind": "opted_out", "target": "everything"}, service.UnknownTarget, "unknown opt-out"),
    ({"kind": "channel_switched_off", "target": "pigeon"}, service.UnknownTarget, "unknown marketing channel"),
    ({"kind": "consent_granted", "purpose": "newsletter", "notice": "other"}, service.ConsentError,
     "unknown notice"),
    ({"kind": "consent_granted", "purpose": "newsletter", "service": "nope"}, service.ConsentError,
     "unknown service"),
    ({"kind": "parental_consent_given", "actor": "guardian", "birth_date": "1980-01-01"}, service.NotAChild,
     "an adult"),
    ({"kind": "parental_consent_given", "actor": "subject"}, service.ConsentError, "by a guardian"),
    ({"kind": "consent_withdrawn", "purpose": "newsletter", "expires_at": "2030-01-01T00:00:00Z"},
     service.ConsentError, "only a consent grant can expire"),
    ({"kind": "consent_granted", "purpose": "newsletter", "occurred_at": "2999-01-01T00:00:00Z"},
     service.ConsentError, "in the future"),
    ({"kind": "consent_granted", "purpose": "newsletter", "occurred_at": "2025-01-01T00:00:00"},
     service.ConsentError, "time zone"),
    ({"kind": "consent_granted", "purpose": "newsletter", "evidence_text": "a", "evidence_hash": "0" * 64},
     service.ConsentError, "not the SHA-256"),
])
def test_bad_input_is_refused_and_nothing_is_written(session: Session, record: Record, fields: dict[str, object],
                                                     error: type[Exception], message: str) -> None:
    """Issue 3, Bad input: unknown purpose or category, consent for a non-consent purpose, a guardian
    event for an adult: an error that says what is wrong; nothing is written."""
    with pytest.raises(error, match=message):
        record(subject="new@example.com", residence="DE", **fields)
    assert _count(session, ConsentEvent) == 0
    assert _count(session, DataSubject) == 0


def test_a_malformed_identity_or_jurisdiction_is_refused(session: Session, record: Record) -> None:
    with pytest.raises(service.subjects.InvalidIdentity, match="not a valid phone number"):
        record(subject="+1 555", kind="consent_granted", purpose="newsletter")
    with pytest.raises(service.subjects.UnknownJurisdiction):
        record(subject="ann@example.com", residence="Atlantis", kind="consent_granted", purpose="newsletter")
    assert _count(session, DataSubject) == 0


def test_a_guardian_event_for_an_existing_adult_is_refused(session: Session, record: Record) -> None:
    record(subject="adult@example.com", residence="DE", birth_date="1970-01-01", kind="consent_granted",
           purpose="newsletter")
    with pytest.raises(service.NotAChild):
        record(subject="adult@example.com", kind="parental_consent_given", actor="guardian")
    assert _count(session, ConsentEvent) == 1


def test_a_purpose_in_several_notices_needs_the_notice(session: Session) -> None:
    from pledge.policy import load_compiled
    from tests.conftest import PANASONIC_POLICY

    panasonic = load_compiled(PANASONIC_POLICY)
    with pytest.raises(service.ConsentError, match="several notices"):
        service.record_event(session=session, policy=panasonic, event_in=service.ConsentEventCreate(
            subject="ann@example.com", kind="consent_granted", purpose="advertising", collection_point="banner"))


# --- idempotency -----------------------------------------------------------------------------------------


def test_the_same_idempotency_key_never_records_twice(session: Session, record: Record) -> None:
    key = RequestContext(idempotency_key="req-1")
    first = record(subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter",
                   context=key)
    again = record(subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter",
                   context=key)
    assert first.created and not again.created
    assert again.event.id == first.event.id
    assert _count(session, ConsentEvent) == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(session: Session, record: Record) -> None:
    key = RequestContext(idempotency_key="req-1")
    record(subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter", context=key)
    with pytest.raises(service.IdempotencyConflict):
        record(subject="ann@example.com", residence="DE", kind="consent_withdrawn", purpose="newsletter",
               context=key)


# --- linking a browser to a customer ------------------------------------------------------------------------


def test_a_browser_linked_at_login_brings_its_consent_history(session: Session, consent_policy: CompiledPolicy,
                                                             record: Record) -> None:
    """Issue 3 item 1: linking a browser id to a customer after login keeps both histories."""
    record(subject="browser:b-77", residence="DE", kind="cookies_accepted", target="advertising",
           collection_point="banner")
    customer = record(subject="C-100", residence="DE", kind="consent_granted", purpose="ads")
    subject, merged = service.link_identity(session=session, policy=consent_policy, subject_id=customer.subject.id,
                                            identity=service.subjects.to_identity("browser_id", "b-77"))
    assert merged is not None
    kinds = [e.kind for e in service.ledger(session=session, subject_id=subject.id)]
    assert kinds == ["cookies_accepted", "consent_granted"]
    assert _decide(session, consent_policy, "C-100", "ads")
    assert _decide(session, consent_policy, "browser:b-77", "ads")
    assert service.rebuild(session=session).consistent


def test_a_batch_keeps_the_identity_each_event_used(session: Session, consent_policy: CompiledPolicy) -> None:
    """Issue 3 item 2: each event keeps the identity used, also when one run of events names a person twice."""
    service.record_event(session=session, policy=consent_policy, event_in=service.ConsentEventCreate(
        subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter",
        collection_point="app"))
    ann = service.subjects.lookup(session=session, reference=service.subjects.parse_reference("ann@example.com"))
    assert ann is not None
    service.subjects.link_identity(session=session, policy=consent_policy, subject=ann,
                                   identity=service.subjects.to_identity("phone", "+4930901820"))
    items = [(service.ConsentEventCreate(subject=subject, kind="channel_switched_off", target=channel,
                                         collection_point="app"), RequestContext())
             for subject, channel in [("+4930901820", "sms"), ("ann@example.com", "email"),
                                      ("new@example.com", "sms"), ("new@example.com", "email")]]
    recorded = service.record_events(session=session, policy=consent_policy, items=items)
    assert [r.identity_kind for r in recorded] == ["phone", "email", "email", "email"]
    assert recorded[0].subject.id == recorded[1].subject.id == ann.id
    assert recorded[2].subject.id == recorded[3].subject.id != ann.id
    assert service.rebuild(session=session).consistent
