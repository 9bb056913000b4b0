"""Rights requests from intake to answer: what each jurisdiction offers, verification, deadlines, the log,
extensions, denials, appeals and retention, on SQLite and PostgreSQL with mail through a real SMTP server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from pledge.bootstrap import Container
from pledge.policy import CompiledPolicy
from pledge.policy.models import Right
from pledge.rights import service
from pledge.rights.deadlines import compute_deadlines
from pledge.rights.models import RightsRequest, RightsRequestEvent
from pledge.rights.schemas import (
    RIGHT_OF,
    AgentIn,
    Channel,
    DocumentIn,
    RequestDetails,
    RequestType,
    RightsRequestCreate,
    VerifyIn,
)
from pledge.rights.service import (
    InvalidIdentity,
    MissingAgentPermission,
    RequestConflict,
    RightsError,
    RightsParts,
    UnknownRequestType,
)
from pledge.rights.state import RequestState
from pledge.subjects.schemas import IdentityCreate, SubjectCreate
from pledge.subjects.service import create_subject
from tests.rights.conftest import Inbox

T0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
PERMISSION = DocumentIn(filename="permission.pdf", content_type="application/pdf", content=b"%PDF signed permission")
DECLARATION = DocumentIn(filename="declaration.pdf", content_type="application/pdf", content=b"%PDF under penalty")


def submit(container: Container, parts: RightsParts, *, now: dt.datetime = T0, channel: Channel = Channel.API,
           **fields: Any) -> RightsRequest:
    with container.unit_of_work() as session:
        request = service.submit_request(session=session, policy=container.policy,
                                         request_in=RightsRequestCreate(**fields), parts=parts, channel=channel,
                                         now=now)
        session.commit()
        return request


def verify(container: Container, parts: RightsParts, reference: str, code: str, *, now: dt.datetime = T0,
           declaration: DocumentIn | None = None, **points: str) -> Any:
    with container.unit_of_work() as session:
        outcome = service.verify_request(session=session, policy=container.policy, reference=reference,
                                         verify_in=VerifyIn(code=code, data_points=points, declaration=declaration),
                                         parts=parts, now=now)
        session.commit()
        return outcome


def load(container: Container, reference: str) -> RightsRequest:
    with container.unit_of_work() as session:
        return service.get_request(session=session, reference=reference)


def register(container: Container, residence: str, **identities: str) -> str:
    with container.unit_of_work() as session:
        subject = create_subject(session=session, policy=container.policy, subject_in=SubjectCreate(
            residence=residence, birth_date=dt.date(1985, 4, 12),
            identities=[IdentityCreate(kind=kind, value=value) for kind, value in identities.items()]))  # type: ignore[arg-type]
        session.commit()
        return subject.id


def count_requests(container: Container) -> int:
    with container.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(RightsRequest)) or 0)


# --- what each jurisdiction offers -----------------------------------------------------------------------


def test_each_jurisdiction_offers_exactly_the_request_types_its_policy_grants(panasonic: CompiledPolicy) -> None:
    """The policy, not the code, says which rights apply: Utah has no correction and no appeal; only California
    has a request to know; the other US states have no statutory rights encoded."""
    offered = {code: set(service.offered_types(panasonic, code)) for code in panasonic.jurisdictions}
    assert RequestType.RECTIFICATION not in offered["US-UT"] and RequestType.APPEAL not in offered["US-UT"]
    assert {code for code, types in offered.items() if RequestType.KNOW in types} == {"US-CA"}
    assert {RequestType.APPEAL} <= offered["US-VA"] & offered["US-CO"] & offered["US-CT"]
    assert offered["US"] == set()
    assert RequestType.LIFT_RESTRICTION in offered["EEA"] and RequestType.LIMIT_SENSITIVE in offered["US-CA"]
    for code, types in offered.items():
        granted = set(panasonic.jurisdictions[code].rights)
        assert {RIGHT_OF[t] for t in types} <= granted | {Right.APPEAL}


def _all_pairs() -> list[tuple[str, RequestType]]:
    from pledge.policy import load_compiled
    from tests.conftest import PANASONIC_POLICY

    policy = load_compiled(PANASONIC_POLICY)
    return [(code, kind) for code in sorted(policy.jurisdictions) for kind in service.offered_types(policy, code)]


@pytest.mark.parametrize("jurisdiction, kind", _all_pairs())
def test_every_offered_request_type_is_taken_in_with_the_jurisdictions_clock_and_verification(
        jurisdiction: str, kind: RequestType, rights_container: Container, parts: RightsParts,
        inbox: Inbox, panasonic: CompiledPolicy) -> None:
    """Issue #4: each request type through each jurisdiction's rules; deadlines never guessed but read."""
    residence = {"EEA": "DE", "default": None}.get(jurisdiction, jurisdiction)
    details: dict[str, Any] = {}
    appeal_of = None
    if kind is RequestType.RECTIFICATION:
        details = {"corrections": {"postal_address": "1 New Street"}}
    if kind is RequestType.APPEAL:
        denied = submit(rights_container, parts, request_type="access", identity="appellant@example.com",
                        residence=residence)
        with rights_container.unit_of_work() as session:
            service.deny_request(session=session, policy=panasonic, reference=denied.reference, reason="not found",
                                 parts=parts, actor="staff:test")
            session.commit()
        appeal_of = denied.reference
    request = submit(rights_container, parts, request_type=kind.value, identity="appellant@example.com",
                     residence=residence, details=details, appeal_of=appeal_of)
    need = service.verification_need(panasonic, jurisdiction, kind)
    expected = compute_deadlines(panasonic, jurisdiction, RIGHT_OF[kind], received_on=T0.date(),
                                 verified_on=None if need.required else T0.date())
    assert request.jurisdiction == jurisdiction
    assert request.state == (RequestState.AWAITING_VERIFICATION if need.required else RequestState.VERIFIED)
    assert (request.due_on, request.confirmation_due_on) == (expected.due_on, expected.confirmation_due_on)
    assert request.deadline_source == expected.source
    assert request.confirmed_at == T0


