"""Rights requests: intake, verification, approval, extension, denial, withdrawal, lists and retention.

Services are keyword-only functions taking the session and the compiled policy; none commits (the
caller's unit of work does). Errors are ``RightsError`` subclasses whose message is fit to show a
person, with the HTTP ``status`` the API answers with and the input ``field`` at fault. Bad input
(a request type the jurisdiction does not offer, a malformed identity, an agent without the
person's signed permission) is refused before anything is written.

What the public is told never depends on whether the company knows the person: intake answers
with the same receipt and sends the same code either way, and a verification that fails says
the same thing for a stranger as for a person who gave a wrong data point.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from pledge.errors import DomainError
from pledge.jobs.queue import JobQueue, jobs_for
from pledge.policy import CompiledPolicy
from pledge.policy.models import Right, VerificationLevel
from pledge.rights.deadlines import NoSuchRight, add_months, compute_deadlines, rule_for
from pledge.rights.mail import Mailer, Message
from pledge.rights.models import RightsRequest, RightsRequestDocument, RightsRequestEvent
from pledge.rights.schemas import (
    MANUAL_TYPES,
    RIGHT_OF,
    STOP_TYPES,
    Channel,
    DocumentIn,
    DocumentKind,
    DocumentRead,
    EventRead,
    JobProgress,
    RequestReceipt,
    RequestType,
    RightsRequestCreate,
    RightsRequestRead,
    VerificationOutcome,
    VerifyIn,
)
from pledge.rights.state import OPEN, IllegalTransition, RequestState, note, transition
from pledge.settings import RightsSettings
from pledge.store import utcnow
from pledge.subjects import service as subjects
from pledge.subjects.identities import Identity, IdentityError, IdentityKind, normalise, parse, region_of
from pledge.subjects.models import DataSubject

S = RequestState
EXECUTE_JOB = "rights.execute"
CODE_DIGITS = 6
SUBJECT = "subject"
SYSTEM = "system"
#: Alphabet of public references: no 0/O, 1/I/L, so a reference read out on the phone is not misheard.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


# --- errors -----------------------------------------------------------------------------------------


class RightsError(DomainError):
    """A rights request that cannot be made or changed as asked; nothing was written."""

    status = 422
    title = "Invalid rights request"
    type = "urn:pledge:problem:invalid-rights-request"


class UnknownRequestType(RightsError):
    title = "Request type not offered"
    type = "urn:pledge:problem:unknown-request-type"


class InvalidIdentity(RightsError):
    title = "Invalid identity"
    type = "urn:pledge:problem:invalid-identity"


class MissingAgentPermission(RightsError):
    title = "Agent permission missing"
    type = "urn:pledge:problem:missing-agent-permission"


class UnknownRequest(RightsError):
    status = 404
    title = "Unknown rights request"
    type = "urn:pledge:problem:unknown-rights-request"


class RequestConflict(RightsError):
    """The request is not in a state that allows this (an illegal transition, an extension too late)."""

    status = 409
    title = "Not possible in the request's current state"
    type = "urn:pledge:problem:rights-request-conflict"


# --- the parts a service needs ----------------------------------------------------------------------


@dataclass(frozen=True)
class RightsParts:
    """What rights services need beyond the session and the policy: settings, the HMAC key, mail, the queue."""

    settings: RightsSettings
    secret: bytes
    mailer: Mailer
    queue: JobQueue | None = None


# --- what the policy offers -------------------------------------------------------------------------


def offered_types(policy: CompiledPolicy, jurisdiction: str) -> list[RequestType]:
    """The request types a person under this jurisdiction can make, as the policy grants them."""
    offered = []
    for kind in RequestType:
        try:
            rule_for(policy, jurisdiction, RIGHT_OF[kind])
        except NoSuchRight:
            continue
        offered.append(kind)
    return offered


@dataclass(frozen=True)
class VerificationNeed:
    """How sure the company must be of who is asking, for one request type in one jurisdiction."""

    required: bool
    level: VerificationLevel | None
    data_points: int
    signed_declaration: bool
    source: str

    @property
    def level_id(self) -> str | None:
        return self.level.id if self.level else None


def verification_need(policy: CompiledPolicy, jurisdiction: str, request_type: RequestType) -> VerificationNeed:
    """The level the policy names for the right; an opt-out without a level needs none (11 CCR § 7060(b)).

    Every other request is verified at least by a one-time code sent to the person's email, plus
    the data points and signed declaration the level asks for (11 CCR § 7062(b)-(c)).
    """
    rule = rule_for(policy, jurisdiction, RIGHT_OF[request_type])
    governing = policy.jurisdictions[jurisdiction]
    level = next((lvl for lvl in governing.verification_levels if lvl.id == rule.verification), None)
    if rule.verification == "none" or (rule.verification is None and request_type in STOP_TYPES):
        return VerificationNeed(False, level, 0, False, level.source if level else rule.source)
    if level is None:
        return VerificationNeed(True, None, 0, False, rule.source)
    return VerificationNeed(True, level, level.data_points, level.signed_declaration, level.source)


def agents_accepted(policy: CompiledPolicy, jurisdiction: str) -> bool:
    """Whether a notice speaking to this jurisdiction accepts requests from authorised agents."""
    return any(n.rights_requests is not None and n.rights_requests.agent_allowed and jurisdiction in n.jurisdictions
               for n in policy.notices.values())


# --- small helpers ----------------------------------------------------------------------------------


def new_reference() -> str:
    return "R-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(12))


def _code_hash(secret: bytes, reference: str, code: str) -> str:
    return hmac.new(secret, f"code:{reference}:{code.strip()}".encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def _residence(policy: CompiledPolicy, residence: str | None) -> str | None:
    try:
        return subjects.check_residence(policy, residence)
    except subjects.SubjectError as exc:
        raise RightsError(str(exc), field="residence") from None


def _identity(text: str, residence: str | None, field: str = "identity") -> Identity:
    if text.strip().lower().startswith(subjects.SUBJECT_PREFIX):
        raise InvalidIdentity("name the person by an identity (email, phone, customer number), not a subject id",
                              field=field)
    try:
        return parse(text, region=region_of(residence))
    except IdentityError as exc:
        raise InvalidIdentity(str(exc), field=field) from None


def _email(text: str, field: str) -> str:
    try:
        return normalise(IdentityKind.EMAIL, text).value
    except IdentityError as exc:
        raise InvalidIdentity(str(exc), field=field) from None


def _document(kind: DocumentKind, document: DocumentIn, settings: RightsSettings, field: str) -> RightsRequestDocument:
    if not document.content:
        raise RightsError(f"the {kind.value.replace('_', ' ')} file is empty", field=field)
    if len(document.content) > settings.max_upload_bytes:
        raise RightsError(f"the {kind.value.replace('_', ' ')} file is larger than "
                          f"{settings.max_upload_bytes} bytes", field=field)
    return RightsRequestDocument(kind=kind.value, filename=document.filename, content_type=document.content_type,
                                 sha256=hashlib.sha256(document.content).hexdigest(), size=len(document.content),
                                 content=document.content)


def _split_purpose(text: str) -> tuple[str | None, str]:
    """``notice/purpose`` or ``purpose`` (purpose ids contain dots, so the notice is set off by a slash)."""
    notice, sep, purpose = text.strip().partition("/")
    return (notice, purpose) if sep else (None, notice)


def _check_purposes(policy: CompiledPolicy, purposes: Sequence[str]) -> None:
    from pledge.consent.service import ConsentError, resolve_purpose

    for index, text in enumerate(purposes):
        notice, purpose = _split_purpose(text)
        try:
            resolve_purpose(policy, purpose, notice)
        except ConsentError as exc:
            raise RightsError(str(exc), field=f"details.purposes.{index}") from None


def _retain_until(moment: dt.datetime, settings: RightsSettings) -> dt.datetime:
    day = add_months(moment.date(), settings.record_retention_months)
    return dt.datetime.combine(day, moment.timetz())


def _set_deadlines(policy: CompiledPolicy, request: RightsRequest) -> None:
    found = compute_deadlines(policy, request.jurisdiction, Right(request.right),
                              received_on=request.received_at.date(),
                              verified_on=request.verified_at.date() if request.verified_at else None,
                              extensions_used=request.extensions_used)
    request.clock_started_on = found.clock_started_on
    request.due_on = found.due_on
    request.original_due_on = found.original_due_on
    request.extension_notice_by = found.extension_notice_by
    request.confirmation_due_on = found.confirmation_due_on
    request.deadline_source = found.source


def _describe(request: RightsRequest) -> str:
    return request.request_type.replace("_", " ")


def _send(parts: RightsParts, to: str, subject: str, body: str) -> None:
    parts.mailer.send(Message(to=to, subject=subject, body=body))


def _recipients(request: RightsRequest) -> list[str]:
    """The person, and their agent when one acts for them."""
    return [request.contact_email] + ([request.agent_email] if request.agent_email else [])


# --- intake -----------------------------------------------------------------------------------------


def submit_request(*, session: Session, policy: CompiledPolicy, request_in: RightsRequestCreate, parts: RightsParts,
                   channel: Channel = Channel.API, actor: str | None = None,
                   now: dt.datetime | None = None) -> RightsRequest:
    """Record a request, confirm its receipt and send the one-time code; refuse bad input before writing.

    The request is about an identity, not about a known person: whether pledge knows the identity
    changes nothing the requester sees (the receipt, the code, the deadlines).
    """
    now = now or utcnow()
    settings = parts.settings
    residence = _residence(policy, request_in.residence)
    jurisdiction = policy.resolve_jurisdiction(residence)
    kind = request_in.request_type
    offered = offered_types(policy, jurisdiction)
    if kind not in offered:
        names = ", ".join(k.value for k in offered) or "none"
        raise UnknownRequestType(f"a {kind.value.replace('_', ' ')} request is not offered under {jurisdiction} "
                                 f"(offered: {names})", field="request_type")
    identity = _identity(request_in.identity, residence)
    if request_in.contact_email:
        contact = _email(request_in.contact_email, "contact_email")
    elif identity.kind is IdentityKind.EMAIL:
        contact = identity.value
    else:
        raise InvalidIdentity("give a contact email: the code and the answer are sent there", field="contact_email")

    documents: list[RightsRequestDocument] = []
    agent = request_in.agent
    if agent is not None:
        if not agents_accepted(policy, jurisdiction):
            raise RightsError(f"requests through an authorised agent are not accepted under {jurisdiction}",
                              field="agent")
        agent_email = _email(agent.email, "agent.email")
        if agent.permission is None:
            raise MissingAgentPermission("an authorised agent must upload the person's signed permission "
                                         "(11 CCR § 7063(a))", field="agent.permission")
        documents.append(_document(DocumentKind.AGENT_PERMISSION, agent.permission, settings, "agent.permission"))
        if contact == agent_email:
            raise RightsError("the contact email must be the person's own: the person confirms the request "
                              "directly (11 CCR § 7063(a))", field="contact_email")

    details = request_in.details
    corrections_missing = not details.corrections or any(
        not k.strip() or not v.strip() for k, v in details.corrections.items())
    if kind is RequestType.RECTIFICATION and corrections_missing:
        raise RightsError("say what to correct: details.corrections maps each attribute to its correct value",
                          field="details.corrections")
    if details.corrections and kind is not RequestType.RECTIFICATION:
        raise RightsError("only a rectification request carries corrections", field="details.corrections")
    if details.purposes:
        if kind not in (RequestType.OBJECTION, RequestType.WITHDRAW_CONSENT):
            raise RightsError(f"a {kind.value.replace('_', ' ')} request takes no purposes",
                              field="details.purposes")
        _check_purposes(policy, details.purposes)
    if details.send_to:
        if kind is not RequestType.PORTABILITY:
            raise RightsError("only a portability request is sent to another controller", field="details.send_to")
        _email(details.send_to, "details.send_to")

    appeal_of: RightsRequest | None = None
    if kind is RequestType.APPEAL:
        appeal_of = _appealed(session, request_in.appeal_of, identity)
    elif request_in.appeal_of:
        raise RightsError("only an appeal names an earlier request", field="appeal_of")

    subject = subjects.find_subject(session=session, identity=identity)
    need = verification_need(policy, jurisdiction, kind)
    actor = actor or (f"agent:{agent.email}" if agent else SUBJECT)
    request = RightsRequest(
        reference=new_reference(), request_type=kind.value, right=RIGHT_OF[kind].value, jurisdiction=jurisdiction,
        residence=residence, state=S.RECEIVED.value, channel=channel.value,
        subject_id=subject.id if subject else None, identity_kind=identity.kind.value, identity_value=identity.value,
        contact_email=contact, details=details.model_dump(mode="json", exclude_defaults=True),
        agent_name=agent.name if agent else None, agent_email=agent.email.strip().lower() if agent else None,
        appeal_of_id=appeal_of.id if appeal_of else None, policy_revision=policy.revision, received_at=now,
        verification_level=need.level_id, code_attempts=0, extensions_used=0, result={},
        retain_until=_retain_until(now, settings), created_at=now, updated_at=now)
    request.documents.extend(documents)
    session.add(request)
    _set_deadlines(policy, request)
    note(request, "received", actor=actor, data={"channel": channel.value, "offered": [k.value for k in offered]},
         now=now)

    if need.required:
        code = _new_code()
        request.code_hash = _code_hash(parts.secret, request.reference, code)
        request.code_expires_at = now + dt.timedelta(minutes=settings.code_ttl_minutes)
        transition(request, S.AWAITING_VERIFICATION, actor=SYSTEM, now=now,
                   reason=f"identity to be verified ({need.source})")
        _send_code(parts, request, code, first=True)
        note(request, "code_sent", actor=SYSTEM, data={"to": "contact_email"}, now=now)
    else:
        request.verified_at = now
        request.verification_method = "not_required"
        _set_deadlines(policy, request)
        transition(request, S.VERIFIED, actor=SYSTEM, now=now, reason=f"no verification required ({need.source})")
        _send_receipt(parts, request)
    request.confirmed_at = now
    session.flush()
    if not need.required and parts.queue is not None:
        start_request(session=session, policy=policy, reference=request.reference, parts=parts, actor=SYSTEM, now=now)
    return request


def _appealed(session: Session, reference: str | None, identity: Identity) -> RightsRequest:
    if not reference:
        raise RightsError("an appeal names the reference of the decision appealed", field="appeal_of")
    earlier = session.scalars(select(RightsRequest).where(RightsRequest.reference == reference.strip().upper())
                              ).one_or_none()
    if earlier is None or (earlier.identity_kind, earlier.identity_value) != (identity.kind.value, identity.value):
        raise RightsError(f"no request {reference} of this identity to appeal", field="appeal_of")
    if earlier.request_type == RequestType.APPEAL.value:
        raise RightsError(f"request {earlier.reference} is itself an appeal: its decision is final here; "
                          "a complaint goes to the authority", field="appeal_of")
    if earlier.state not in (S.DENIED.value, S.PARTIALLY_COMPLETED.value):
        raise RightsError(f"request {earlier.reference} is {earlier.state}: only a refusal, whole or in part, "
                          "can be appealed", field="appeal_of")
    return earlier


def _send_code(parts: RightsParts, request: RightsRequest, code: str, *, first: bool) -> None:
    minutes = parts.settings.code_ttl_minutes
    lines = [f"We received your {_describe(request)} request {request.reference}."] if first else []
    lines += [f"Your verification code is {code}. It works for {minutes} minutes.",
              "Enter it to confirm the request is yours. If you did not make this request, ignore this message."]
    if request.due_on:
        lines.append(f"We answer by {request.due_on.isoformat()} at the latest.")
    _send(parts, request.contact_email, f"Your privacy request {request.reference}: verification code",
          "\n\n".join(lines))


def _send_receipt(parts: RightsParts, request: RightsRequest) -> None:
    body = f"We received your {_describe(request)} request {request.reference}. No proof of identity is needed."
    if request.due_on:
        body += f"\n\nWe act on it by {request.due_on.isoformat()} at the latest."
    for to in _recipients(request):
        _send(parts, to, f"Your privacy request {request.reference} was received", body)


def receipt(request: RightsRequest) -> RequestReceipt:
    """The public answer to an intake: nothing in it depends on whether the person is known."""
    if request.state == S.AWAITING_VERIFICATION.value:
        step = "We sent a verification code to the contact email; enter it to confirm the request."
    elif request.state in (S.VERIFIED.value, S.IN_PROGRESS.value):
        step = "No proof of identity is needed; we are acting on the request."
    else:
        step = f"The request is {request.state.replace('_', ' ')}."
    return RequestReceipt(reference=request.reference, request_type=RequestType(request.request_type),
                          jurisdiction=request.jurisdiction, state=request.state, received_at=request.received_at,
                          confirmation_due_on=request.confirmation_due_on, due_on=request.due_on, next_step=step)


# --- reading ----------------------------------------------------------------------------------------


def get_request(*, session: Session, reference: str, lock: bool = False) -> RightsRequest:
    """The request with this reference; with ``lock``, held for this transaction (one writer at a time)."""
    query = select(RightsRequest).where(RightsRequest.reference == reference.strip().upper())
    if lock:
        query = query.with_for_update()
    found = session.scalars(query.options(selectinload(RightsRequest.events),
                                          selectinload(RightsRequest.documents))).one_or_none()
    if found is None:
        raise UnknownRequest(f"no rights request {reference!r}", field="reference")
    return found


def list_requests(*, session: Session, state: RequestState | None = None, jurisdiction: str | None = None,
                  request_type: RequestType | None = None, open_only: bool = False,
                  limit: int = 200) -> list[RightsRequest]:
    """Requests, newest first, narrowed by state, jurisdiction or type."""
    query = select(RightsRequest)
    if state is not None:
        query = query.where(RightsRequest.state == state.value)
    if open_only:
        query = query.where(RightsRequest.state.in_([s.value for s in OPEN]))
    if jurisdiction:
        query = query.where(RightsRequest.jurisdiction == jurisdiction)
    if request_type is not None:
        query = query.where(RightsRequest.request_type == request_type.value)
    return list(session.scalars(query.order_by(RightsRequest.received_at.desc(), RightsRequest.id.desc())
                                .limit(limit)))


def due_soon(*, session: Session, today: dt.date, within_days: int) -> list[RightsRequest]:
    """Open requests due from today to ``within_days`` days ahead, soonest first."""
    query = (select(RightsRequest)
             .where(RightsRequest.state.in_([s.value for s in OPEN]), RightsRequest.due_on >= today,
                    RightsRequest.due_on <= today + dt.timedelta(days=within_days))
             .order_by(RightsRequest.due_on, RightsRequest.id))
    return list(session.scalars(query))


def overdue(*, session: Session, today: dt.date) -> list[RightsRequest]:
    """Open requests whose due date has passed, the most late first."""
    query = (select(RightsRequest)
             .where(RightsRequest.state.in_([s.value for s in OPEN]), RightsRequest.due_on < today)
             .order_by(RightsRequest.due_on, RightsRequest.id))
    return list(session.scalars(query))


def to_read(*, session: Session, request: RightsRequest) -> RightsRequestRead:
    """The request as staff see it, with its log, documents and the progress of its jobs."""
    appeal_of = session.get(RightsRequest, request.appeal_of_id) if request.appeal_of_id else None
    jobs = [JobProgress(id=job.id, kind=job.kind, state=job.state, progress=job.progress,
                        message=job.progress_message, attempts=job.attempts, error=job.error)
            for job in jobs_for(session=session, ref=job_ref(request.reference))]
    return RightsRequestRead(
        reference=request.reference, request_type=RequestType(request.request_type), right=request.right,
        jurisdiction=request.jurisdiction, residence=request.residence, state=request.state, channel=request.channel,
        subject_id=request.subject_id, identity=f"{request.identity_kind}:{request.identity_value}",
        contact_email=request.contact_email, details=dict(request.details or {}), agent_name=request.agent_name,
        agent_email=request.agent_email, appeal_of=appeal_of.reference if appeal_of else None,
        received_at=request.received_at, confirmation_due_on=request.confirmation_due_on,
        confirmed_at=request.confirmed_at, verification_level=request.verification_level,
        verified_at=request.verified_at, verification_method=request.verification_method,
        clock_started_on=request.clock_started_on, due_on=request.due_on, original_due_on=request.original_due_on,
        extensions_used=request.extensions_used, extension_notice_by=request.extension_notice_by,
        deadline_source=request.deadline_source, closed_at=request.closed_at, outcome_reason=request.outcome_reason,
        result=dict(request.result or {}), package_sha256=request.package_sha256,
        package_created_at=request.package_created_at, retain_until=request.retain_until,
        events=[EventRead.model_validate(event) for event in request.events],
        documents=[DocumentRead.model_validate(document) for document in request.documents], jobs=jobs)


def job_ref(reference: str) -> str:
    """The ``ref`` of the jobs working on a request."""
    return f"rights_request:{reference}"


# --- verification -----------------------------------------------------------------------------------


def resend_code(*, session: Session, reference: str, parts: RightsParts, now: dt.datetime | None = None) -> None:
    """Send a fresh code to the contact email (the old one stops working; wrong attempts still count)."""
    now = now or utcnow()
    request = get_request(session=session, reference=reference, lock=True)
    if request.state != S.AWAITING_VERIFICATION.value:
        raise RequestConflict(f"request {request.reference} is {request.state}: it is not waiting for a code")
    code = _new_code()
    request.code_hash = _code_hash(parts.secret, request.reference, code)
    request.code_expires_at = now + dt.timedelta(minutes=parts.settings.code_ttl_minutes)
    _send_code(parts, request, code, first=False)
    note(request, "code_sent", actor=SYSTEM, data={"to": "contact_email", "again": True}, now=now)
    session.flush()


def _data_points(points: dict[str, str], residence: str | None) -> list[tuple[str, str]]:
    found = []
    for kind, value in points.items():
        key = kind.strip().lower()
        if key == "birth_date":
            try:
                found.append((key, dt.date.fromisoformat(value.strip()).isoformat()))
            except ValueError:
                raise RightsError(f"birth_date {value!r} is not a date (YYYY-MM-DD)",
                                  field="data_points.birth_date") from None
            continue
        try:
            identity = normalise(key, value, region=region_of(residence))
        except IdentityError as exc:
            raise InvalidIdentity(str(exc), field=f"data_points.{kind}") from None
        found.append((identity.kind.value, identity.value))
    return found


def _held(subject: DataSubject) -> set[tuple[str, str]]:
    held = {(identity.kind, identity.value) for identity in subject.identities}
    if subject.birth_date is not None:
        held.add(("birth_date", subject.birth_date.isoformat()))
    return held


def verify_request(*, session: Session, policy: CompiledPolicy, reference: str, verify_in: VerifyIn,
                   parts: RightsParts, actor: str = SUBJECT, now: dt.datetime | None = None) -> VerificationOutcome:
    """Check the code and the data points the request's level needs; a failed verification ends the request.

    A wrong code costs one attempt (``code_max_attempts`` in all); a right code with too few matching
    data points, or the last wrong code, denies the request with that reason (11 CCR § 7062).
    The result is returned, not raised, so the caller commits the attempt it counted.
    """
    now = now or utcnow()
    request = get_request(session=session, reference=reference, lock=True)
    if request.state != S.AWAITING_VERIFICATION.value:
        raise RequestConflict(f"request {request.reference} is {request.state}: there is nothing to verify")
    kind = RequestType(request.request_type)
    need = verification_need(policy, request.jurisdiction, kind)
    points = _data_points(verify_in.data_points, request.residence)
    has_declaration = verify_in.declaration is not None or any(
        d.kind == DocumentKind.SIGNED_DECLARATION.value for d in request.documents)
    if need.signed_declaration and not has_declaration:
        raise RightsError(f"this request needs a declaration signed under penalty of perjury ({need.source})",
                          field="declaration")
    if len(points) + 1 < need.data_points:
        raise RightsError(f"give at least {need.data_points - 1} data point(s) besides your email "
                          f"({need.source})", field="data_points")
    if verify_in.declaration is not None:
        request.documents.append(_document(DocumentKind.SIGNED_DECLARATION, verify_in.declaration, parts.settings,
                                           "declaration"))
    limit = parts.settings.code_max_attempts
    if request.code_expires_at is None or request.code_expires_at < now:
        session.flush()
        return VerificationOutcome(reference=request.reference, verified=False, state=request.state,
                                   attempts_left=limit - request.code_attempts,
                                   message="the code has expired: ask for a new one")
    expected = request.code_hash or ""
    if not hmac.compare_digest(_code_hash(parts.secret, request.reference, verify_in.code), expected):
        request.code_attempts += 1
        left = limit - request.code_attempts
        note(request, "attempt_failed", actor=actor, reason="wrong code", data={"attempts_left": left}, now=now)
        if left <= 0:
            _fail_verification(request, parts, f"identity not verified: {limit} wrong codes", now)
            message = "too many wrong codes: the request is closed; you may make a new one"
        else:
            message = f"wrong code; {left} attempt(s) left"
        session.flush()
        return VerificationOutcome(reference=request.reference, verified=False, state=request.state,
                                   attempts_left=max(left, 0), message=message)

    matched, required = _match(session, request, points, need)
    method = f"email_code+{matched}_data_points" if need.data_points else "email_code"
    if matched < required:
        downgraded = _downgrade_to_know(policy, request, kind, matched)
        if downgraded is None:
            _fail_verification(request, parts, _not_verified_reason(need), now)
            session.flush()
            return VerificationOutcome(reference=request.reference, verified=False, state=request.state,
                                       attempts_left=limit - request.code_attempts,
                                       message="we could not verify your identity; the request is closed")
        note(request, "downgraded", actor=SYSTEM, now=now, data={"from": kind.value, "to": RequestType.KNOW.value},
             reason=f"identity verified to the level of a request to know, not to that of specific pieces "
                    f"({downgraded})")
    request.code_hash = None
    request.verified_at = now
    request.verification_method = method
    _set_deadlines(policy, request)
    transition(request, S.VERIFIED, actor=actor, now=now, reason=f"identity verified: {method.replace('_', ' ')}",
               data={"data_points_matched": matched})
    session.flush()
    if parts.queue is not None:
        start_request(session=session, policy=policy, reference=request.reference, parts=parts, actor=SYSTEM, now=now)
    return VerificationOutcome(reference=request.reference, verified=True, state=request.state,
                               attempts_left=limit - request.code_attempts, message="verified")


def verify_account_holder(*, session: Session, policy: CompiledPolicy, reference: str, subject_id: str,
                          parts: RightsParts, actor: str, now: dt.datetime | None = None) -> RightsRequest:
    """Verify through the account the person just re-authenticated to (11 CCR § 7061(a)-(b)).

    The caller (the signed-in web page) vouches that ``subject_id`` re-entered their credentials for
    this request; it must be the person the request is about.
    """
    now = now or utcnow()
    request = get_request(session=session, reference=reference, lock=True)
    if request.state != S.AWAITING_VERIFICATION.value:
        raise RequestConflict(f"request {request.reference} is {request.state}: there is nothing to verify")
    if request.subject_id is None or request.subject_id != subject_id:
        raise RightsError("the signed-in account is not the person this request is about", field="subject")
    request.code_hash = None
    request.verified_at = now
    request.verification_method = "account_reauthentication"
    _set_deadlines(policy, request)
    transition(request, S.VERIFIED, actor=actor, now=now,
               reason="identity verified by re-authentication to the account (11 CCR § 7061)")
    session.flush()
    if parts.queue is not None:
        start_request(session=session, policy=policy, reference=request.reference, parts=parts, actor=SYSTEM, now=now)
    return request


def _match(session: Session, request: RightsRequest, points: list[tuple[str, str]],
           need: VerificationNeed) -> tuple[int, int]:
    """(data points matched, data points required). The email whose code was entered counts as one point
    when it is the person's; a person pledge does not know matches nothing."""
    subject = session.get(DataSubject, request.subject_id) if request.subject_id else None
    if subject is None:
        return 0, need.data_points
    held = _held(subject)
    email_point = (IdentityKind.EMAIL.value, request.contact_email)
    claimed = (request.identity_kind, request.identity_value)  # the identity asked about is the claim, not proof
    matched = int(email_point in held)
    matched += sum(1 for point in dict.fromkeys(points) if point not in (email_point, claimed) and point in held)
    return matched, max(need.data_points, 1)


