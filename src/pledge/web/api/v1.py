"""The JSON API under ``/api/v1``: record consent events, read a subject's state and ledger, decide.

Every route needs an API key (``Authorization: Bearer pk_...`` or ``X-API-Key``) with the scope it
names; keys are made by ``pledge apikey create --scope ...``. Views only parse, call the services
in one unit of work, commit, and shape the answer. Bad input is an RFC 9457 problem (4xx) that
names the field; nothing is written.

Global Privacy Control: a request to any consent route carrying ``Sec-GPC: 1`` records an
opt-out of sale and sharing for the subject (or browser) it names, where their jurisdiction
recognises the signal (Cal. Civ. Code § 1798.135, 11 CCR § 7025; Colorado; Connecticut).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from pledge.bootstrap import Container
from pledge.consent import asks, service
from pledge.consent.group_commit import GroupCommitter
from pledge.consent.receipts import receipt
from pledge.consent.schemas import (
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_MAX,
    BatchRecordedRead,
    ConsentEventBatch,
    ConsentEventCreate,
    ConsentEventRead,
    RecordedRead,
    RequestContext,
    SubjectStateRead,
    ip_address_or_none,
)
from pledge.schemas import InputModel
from pledge.subjects import service as subjects
from pledge.subjects.models import DataSubject
from pledge.subjects.schemas import IdentityCreate, SubjectRead
from pledge.web.api import keys
from pledge.web.api.keys import Caller, Scope
from pledge.web.deps import get_container
from pledge.web.problems import ProblemError

PREFIX = "/api/v1"
TYPE_UNAUTHENTICATED = "urn:pledge:problem:unauthenticated"
TYPE_FORBIDDEN = "urn:pledge:problem:missing-scope"

async def _container(request: Request) -> Container:
    """The wired container; async, so FastAPI does not spend a worker-thread hop on it."""
    return get_container(request)


ContainerDep = Annotated[Container, Depends(_container)]
SubjectRef = Annotated[str, Path(min_length=1, max_length=400, description=(
    "Any identity (an email, a +phone number, a customer number, or kind:value such as browser:3f9c...) "
    "or subject:<id>."))]
GpcHeader = Annotated[str | None, Header(alias="Sec-GPC", description="Global Privacy Control: 1 to opt out.")]


def api_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries: ``Authorization: Bearer <key>``, or ``X-API-Key``."""
    header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key") or None


def require(scope: Scope) -> Callable[..., Awaitable[Caller]]:
    """A dependency: the request must carry a valid key that grants ``scope``."""

    async def dependency(request: Request) -> Caller:
        key = api_key(request.headers)
        if key is None:
            raise ProblemError(401, "Send an API key: Authorization: Bearer <key> (see `pledge apikey create`).",
                               type_=TYPE_UNAUTHENTICATED, title="API key required")
        caller = keys.cached(key)
        if caller is None:
            caller = await _authenticate_once(get_container(request), key)
        if caller is None:
            raise ProblemError(401, "The API key is not valid or was revoked.", type_=TYPE_UNAUTHENTICATED,
                               title="Invalid API key")
        if scope.value not in caller.scopes:
            raise ProblemError(403, f"This key lacks the scope {scope.value!r}.", type_=TYPE_FORBIDDEN,
                               title="Missing scope")
        return caller

    return dependency


#: One look-up at a time per key: when a busy client's cached key expires, its many waiting
#: requests would each query the database (and open pool connections) for the same answer.
_looking_up: dict[str, asyncio.Lock] = {}


async def _authenticate_once(container: Container, key: str) -> Caller | None:
    lock = _looking_up.setdefault(key, asyncio.Lock())
    async with lock:
        caller = keys.cached(key)
        if caller is None:
            caller = await run_in_threadpool(_authenticate, container, key)
    if not lock.locked():
        _looking_up.pop(key, None)
    return caller


def _authenticate(container: Container, key: str) -> Caller | None:
    with container.unit_of_work() as session:
        return keys.authenticate(session=session, key=key)


def _gpc(value: str | None) -> bool:
    return (value or "").strip() == "1"


def _context(headers: Mapping[str, str], client: tuple[str, int] | None, gpc: str | None,
             idempotency_key: str | None) -> RequestContext:
    address = ip_address_or_none(client[0]) if client else None
    return RequestContext(ip_address=address, user_agent=headers.get("user-agent"), gpc=_gpc(gpc),
                          idempotency_key=idempotency_key)