# --- intake -------------------------------------------------------------------------------------------


def test_a_type_the_jurisdiction_does_not_offer_is_refused_and_nothing_is_written(
        rights_container: Container, parts: RightsParts, inbox: Inbox) -> None:
    """Utah Code § 13-61-201 grants no right to correct."""
    with pytest.raises(UnknownRequestType, match="not offered under US-UT") as refused:
        submit(rights_container, parts, request_type="rectification", identity="u@example.com", residence="US-UT",
               details={"corrections": {"email": "v@example.com"}})
    assert refused.value.field == "request_type"
    assert count_requests(rights_container) == 0 and inbox.messages == []


@pytest.mark.parametrize("fields, field", [
    ({"identity": "not an email@"}, "identity"),
    ({"identity": "+1 555"}, "identity"),
    ({"identity": "customer:C-1"}, "contact_email"),
    ({"identity": "a@example.com", "contact_email": "nope"}, "contact_email"),
    ({"identity": "subject:abc"}, "identity"),
])
def test_a_malformed_identity_is_refused_with_its_field_and_nothing_is_written(
        fields: dict[str, str], field: str, rights_container: Container, parts: RightsParts, inbox: Inbox) -> None:
    with pytest.raises(InvalidIdentity) as refused:
        submit(rights_container, parts, request_type="access", residence="DE", **fields)
    assert refused.value.field == field
    assert count_requests(rights_container) == 0 and inbox.messages == []


def test_an_unknown_residence_and_misplaced_details_are_refused(rights_container: Container,
                                                                parts: RightsParts) -> None:
    with pytest.raises(RightsError, match="unknown jurisdiction"):
        submit(rights_container, parts, request_type="access", identity="a@example.com", residence="Atlantis")
    with pytest.raises(RightsError, match="say what to correct"):
        submit(rights_container, parts, request_type="rectification", identity="a@example.com", residence="DE")
    with pytest.raises(RightsError, match="unknown purpose"):
        submit(rights_container, parts, request_type="objection", identity="a@example.com", residence="DE",
               details={"purposes": ["no.such.purpose"]})
    with pytest.raises(RightsError, match="only an appeal"):
        submit(rights_container, parts, request_type="access", identity="a@example.com", residence="DE",
               appeal_of="R-ABC")
    assert count_requests(rights_container) == 0