def _downgrade_to_know(policy: CompiledPolicy, request: RightsRequest, kind: RequestType, matched: int) -> str | None:
    """A request for specific pieces verified only to the level of a request to know becomes one (11 CCR § 7062(c),
    the policy's note on access); returns the source when it does."""
    if kind not in (RequestType.ACCESS, RequestType.PORTABILITY):
        return None
    if RequestType.KNOW not in offered_types(policy, request.jurisdiction):
        return None
    know = verification_need(policy, request.jurisdiction, RequestType.KNOW)
    if matched < max(know.data_points, 1):
        return None
    request.request_type = RequestType.KNOW.value
    request.right = Right.KNOW.value
    request.verification_level = know.level_id
    return know.source


def _not_verified_reason(need: VerificationNeed) -> str:
    level = f"'{need.level.id}' ({need.data_points} data points" if need.level else "the level required ("
    declaration = " and a signed declaration" if need.signed_declaration else ""
    return f"identity could not be verified to {level}{declaration}; {need.source})"


def _fail_verification(request: RightsRequest, parts: RightsParts, reason: str, now: dt.datetime) -> None:
    request.code_hash = None
    transition(request, S.DENIED, actor=SYSTEM, reason=reason, now=now)
    body = (f"We could not verify your identity for request {request.reference}, so we cannot act on it. "
            "You may make a new request.")
    for to in _recipients(request):
        _send(parts, to, f"Your privacy request {request.reference} could not be verified", body)


