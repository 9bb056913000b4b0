"""Global Privacy Control recorded as an opt-out where the jurisdiction recognises it (issue 3, item 3;
seed-commitments §5: S0 says Do Not Track is not supported "until an industry standard exists")."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pledge.consent import service
from pledge.consent.schemas import RequestContext
from pledge.policy import CompiledPolicy
from tests.consent.conftest import Record


def test_gpc_opts_a_californian_out_of_sale_and_sharing(session: Session, consent_policy: CompiledPolicy,
                                                       record: Record) -> None:
    """11 CCR § 7025(b)-(c), Cal. Civ. Code § 1798.135: the signal is a valid opt-out request."""
    recorded = record(subject="browser:b-1", residence="US-CA", kind="cookies_accepted", target="advertising",
                      collection_point="banner", context=RequestContext(gpc=True))
    assert recorded.gpc_event is not None
    assert (recorded.gpc_event.kind, recorded.gpc_event.target, recorded.gpc_event.collection_point) == (
        "opted_out", "sale_share", "gpc_signal")
    state = service.subject_state(session=session, policy=consent_policy, subject_id=recorded.subject.id)
    assert state.opt_out_sale_share and state.gpc


def test_gpc_is_recorded_once(session: Session, record: Record) -> None:
    first = record(subject="browser:b-1", residence="US-CA", kind="channel_switched_off", target="sms",
                   context=RequestContext(gpc=True))
    second = record(subject="browser:b-1", kind="channel_switched_on", target="sms",
                    context=RequestContext(gpc=True))
    assert first.gpc_event is not None and second.gpc_event is None


def test_gpc_records_nothing_where_the_law_does_not_recognise_it(session: Session, consent_policy: CompiledPolicy,
                                                                record: Record) -> None:
    recorded = record(subject="browser:b-2", residence="DE", kind="channel_switched_off", target="sms",
                      context=RequestContext(gpc=True))
    assert recorded.gpc_event is None
    state = service.subject_state(session=session, policy=consent_policy, subject_id=recorded.subject.id)
    assert not state.opt_out_sale_share and not state.gpc


def test_gpc_honoured_for_a_browser_pledge_has_not_seen(session: Session, consent_policy: CompiledPolicy) -> None:
    subject, event = service.gpc_for(session=session, policy=consent_policy, reference="browser:new-1",
                                     residence="US-CA")
    assert event is not None
    assert service.subject_state(session=session, policy=consent_policy, subject_id=subject.id).gpc


def test_opting_back_in_clears_the_gpc_opt_out(session: Session, consent_policy: CompiledPolicy,
                                              record: Record) -> None:
    recorded = record(subject="browser:b-3", residence="US-CA", kind="channel_switched_off", target="sms",
                      context=RequestContext(gpc=True))
    record(subject="browser:b-3", kind="opted_in", target="sale_share")
    state = service.subject_state(session=session, policy=consent_policy, subject_id=recorded.subject.id)
    assert not state.opt_out_sale_share and not state.gpc