def test_the_public_answer_never_reveals_whether_the_person_is_known(
        rights_container: Container, parts: RightsParts, inbox: Inbox) -> None:
    """11 CCR § 7062 and the issue's rule: a stranger and a customer get the same receipt and the same mail."""
    register(rights_container, "DE", email="known@example.com")
    known = submit(rights_container, parts, request_type="access", identity="known@example.com", residence="DE")
    stranger = submit(rights_container, parts, request_type="access", identity="stranger@example.com",
                      residence="DE")

    def public(request: RightsRequest) -> dict[str, Any]:
        return service.receipt(request).model_dump(exclude={"reference"})

    assert public(known) == public(stranger)
    assert known.subject_id is not None and stranger.subject_id is None

    def mail(address: str, reference: str) -> str:
        [message] = inbox.to(address)
        return inbox.body(message).replace(reference, "R").replace(inbox.last_code(address), "CODE")

    assert mail("known@example.com", known.reference) == mail("stranger@example.com", stranger.reference)


def test_staff_enter_a_request_received_by_phone(rights_container: Container, parts: RightsParts,
                                                 inbox: Inbox) -> None:
    """S0 'Your Rights': requests by phone are entered by staff; the log says who and how."""
    request = submit(rights_container, parts, request_type="deletion", identity="caller@example.com",
                     residence="US-CA", channel=Channel.PHONE)
    stored = load(rights_container, request.reference)
    assert stored.channel == "phone"
    assert [(e.kind, e.to_state) for e in stored.events] == [
        ("received", "received"), ("transition", "awaiting_verification"), ("code_sent", "awaiting_verification")]
    assert len(inbox.to("caller@example.com")) == 1


# --- agents ---------------------------------------------------------------------------------------------


def test_an_agent_without_the_persons_signed_permission_is_refused(rights_container: Container,
                                                                   parts: RightsParts) -> None:
    """11 CCR § 7063(a): a business may require the agent's signed permission; nothing is written without it."""
    with pytest.raises(MissingAgentPermission) as refused:
        submit(rights_container, parts, request_type="deletion", identity="person@example.com", residence="US-CA",
               agent=AgentIn(name="Privacy Agents Inc.", email="agent@agents.example"))
    assert refused.value.field == "agent.permission"
    assert count_requests(rights_container) == 0


def test_an_agents_request_keeps_the_permission_and_the_person_verifies_directly(
        rights_container: Container, parts: RightsParts, inbox: Inbox) -> None:
    """11 CCR § 7063(a)(1)-(2): the person verifies their own identity; the code goes to them, not the agent."""
    request = submit(rights_container, parts, request_type="deletion", identity="person@example.com",
                     residence="US-CA", agent=AgentIn(name="Privacy Agents Inc.", email="agent@agents.example",
                                                      permission=PERMISSION))
    stored = load(rights_container, request.reference)
    [document] = stored.documents
    assert (document.kind, document.filename, document.size) == ("agent_permission", "permission.pdf", 22)
    assert document.content == PERMISSION.content
    assert stored.events[0].actor == "agent:agent@agents.example"
    assert inbox.last_code("person@example.com") and inbox.to("agent@agents.example") == []


def test_agents_are_refused_where_no_notice_accepts_them(rights_container: Container, parts: RightsParts) -> None:
    """Only the US notice (S0) accepts authorised agents; the Thai appendix names none."""
    with pytest.raises(RightsError, match="not accepted under TH"):
        submit(rights_container, parts, request_type="access", identity="p@example.com", residence="TH",
               agent=AgentIn(name="A", email="agent@agents.example", permission=PERMISSION))


# --- verification ------------------------------------------------------------------------------------