# --- staff actions ----------------------------------------------------------------------------------


def start_request(*, session: Session, policy: CompiledPolicy, reference: str, parts: RightsParts, actor: str,
                  now: dt.datetime | None = None, approved: bool = False) -> RightsRequest:
    """Put a verified request (or one that failed part way) to work: in progress, and a job to carry it out."""
    now = now or utcnow()
    request = get_request(session=session, reference=reference, lock=True)
    current = RequestState(request.state)
    if current not in (S.VERIFIED, S.ERROR, S.AWAITING_APPROVAL):
        raise RequestConflict(f"request {request.reference} is {current.value}: only a verified request, or one "
                              "that failed part way, can be run")
    try:
        transition(request, S.IN_PROGRESS, actor=actor, now=now,
                   reason="approved" if approved else ("retry" if current is S.ERROR else None))
    except IllegalTransition as exc:
        raise RequestConflict(str(exc)) from None
    if parts.queue is not None and RequestType(request.request_type) not in MANUAL_TYPES:
        job = parts.queue.enqueue(session=session, kind=EXECUTE_JOB, ref=job_ref(request.reference),
                                  payload={"reference": request.reference, "approved": approved})
        note(request, "job_queued", actor=SYSTEM, data={"job": job.id}, now=now)
    session.flush()
    return request