def _find(session: Session, reference: str) -> DataSubject:
    found = subjects.lookup(session=session, reference=subjects.parse_reference(reference))
    if found is None:
        raise subjects.UnknownSubject(f"no subject with {reference}", field="subject")
    return found


def _state(session: Session, container: Container, subject: DataSubject) -> SubjectStateRead:
    state = service.subject_state(session=session, policy=container.policy, subject_id=subject.id)
    return service.state_read(policy=container.policy, subject=subject, state=state)


v1 = APIRouter(prefix=PREFIX, tags=["consent"])


#: The headers of ``POST /consent-events``, declared for OpenAPI and read from the request by the view:
#: FastAPI resolves ``Header()`` parameters anew on every request, which cost this route, the ledger's
#: hot path, about 35 microseconds of CPU per write.
_RECORD_HEADERS: list[dict[str, Any]] = [
    {"name": "Idempotency-Key", "in": "header", "required": False, "description": "The same key never records twice.",
     "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX}},
    {"name": "Sec-GPC", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "Global Privacy Control: 1 to opt out."},
    {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "RFC 7240: `return=minimal` answers with the event only (no receipt, no state)."},
]


def _idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The Idempotency-Key header, checked by the rule every key keeps (``IdempotencyKey``); a 422
    naming the header, as FastAPI words a ``Header()`` parameter's errors."""
    key = headers.get("idempotency-key")
    if key is None:
        return None
    try:
        return IDEMPOTENCY_KEY.validate_python(key)
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("header", "Idempotency-Key")}
                                      for error in exc.errors()]) from None


@v1.post("/consent-events", status_code=201, response_model=RecordedRead, name="api_record_consent_event",
         responses={200: {"description": "Already recorded under this Idempotency-Key; the same event."}},
         openapi_extra={"parameters": _RECORD_HEADERS})
async def record_consent_event(event_in: ConsentEventCreate, request: Request,
                               _caller: Annotated[Caller, Depends(require(Scope.CONSENT_WRITE))]) -> Response:
    """Append one event to the subject's consent ledger; answers with the event, its receipt and the new state.

    Events arriving together are recorded in one transaction (``consent/group_commit.py``); the
    answer comes once that transaction is committed, with the state it made. The key is checked
    (``require``) before the body, so a caller without one learns nothing of what a good body is.
    """
    return await recorded_response(request.app.state.consent_writer, event_in, request.headers, request.client)


async def recorded_response(writer: GroupCommitter[bool, RecordedRead], event_in: ConsentEventCreate,
                            headers: Mapping[str, str], client: tuple[str, int] | None) -> Response:
    """What ``POST /consent-events`` does once its caller is known and its body read: the route's own
    work, and the fast path's (``web/api/fast_path.py``), so that both answer alike."""
    minimal = "return=minimal" in (headers.get("prefer") or "").replace(" ", "").lower()
    context = _context(headers, client, headers.get("sec-gpc"), _idempotency_key(headers))
    answer = await writer.record(event_in, context, minimal)
    # Serialised once, by pydantic-core, straight to bytes: the answer is already a validated RecordedRead.
    return Response(answer.model_dump_json(), status_code=201 if answer.created else 200,
                    media_type="application/json",
                    headers={"Preference-Applied": "return=minimal"} if minimal else None)


def consent_writer(container: Container) -> GroupCommitter[bool, RecordedRead]:
    """The group committer behind ``POST /consent-events``, answering as the route promises."""
    policy = container.policy

    def answer(session: Session | None, recorded: Sequence[tuple[service.Recorded, bool]]) -> list[RecordedRead]:
        wanted = {r.subject.id: r.subject for r, minimal in recorded if not minimal}
        states = service.subject_states(session=session, data_subjects=list(wanted.values()), known={
            r.subject.id: r.state_rows for r, minimal in recorded if not minimal and r.state_rows is not None})
        answers = []
        for r, minimal in recorded:
            read = service.event_read(session=session, event=r.event, identity_kind=r.identity_kind)
            gpc_read = service.event_read(session=session, event=r.gpc_event,
                                          identity_kind=r.identity_kind) if r.gpc_event else None
            if minimal:
                answers.append(RecordedRead(created=r.created, event=read, gpc_event=gpc_read))
            else:
                answers.append(RecordedRead(
                    created=r.created, event=read, gpc_event=gpc_read,
                    receipt=receipt(policy=policy, event=r.event, identity_kind=read.identity),
                    state=service.state_read(policy=policy, subject=r.subject, state=states[r.subject.id])))
        return answers

    return GroupCommitter(unit_of_work=container.unit_of_work, policy=policy, answer=answer, engine=container.engine)