def test_an_opt_out_needs_no_verification(rights_container: Container, parts: RightsParts, inbox: Inbox) -> None:
    """11 CCR § 7060(b): a request to opt out of sale/sharing need not be verified; 15 business days (7026(f))."""
    request = submit(rights_container, parts, request_type="opt_out_sale_share", identity="+1 415 555 0134",
                     contact_email="p@example.com", residence="US-CA")
    assert request.state == "verified" and request.verification_method == "not_required"
    assert request.due_on == dt.date(2026, 3, 23)  # 15 California business days after 2 March 2026
    assert "7060(b)" in (request.events[1].reason or "")
    [message] = inbox.to("p@example.com")
    assert "No proof of identity is needed" in inbox.body(message)


def test_the_uk_clock_starts_when_identity_is_proven(rights_container: Container, parts: RightsParts,
                                                     inbox: Inbox) -> None:
    """UK GDPR Art. 12A: one month from the later of receipt and proof of identity."""
    request = submit(rights_container, parts, request_type="access", identity="uk@example.co.uk", residence="GB")
    assert request.due_on is None
    later = T0 + dt.timedelta(days=9)  # the person asks for a fresh code nine days later
    with rights_container.unit_of_work() as session:
        service.resend_code(session=session, reference=request.reference, parts=parts, now=later)
        session.commit()
    outcome = verify(rights_container, parts, request.reference, inbox.last_code("uk@example.co.uk"), now=later)
    assert outcome.verified
    stored = load(rights_container, request.reference)
    assert stored.clock_started_on == dt.date(2026, 3, 11)
    assert stored.due_on == dt.date(2026, 4, 13)  # 11 April 2026 is a Saturday: the next working day


def test_wrong_codes_are_limited_and_the_last_one_ends_the_request(rights_container: Container, parts: RightsParts,
                                                                   inbox: Inbox) -> None:
    """A failed verification ends the request with that reason (issue #4, item 3)."""
    request = submit(rights_container, parts, request_type="access", identity="guess@example.com", residence="DE")
    right = inbox.last_code("guess@example.com")
    wrong = "000000" if right != "000000" else "111111"
    outcomes = [verify(rights_container, parts, request.reference, wrong) for _ in range(5)]
    assert [o.attempts_left for o in outcomes] == [4, 3, 2, 1, 0]
    assert outcomes[-1].state == "denied"
    stored = load(rights_container, request.reference)
    assert stored.outcome_reason == "identity not verified: 5 wrong codes"
    assert sum(e.kind == "attempt_failed" for e in stored.events) == 5
    with pytest.raises(RequestConflict):
        verify(rights_container, parts, request.reference, right)
    assert "could not be verified" in inbox.to("guess@example.com")[-1]["Subject"]


def test_an_expired_code_verifies_nothing_and_a_new_one_can_be_sent(rights_container: Container,
                                                                    parts: RightsParts, inbox: Inbox) -> None:
    request = submit(rights_container, parts, request_type="deletion", identity="slow@example.com", residence="DE")
    code = inbox.last_code("slow@example.com")
    late = T0 + dt.timedelta(minutes=31)
    assert verify(rights_container, parts, request.reference, code, now=late).message.startswith("the code has expired")
    with rights_container.unit_of_work() as session:
        service.resend_code(session=session, reference=request.reference, parts=parts, now=late)
        session.commit()
    fresh = inbox.last_code("slow@example.com")
    assert verify(rights_container, parts, request.reference, fresh, now=late).verified


def test_specific_pieces_in_california_need_three_data_points_and_a_signed_declaration(
        rights_container: Container, parts: RightsParts, inbox: Inbox) -> None:
    """11 CCR § 7062(c): three matching pieces of information plus a declaration under penalty of perjury."""
    register(rights_container, "US-CA", email="ca@example.com", phone="+14155550134", customer_number="C-100234")
    request = submit(rights_container, parts, request_type="access", identity="ca@example.com", residence="US-CA")
    code = inbox.last_code("ca@example.com")
    with pytest.raises(RightsError, match="declaration signed under penalty of perjury") as missing:
        verify(rights_container, parts, request.reference, code, phone="+14155550134", customer_number="C-100234")
    assert missing.value.field == "declaration"
    with pytest.raises(RightsError, match="at least 2 data point"):
        verify(rights_container, parts, request.reference, code, declaration=DECLARATION, phone="+14155550134")
    outcome = verify(rights_container, parts, request.reference, code, declaration=DECLARATION,
                     phone="(415) 555-0134", customer_number="C-100234")
    assert outcome.verified
    stored = load(rights_container, request.reference)
    assert stored.request_type == "access" and stored.verification_method == "email_code+3_data_points"
    assert [d.kind for d in stored.documents] == ["signed_declaration"]