def approve_request(*, session: Session, policy: CompiledPolicy, reference: str, parts: RightsParts, actor: str,
                    reason: str | None = None, now: dt.datetime | None = None) -> RightsRequest:
    """Staff approve what the dry run showed (it is then carried out), or grant a request decided by hand."""
    now = now or utcnow()
    request = get_request(session=session, reference=reference, lock=True)
    kind = RequestType(request.request_type)
    if request.state == S.AWAITING_APPROVAL.value:
        note(request, "approved", actor=actor, reason=reason, now=now)
        return start_request(session=session, policy=policy, reference=reference, parts=parts, actor=actor, now=now,
                             approved=True)
    if kind in MANUAL_TYPES and request.state == S.IN_PROGRESS.value:
        transition(request, S.COMPLETED, actor=actor, reason=reason or "granted", now=now)
        body = f"Your {_describe(request)} request {request.reference} was granted."
        if reason:
            body += f"\n\n{reason}"
        for to in _recipients(request):
            _send(parts, to, f"Your privacy request {request.reference} was granted", body)
        session.flush()
        return request
    raise RequestConflict(f"request {request.reference} is {request.state}: there is nothing to approve")


def deny_request(*, session: Session, policy: CompiledPolicy, reference: str, reason: str, parts: RightsParts,
                 actor: str, now: dt.datetime | None = None) -> RightsRequest:
    """Refuse a request with its reason, told to the person with how to appeal or complain.

    A refused rectification is recorded with its reason (PDPA s. 35; S2 Thai appendix s. 4(7)).
    """
    now = now or utcnow()
    request = get_request(session=session, reference=reference, lock=True)
    try:
        transition(request, S.DENIED, actor=actor, reason=reason, now=now)
    except IllegalTransition as exc:
        raise RequestConflict(str(exc)) from None
    for to in _recipients(request):
        _send(parts, to, f"Your privacy request {request.reference} was refused",
              _denial_text(policy, request, reason))
    session.flush()
    return request