@v1.post("/consent-events/batch", response_model=BatchRecordedRead, name="api_record_consent_events")
def record_consent_events(
    batch: ConsentEventBatch, request: Request, container: ContainerDep,
    _caller: Annotated[Caller, Depends(require(Scope.CONSENT_WRITE))], sec_gpc: GpcHeader = None,
) -> BatchRecordedRead:
    """Append up to 1,000 events in one transaction (a CRM import, an app syncing offline choices).

    All or nothing: a bad event is a 4xx problem naming it (``events.3.purpose``) and none is written.
    Each event may carry its own ``idempotency_key``.
    """
    items = []
    for item in batch.events:
        fields = item.model_dump(exclude={"idempotency_key"}, exclude_unset=True)
        items.append((ConsentEventCreate.model_validate(fields),
                      _context(request.headers, request.client, sec_gpc, item.idempotency_key)))
    with container.unit_of_work() as session:
        recorded = service.record_events(session=session, policy=container.policy, items=items)
        session.commit()
        events = [service.event_read(session=session, event=r.event, identity_kind=r.identity_kind)
                  for r in recorded]
        gpc = [service.event_read(session=session, event=r.gpc_event, identity_kind=r.identity_kind)
               for r in recorded if r.gpc_event is not None]
    created = sum(1 for r in recorded if r.created)
    return BatchRecordedRead(created=created, replayed=len(recorded) - created, events=events, gpc_events=gpc)


@v1.get("/consent-events/{uid}/receipt", name="api_consent_receipt")
def consent_receipt(uid: Annotated[str, Path(max_length=32)], container: ContainerDep,
                    _caller: Annotated[Caller, Depends(require(Scope.CONSENT_READ))]) -> dict[str, Any]:
    """The ISO/IEC TS 27560 receipt of one ledger event."""
    with container.unit_of_work() as session:
        try:
            event = service.get_event(session=session, uid=uid)
        except service.ConsentError as exc:
            raise ProblemError(404, str(exc), title="Unknown consent event") from None
        read = service.event_read(session=session, event=event)
        return receipt(policy=container.policy, event=event, identity_kind=read.identity)


class GpcAnswer(BaseModel):
    gpc_event: ConsentEventRead | None = None


class StateAnswer(SubjectStateRead, GpcAnswer):
    pass


@v1.get("/subjects/{subject}/state", response_model=StateAnswer, name="api_subject_state")
def subject_state(subject: SubjectRef, container: ContainerDep,
                  _caller: Annotated[Caller, Depends(require(Scope.CONSENT_READ))],
                  sec_gpc: GpcHeader = None) -> StateAnswer:
    """The subject's current state: what every decision about them reads."""
    with container.unit_of_work() as session:
        found, gpc_event = _with_gpc(session, container, subject, sec_gpc)
        state = _state(session, container, found)
        return StateAnswer(**state.model_dump(), gpc_event=gpc_event)


class LedgerAnswer(GpcAnswer):
    subject_id: str
    events: list[ConsentEventRead]


@v1.get("/subjects/{subject}/ledger", response_model=LedgerAnswer, name="api_subject_ledger")
def subject_ledger(subject: SubjectRef, container: ContainerDep,
                   _caller: Annotated[Caller, Depends(require(Scope.CONSENT_READ))],
                   sec_gpc: GpcHeader = None) -> LedgerAnswer:
    """Every consent event of the subject (and of browsers merged into them), oldest first."""
    with container.unit_of_work() as session:
        found, gpc_event = _with_gpc(session, container, subject, sec_gpc)
        events = [service.event_read(session=session, event=e) for e in service.ledger(session=session,
                                                                                         subject_id=found.id)]
        return LedgerAnswer(subject_id=found.id, events=events, gpc_event=gpc_event)


def _with_gpc(session: Session, container: Container, subject: str,
              sec_gpc: str | None) -> tuple[DataSubject, ConsentEventRead | None]:
    if not _gpc(sec_gpc):
        return _find(session, subject), None
    found, event = service.gpc_for(session=session, policy=container.policy, reference=subject)
    session.commit()
    return found, service.event_read(session=session, event=event) if event else None