def test_california_access_verified_only_to_two_points_is_answered_as_a_request_to_know(
        rights_container: Container, parts: RightsParts, inbox: Inbox) -> None:
    """11 CCR § 7062(c) and the policy's note: no specific pieces without the higher standard; categories instead."""
    register(rights_container, "US-CA", email="two@example.com", phone="+14155550135", customer_number="C-100235")
    request = submit(rights_container, parts, request_type="access", identity="two@example.com", residence="US-CA")
    outcome = verify(rights_container, parts, request.reference, inbox.last_code("two@example.com"),
                     declaration=DECLARATION, phone="+14155550135", customer_number="C-999999")
    assert outcome.verified
    stored = load(rights_container, request.reference)
    assert (stored.request_type, stored.right) == ("know", "know")
    assert any(e.kind == "downgraded" for e in stored.events)


def test_failed_data_point_matching_ends_the_request_and_says_the_same_to_a_stranger(
        rights_container: Container, parts: RightsParts, inbox: Inbox) -> None:
    """11 CCR § 7062(b): two matching points for a deletion; a stranger matches none and is told the same."""
    register(rights_container, "US-CA", email="del@example.com", phone="+14155550136")
    known = submit(rights_container, parts, request_type="deletion", identity="del@example.com", residence="US-CA")
    stranger = submit(rights_container, parts, request_type="deletion", identity="who@example.com", residence="US-CA")
    a = verify(rights_container, parts, known.reference, inbox.last_code("del@example.com"), phone="+14155550199")
    b = verify(rights_container, parts, stranger.reference, inbox.last_code("who@example.com"), phone="+14155550199")
    assert (a.verified, a.state, a.message) == (b.verified, b.state, b.message) == (
        False, "denied", "we could not verify your identity; the request is closed")
    assert "2 data points" in (load(rights_container, known.reference).outcome_reason or "")


# --- staff: deny, extend, withdraw, appeal ------------------------------------------------------------


def test_a_refused_rectification_is_recorded_with_its_reason(rights_container: Container, parts: RightsParts,
                                                             panasonic: CompiledPolicy, inbox: Inbox) -> None:
    """PDPA s. 35 and the S2 Thai appendix s. 4(7): a request not acted on is recorded with the reason."""
    request = submit(rights_container, parts, request_type="rectification", identity="th@example.co.th",
                     residence="TH", details={"corrections": {"postal_address": "99 Sukhumvit Road"}})
    verify(rights_container, parts, request.reference, inbox.last_code("th@example.co.th"))
    reason = "The address given is the person's former address; our records are accurate (PDPA s. 35)."
    with rights_container.unit_of_work() as session:
        with pytest.raises(IllegalTransitionOrConflict):
            service.deny_request(session=session, policy=panasonic, reference=request.reference, reason=" ",
                                 parts=parts, actor="staff:somchai")
        service.deny_request(session=session, policy=panasonic, reference=request.reference, reason=reason,
                             parts=parts, actor="staff:somchai")
        session.commit()
    stored = load(rights_container, request.reference)
    assert (stored.state, stored.outcome_reason) == ("denied", reason)
    last = stored.events[-1]
    assert (last.from_state, last.to_state, last.actor, last.reason) == ("verified", "denied", "staff:somchai", reason)
    body = inbox.body(inbox.to("th@example.co.th")[-1])
    assert reason in body and "Office of the Personal Data Protection Committee" in body


IllegalTransitionOrConflict = (RequestConflict, service.IllegalTransition)


