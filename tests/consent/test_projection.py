"""The projection equals a replay of the ledger (issue 3, item 2: `pledge consent rebuild --check`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session

from pledge.consent import service
from pledge.consent.models import ConsentStateRow
from pledge.consent.projection import replay
from pledge.consent.schemas import ConsentEventCreate, EventKind, RequestContext
from pledge.policy import CompiledPolicy
from tests.consent.conftest import Record

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class FakeEvent:
    id: int
    kind: str
    notice_id: str
    target: str
    collection_point: str
    occurred_at: dt.datetime
    expires_at: dt.datetime | None = None


CHOICES = [
    (EventKind.CONSENT_GRANTED, "shop", "newsletter"), (EventKind.CONSENT_WITHDRAWN, "shop", "newsletter"),
    (EventKind.CONSENT_DENIED, "shop", "ads"), (EventKind.OBJECTION_RAISED, "shop", "analytics"),
    (EventKind.OBJECTION_WITHDRAWN, "shop", "analytics"), (EventKind.OPTED_OUT, "", "sale_share"),
    (EventKind.OPTED_IN, "", "sale_share"), (EventKind.CHANNEL_SWITCHED_OFF, "", "sms"),
    (EventKind.RESTRICTION_REQUESTED, "", ""), (EventKind.RESTRICTION_LIFTED, "", ""),
]
events_strategy = st.lists(st.tuples(st.sampled_from(CHOICES), st.integers(0, 20),
                                     st.sampled_from(["app", "gpc_signal"])), max_size=25)


@given(events_strategy, st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_replay_does_not_depend_on_the_order_events_arrive_in(raw: list[tuple[tuple[EventKind, str, str], int, str]],
                                                              shuffle: object) -> None:
    events = [FakeEvent(i + 1, kind.value, notice, target, point, T0 + dt.timedelta(minutes=minute))
              for i, ((kind, notice, target), minute, point) in enumerate(raw)]
    shuffled = list(events)
    shuffle.shuffle(shuffled)  # type: ignore[attr-defined]
    assert replay(shuffled) == replay(events)


def test_rebuild_check_proves_the_projection_equals_the_ledger(session: Session, record: Record) -> None:
    record(subject="ann@example.com", residence="DE", kind="consent_granted", purpose="newsletter")
    record(subject="ann@example.com", kind="consent_withdrawn", purpose="newsletter")
    record(subject="cal@example.com", residence="US-CA", kind="opted_out", target="sale_share",
           collection_point="gpc_signal")
    report = service.rebuild(session=session, check=True)
    assert report.consistent
    assert (report.events, report.subjects, report.rows) == (3, 2, 3)


def test_rebuild_check_finds_a_tampered_projection_and_rebuild_repairs_it(session: Session, record: Record) -> None:
    recorded = record(subject="ann@example.com", residence="DE", kind="consent_withdrawn", purpose="newsletter")
    session.execute(update(ConsentStateRow).values(value="granted"))
    report = service.rebuild(session=session, check=True)
    assert not report.consistent
    assert "ledger says withdrawn" in report.differences[recorded.subject.id][0]
    assert service.rebuild(session=session, check=False).rewritten
    assert service.rebuild(session=session, check=True).consistent


@given(st.lists(st.tuples(st.sampled_from(CHOICES), st.integers(-5, 0)), min_size=1, max_size=12))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_live_projection_equals_a_replay_for_random_ledgers(
        consent_container: object, raw: list[tuple[tuple[EventKind, str, str], int]]) -> None:
    """Each example runs in its own unit of work, rolled back at the end: the fixture's database stays empty."""
    from pledge.bootstrap import Container

    assert isinstance(consent_container, Container)
    policy: CompiledPolicy = consent_container.policy
    with consent_container.unit_of_work() as session:
        now = dt.datetime.now(dt.UTC)
        for (kind, _notice, target), days in raw:
            fields: dict[str, object] = {"purpose": target} if kind.value.startswith(("consent", "objection")) \
                else {"target": target or None}
            service.record_event(session=session, policy=policy, event_in=service.ConsentEventCreate(
                subject="r@example.com", residence="DE", kind=kind, collection_point="app",
                occurred_at=now + dt.timedelta(days=days), **fields))  # type: ignore[arg-type]
        assert service.rebuild(session=session, check=True).consistent


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_recording_returns_the_projection_its_statement_left(session: Session,
                                                                          consent_policy: CompiledPolicy) -> None:
    """The group commit answers with the state the insert made, without reading it back: the rows the
    statement wrote, the stored rows it did not touch, and a stored row a late-arriving older event
    must not overwrite. Each must equal the projection as read afterwards."""
    def event(subject: str, minute: int, **fields: str) -> tuple[ConsentEventCreate, RequestContext]:
        return (ConsentEventCreate.model_validate({"subject": subject, "residence": "DE", "collection_point": "app",
                                                   "occurred_at": T0 + dt.timedelta(minutes=minute), **fields}),
                RequestContext())

    service.record_events(session=session, policy=consent_policy, items=[
        event("ann@example.com", 10, kind="consent_granted", purpose="newsletter"),
        event("ann@example.com", 10, kind="objection_raised", purpose="analytics"),
        event("bob@example.com", 10, kind="consent_granted", purpose="newsletter")])
    session.commit()

    recorded = service.record_events(session=session, policy=consent_policy, items=[
        event("ann@example.com", 20, kind="consent_withdrawn", purpose="newsletter"),
        event("ann@example.com", 5, kind="objection_withdrawn", purpose="analytics"),  # older than the stored one
        event("bob@example.com", 30, kind="consent_denied", purpose="ads"),
        event("cat@example.com", 30, kind="consent_granted", purpose="newsletter")])

    for one in recorded:
        assert one.state_rows is not None
        assert one.state_rows == service.projection_rows(session=session, subject_id=one.subject.id)
    ann = recorded[0].state_rows
    assert ann is not None and len(ann) == 2  # newsletter withdrawn, the objection still standing
    assert {value.value for value in ann.values()} == {"withdrawn", "raised"}
    assert len(recorded[2].state_rows or {}) == 2  # bob's stored grant is in the answer with the new denial