@v1.post("/subjects/{subject}/identities", response_model=SubjectRead, name="api_link_identity")
def link_identity(subject: SubjectRef, identity_in: IdentityCreate, container: ContainerDep,
                  _caller: Annotated[Caller, Depends(require(Scope.CONSENT_WRITE))]) -> SubjectRead:
    """Link an identity to a subject, e.g. the banner's browser id at login; both histories are kept."""
    with container.unit_of_work() as session:
        found = _find(session, subject)
        identity = subjects.to_identity(identity_in.kind, identity_in.value, residence=found.residence,
                                        field="value")
        survivor, _merged = service.link_identity(session=session, policy=container.policy, subject_id=found.id,
                                                  identity=identity)
        session.commit()
        return subjects.to_read(session=session, policy=container.policy, subject=survivor)


class AskBody(InputModel):
    purpose: str = Field(min_length=1, max_length=80)
    notice: str | None = Field(default=None, max_length=80)
    service: str | None = Field(default=None, max_length=80)
    data_categories: list[str] = Field(default_factory=list, max_length=100)
    recipient: str | None = Field(default=None, max_length=80)
    channel: str | None = Field(default=None, max_length=16)
    jurisdiction: str | None = Field(default=None, max_length=16,
                                     description="Decide under this residence instead of the subject's.")

    def check(self, container: Container) -> asks.Ask:
        return asks.check_ask(container.policy, purpose=self.purpose, notice=self.notice, service=self.service,
                              data_categories=self.data_categories, recipient=self.recipient, channel=self.channel,
                              jurisdiction=self.jurisdiction)


class DecideBody(AskBody):
    subject: str = Field(min_length=1, max_length=400, description="Any identity, or subject:<id>.")


class DecideBulkBody(AskBody):
    subjects: list[str] = Field(min_length=1, max_length=asks.MAX_BULK)


class ReasonRead(BaseModel):
    rule: str
    source: str
    detail: str


class DecisionRead(BaseModel):
    subject_id: str | None
    allowed: bool
    outcome: str
    legal_basis: str | None
    notice: str
    purpose: str
    jurisdiction: str
    reasons: list[ReasonRead]


class BulkAnswerRead(BaseModel):
    subject: str
    subject_id: str | None
    allowed: bool
    rule: str | None = Field(description="The first rule that refused, if any.")


class BulkRead(BaseModel):
    notice: str
    purpose: str
    allowed: int
    refused: int
    results: list[BulkAnswerRead]


@v1.post("/decisions", response_model=DecisionRead, tags=["decisions"], name="api_decide")
def decide_one(body: DecideBody, container: ContainerDep,
               _caller: Annotated[Caller, Depends(require(Scope.DECIDE))]) -> DecisionRead:
    """May this purpose go ahead for this person? Allowed, the legal basis, and every reason with its source."""
    with container.unit_of_work() as session:
        ask = body.check(container)
        found, decision = asks.decide_for(session=session, policy=container.policy, subject=body.subject, ask=ask)
        return DecisionRead(subject_id=found.id if found else None, **decision.as_dict())


@v1.post("/decisions/bulk", response_model=BulkRead, tags=["decisions"], name="api_decide_bulk")
def decide_bulk(body: DecideBulkBody, container: ContainerDep,
                _caller: Annotated[Caller, Depends(require(Scope.DECIDE))]) -> BulkRead:
    """One purpose for up to 10,000 people in one pass (the bulk engine); unknown identities have no consents."""
    with container.unit_of_work() as session:
        ask = body.check(container)
        answers = asks.decide_bulk(session=session, policy=container.policy, subject_refs=body.subjects, ask=ask)
    allowed = sum(1 for a in answers if a.allowed)
    return BulkRead(notice=ask.notice, purpose=ask.purpose, allowed=allowed, refused=len(answers) - allowed,
                    results=[BulkAnswerRead(subject=a.subject, subject_id=a.subject_id, allowed=a.allowed,
                                            rule=a.rule) for a in answers])


router = APIRouter()
router.include_router(v1)


@router.get("/docs", include_in_schema=False)
def docs_redirect() -> RedirectResponse:
    """The OpenAPI pages live at /api/docs; /docs is where people look first."""
    return RedirectResponse("/api/docs")