def test_gdpr_extension_is_told_with_reasons_within_the_first_month_and_taken_once(
        rights_container: Container, parts: RightsParts, panasonic: CompiledPolicy, inbox: Inbox) -> None:
    """GDPR Art. 12(3): two further months, the person told of it with reasons within one month of receipt."""
    received = dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)
    request = submit(rights_container, parts, request_type="access", identity="big@example.com", residence="FR",
                     now=received)
    assert request.due_on == dt.date(2026, 2, 28)
    with rights_container.unit_of_work() as session:
        service.extend_request(session=session, policy=panasonic, reference=request.reference, parts=parts,
                               reason="Eleven systems hold your data.", actor="staff:anna",
                               now=received + dt.timedelta(days=20))
        session.commit()
    stored = load(rights_container, request.reference)
    assert (stored.due_on, stored.original_due_on, stored.extensions_used) == (
        dt.date(2026, 4, 30), dt.date(2026, 2, 28), 1)
    body = inbox.body(inbox.to("big@example.com")[-1])
    assert "Eleven systems hold your data." in body and "2026-04-30" in body
    with rights_container.unit_of_work() as session, pytest.raises(RequestConflict, match="no extension left"):
        service.extend_request(session=session, policy=panasonic, reference=request.reference, parts=parts,
                               reason="again", actor="staff:anna", now=received + dt.timedelta(days=21))


def test_an_extension_told_too_late_is_refused(rights_container: Container, parts: RightsParts,
                                               panasonic: CompiledPolicy) -> None:
    """Va. Code § 59.1-577(B)(1): the consumer is told of the extension within the initial 45-day period."""
    request = submit(rights_container, parts, request_type="deletion", identity="va@example.com", residence="US-VA")
    with rights_container.unit_of_work() as session, pytest.raises(RequestConflict, match="too late"):
        service.extend_request(session=session, policy=panasonic, reference=request.reference, parts=parts,
                               reason="volume", actor="staff:anna", now=T0 + dt.timedelta(days=46))
    with rights_container.unit_of_work() as session, pytest.raises(RequestConflict, match="no extension left"):
        thai = service.submit_request(session=session, policy=panasonic, parts=parts, now=T0, request_in=(
            RightsRequestCreate(request_type=RequestType.ACCESS, identity="th2@example.co.th", residence="TH")))
        service.extend_request(session=session, policy=panasonic, reference=thai.reference, parts=parts,
                               reason="volume", actor="staff:anna", now=T0)


def test_appeals_follow_each_states_clock_and_a_denied_appeal_names_the_attorney_general(
        rights_container: Container, parts: RightsParts, panasonic: CompiledPolicy, inbox: Inbox) -> None:
    """Va. Code § 59.1-577(C): answer an appeal within 60 days; if denied, how to contact the Attorney General."""
    first = submit(rights_container, parts, request_type="deletion", identity="app@example.com", residence="US-VA")
    with rights_container.unit_of_work() as session:
        service.deny_request(session=session, policy=panasonic, reference=first.reference, parts=parts,
                             reason="We could not authenticate the request.", actor="staff:lee")
        session.commit()
    assert "You may appeal" in inbox.body(inbox.to("app@example.com")[-1])
    appeal = submit(rights_container, parts, request_type="appeal", identity="app@example.com", residence="US-VA",
                    appeal_of=first.reference)
    assert appeal.due_on == dt.date(2026, 5, 1)  # 60 days after 2 March 2026
    verify(rights_container, parts, appeal.reference, inbox.last_code("app@example.com"))
    with rights_container.unit_of_work() as session:
        service.start_request(session=session, policy=panasonic, reference=appeal.reference, parts=parts,
                              actor="staff:lee")
        service.deny_request(session=session, policy=panasonic, reference=appeal.reference, parts=parts,
                             reason="The original decision stands.", actor="staff:head-of-privacy")
        session.commit()
    body = inbox.body(inbox.to("app@example.com")[-1])
    assert "Virginia Attorney General" in body and "appeal" not in body.split("Reason:")[1].lower()
    with pytest.raises(RightsError, match="of this identity"):
        submit(rights_container, parts, request_type="appeal", identity="other@example.com", residence="US-VA",
               appeal_of=first.reference)
    with pytest.raises(RightsError, match="itself an appeal"):
        submit(rights_container, parts, request_type="appeal", identity="app@example.com", residence="US-VA",
               appeal_of=appeal.reference)
    pending = submit(rights_container, parts, request_type="access", identity="app@example.com", residence="US-VA")
    with pytest.raises(RightsError, match="only a refusal"):
        submit(rights_container, parts, request_type="appeal", identity="app@example.com", residence="US-VA",
               appeal_of=pending.reference)