def _denial_text(policy: CompiledPolicy, request: RightsRequest, reason: str) -> str:
    lines = [f"We cannot act on your {_describe(request)} request {request.reference}.", f"Reason: {reason}"]
    governing = policy.jurisdictions.get(request.jurisdiction)
    appealable = request.request_type != RequestType.APPEAL.value and \
        RequestType.APPEAL in offered_types(policy, request.jurisdiction)
    if appealable:
        lines.append(f"You may appeal this decision: make an appeal request naming {request.reference}.")
    authority = governing.complaint_authority if governing else None
    if authority is not None and (not appealable or request.request_type == RequestType.APPEAL.value):
        contact = "; ".join(c.value for c in authority.contacts)
        lines.append(f"You may complain to {authority.name}" + (f" ({contact})" if contact else "") + ".")
    return "\n\n".join(lines)


def extend_request(*, session: Session, policy: CompiledPolicy, reference: str, reason: str, parts: RightsParts,
                   actor: str, now: dt.datetime | None = None) -> RightsRequest:
    """Take the extension the law allows, telling the person why and the new date, within the notice period."""
    now = now or utcnow()
    request = get_request(session=session, reference=reference, lock=True)
    if RequestState(request.state) not in OPEN:
        raise RequestConflict(f"request {request.reference} is {request.state}: it cannot be extended")
    if not reason.strip():
        raise RightsError("an extension needs its reasons: the person is told them", field="reason")
    found = compute_deadlines(policy, request.jurisdiction, Right(request.right),
                              received_on=request.received_at.date(),
                              verified_on=request.verified_at.date() if request.verified_at else None,
                              extensions_used=request.extensions_used)
    if found.extensions_left <= 0:
        raise RequestConflict(f"no extension left for request {request.reference} under {request.jurisdiction} "
                              f"({found.source})")
    if found.due_on is None:
        raise RequestConflict(f"request {request.reference} has no running deadline to extend")
    if found.extension_notice_by is not None and now.date() > found.extension_notice_by:
        raise RequestConflict(f"too late: the person had to be told of an extension by "
                              f"{found.extension_notice_by.isoformat()} ({found.source})")
    request.extensions_used += 1
    _set_deadlines(policy, request)
    note(request, "extended", actor=actor, reason=reason, now=now,
         data={"from": found.due_on.isoformat(), "to": request.due_on.isoformat() if request.due_on else None})
    body = (f"We need more time to answer your {_describe(request)} request {request.reference}.\n\n"
            f"Why: {reason}\n\nWe will answer by {request.due_on.isoformat() if request.due_on else '-'}.")
    for to in _recipients(request):
        _send(parts, to, f"Your privacy request {request.reference}: more time needed", body)
    session.flush()
    return request