def test_a_granted_appeal_is_completed_by_staff(rights_container: Container, parts: RightsParts,
                                                panasonic: CompiledPolicy, inbox: Inbox) -> None:
    """C.R.S. § 6-1-1306(3): an appeal of a refusal, answered within 45 days (extendable by 60)."""
    first = submit(rights_container, parts, request_type="access", identity="co@example.com", residence="US-CO")
    with rights_container.unit_of_work() as session:
        service.deny_request(session=session, policy=panasonic, reference=first.reference, parts=parts,
                             reason="unauthenticated", actor="staff:lee")
        session.commit()
    appeal = submit(rights_container, parts, request_type="appeal", identity="co@example.com", residence="US-CO",
                    appeal_of=first.reference)
    assert appeal.due_on == dt.date(2026, 4, 16)
    verify(rights_container, parts, appeal.reference, inbox.last_code("co@example.com"))
    with rights_container.unit_of_work() as session:
        service.start_request(session=session, policy=panasonic, reference=appeal.reference, parts=parts,
                              actor="staff:lee")
        service.approve_request(session=session, policy=panasonic, reference=appeal.reference, parts=parts,
                                actor="staff:lee", reason="On review, we will answer the access request.")
        session.commit()
    assert load(rights_container, appeal.reference).state == "completed"


def test_a_person_can_withdraw_before_the_work_starts_but_not_after(
        rights_container: Container, parts: RightsParts, panasonic: CompiledPolicy, inbox: Inbox) -> None:
    request = submit(rights_container, parts, request_type="deletion", identity="w@example.com", residence="DE")
    with rights_container.unit_of_work() as session:
        service.withdraw_request(session=session, reference=request.reference, actor="subject",
                                 reason="changed my mind")
        session.commit()
    assert load(rights_container, request.reference).state == "withdrawn"
    other = submit(rights_container, parts, request_type="deletion", identity="w2@example.com", residence="DE")
    verify(rights_container, parts, other.reference, inbox.last_code("w2@example.com"))
    with rights_container.unit_of_work() as session:
        service.start_request(session=session, policy=panasonic, reference=other.reference, parts=parts,
                              actor="staff:x")
        with pytest.raises(RequestConflict, match="cannot become withdrawn"):
            service.withdraw_request(session=session, reference=other.reference, actor="subject")


# --- lists and retention -------------------------------------------------------------------------------


def test_due_soon_and_overdue_lists(rights_container: Container, parts: RightsParts, inbox: Inbox) -> None:
    """Overdue: open past its due date; due soon: within the days asked; closed requests are in neither."""
    old = submit(rights_container, parts, request_type="access", identity="o@example.com", residence="DE",
                 now=dt.datetime(2026, 1, 10, tzinfo=dt.UTC))  # due 10 February
    near = submit(rights_container, parts, request_type="access", identity="n@example.com", residence="DE",
                  now=dt.datetime(2026, 2, 5, tzinfo=dt.UTC))  # due 5 March
    submit(rights_container, parts, request_type="access", identity="f@example.com", residence="DE",
           now=dt.datetime(2026, 2, 27, tzinfo=dt.UTC))  # due 27 March
    closed = submit(rights_container, parts, request_type="access", identity="c@example.com", residence="DE",
                    now=dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
    with rights_container.unit_of_work() as session:
        service.withdraw_request(session=session, reference=closed.reference, actor="subject")
        session.commit()
    today = dt.date(2026, 3, 1)
    with rights_container.unit_of_work() as session:
        assert [r.reference for r in service.overdue(session=session, today=today)] == [old.reference]
        assert [r.reference for r in service.due_soon(session=session, today=today, within_days=7)] == [near.reference]


def test_requests_and_their_log_are_kept_24_months_then_purged(rights_container: Container, parts: RightsParts,
                                                               inbox: Inbox) -> None:
    """11 CCR § 7101(a): records of requests and how they were answered are kept at least 24 months."""
    request = submit(rights_container, parts, request_type="access", identity="k@example.com", residence="US-CA")
    assert request.retain_until == dt.datetime(2028, 3, 2, 9, 30, tzinfo=dt.UTC)
    late = submit(rights_container, parts, request_type="access", identity="k3@example.com", residence="US-CA")
    with rights_container.unit_of_work() as session:
        service.withdraw_request(session=session, reference=request.reference, actor="subject", now=T0)
        service.withdraw_request(session=session, reference=late.reference, actor="subject",
                                 now=dt.datetime(2027, 1, 5, tzinfo=dt.UTC))  # kept 24 months from closing too
        open_one = service.submit_request(session=session, policy=rights_container.policy, parts=parts, now=T0,
                                          request_in=RightsRequestCreate(request_type=RequestType.ACCESS,
                                                                         identity="k2@example.com", residence="GB"))
        session.commit()
    with rights_container.unit_of_work() as session:
        assert service.purge_expired(session=session, now=dt.datetime(2028, 3, 1, tzinfo=dt.UTC)) == []
        assert service.purge_expired(session=session, now=dt.datetime(2028, 3, 3, tzinfo=dt.UTC)) == [
            request.reference]  # closed the day it came in: 24 months after both
        session.commit()
    with rights_container.unit_of_work() as session:
        assert {r.reference for r in service.list_requests(session=session)} == {open_one.reference, late.reference}
        assert session.scalar(select(func.count()).select_from(RightsRequestEvent)
                              .where(RightsRequestEvent.request_id == request.id)) == 0


def test_staff_see_the_request_with_its_log_and_documents(rights_container: Container, parts: RightsParts) -> None:
    request = submit(rights_container, parts, request_type="deletion", identity="s@example.com", residence="US-CA",
                     agent=AgentIn(name="Agent", email="agent@agents.example", permission=PERMISSION),
                     details=RequestDetails(message="Please delete my account.").model_dump())
    with rights_container.unit_of_work() as session:
        read = service.to_read(session=session, request=service.get_request(session=session,
                                                                             reference=request.reference.lower()))
    assert read.identity == "email:s@example.com" and read.agent_name == "Agent"
    assert read.details == {"message": "Please delete my account."}
    assert [d.kind for d in read.documents] == ["agent_permission"]
    assert read.confirmation_due_on == dt.date(2026, 3, 16)  # 10 business days (11 CCR § 7021(a))
    with rights_container.unit_of_work() as session, pytest.raises(service.UnknownRequest):
        service.get_request(session=session, reference="R-NOPE")


def test_an_account_holder_is_verified_by_signing_in_again(rights_container: Container, parts: RightsParts,
                                                           inbox: Inbox) -> None:
    """11 CCR § 7061(a)-(b): a business may verify through its existing account authentication, re-entered."""
    subject_id = register(rights_container, "US-CA", email="holder@example.com")
    other_id = register(rights_container, "US-CA", email="other@example.com")
    request = submit(rights_container, parts, request_type="access", identity="holder@example.com",
                     residence="US-CA")
    with rights_container.unit_of_work() as session, pytest.raises(RightsError, match="not the person"):
        service.verify_account_holder(session=session, policy=rights_container.policy, reference=request.reference,
                                      subject_id=other_id, parts=parts, actor="web")
    with rights_container.unit_of_work() as session:
        service.verify_account_holder(session=session, policy=rights_container.policy, reference=request.reference,
                                      subject_id=subject_id, parts=parts, actor="web")
        session.commit()
    stored = load(rights_container, request.reference)
    assert (stored.state, stored.verification_method) == ("verified", "account_reauthentication")