def withdraw_request(*, session: Session, reference: str, actor: str, reason: str | None = None,
                     now: dt.datetime | None = None) -> RightsRequest:
    """The person takes the request back (before the work on it has started, or while it awaits approval)."""
    request = get_request(session=session, reference=reference, lock=True)
    try:
        transition(request, S.WITHDRAWN, actor=actor, reason=reason, now=now)
    except IllegalTransition as exc:
        raise RequestConflict(str(exc)) from None
    request.code_hash = None
    session.flush()
    return request


# --- retention --------------------------------------------------------------------------------------


def purge_expired(*, session: Session, now: dt.datetime | None = None, retention_months: int = 24) -> list[str]:
    """Delete closed requests kept past their retention, with their log, documents and package files.

    A request is kept ``retention_months`` (at least 24, 11 CCR § 7101(a)) from its receipt and as
    long again from its closing; returns the references deleted.
    """
    now = now or utcnow()
    closed = [s.value for s in RequestState if s not in OPEN]
    candidates = session.scalars(select(RightsRequest).where(RightsRequest.state.in_(closed),
                                                             RightsRequest.retain_until < now))
    expired = [request for request in candidates
               if request.closed_at is None or add_months(request.closed_at.date(), retention_months) < now.date()]
    references = [request.reference for request in expired]
    for request in expired:
        if request.package_path:
            Path(request.package_path).unlink(missing_ok=True)
    ids = [request.id for request in expired]
    if ids:
        session.execute(update(RightsRequest).where(RightsRequest.appeal_of_id.in_(ids)).values(appeal_of_id=None)
                        .execution_options(synchronize_session=False))
        session.execute(delete(RightsRequestEvent).where(RightsRequestEvent.request_id.in_(ids)))
        session.execute(delete(RightsRequestDocument).where(RightsRequestDocument.request_id.in_(ids)))
        session.execute(delete(RightsRequest).where(RightsRequest.id.in_(ids))
                        .execution_options(synchronize_session=False))
        for request in expired:
            session.expunge(request)
    return references


def close_on_completion(request: RightsRequest, *, partial_reason: str | None, actor: str,
                        now: dt.datetime | None = None, data: dict[str, Any] | None = None) -> None:
    """Close a request whose work is done: completed, or partially completed with the reason."""
    if partial_reason:
        transition(request, S.PARTIALLY_COMPLETED, actor=actor, reason=partial_reason, now=now, data=data)
    else:
        transition(request, S.COMPLETED, actor=actor, now=now, data=data)
