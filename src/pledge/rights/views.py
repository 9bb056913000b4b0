"""``/api/v1/requests``: rights requests over the JSON API.

Public routes (no key) are what a person or their agent uses: make a request, enter the code,
ask for a new code, download the package through its signed link. Their answers never depend on
whether the company knows the person. Staff routes need an API key with ``requests:read`` or
``requests:write``: list (due soon, overdue), show, approve, deny, extend, run, withdraw, and a
fresh package link. A staff key may also enter a request received by phone, email or post.

Views only parse, call ``pledge.rights.service`` in one unit of work, commit, and shape the answer;
errors are RFC 9457 problem details naming the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from pledge.bootstrap import Container
from pledge.rights import packages, service
from pledge.rights.jobs import parts_for
from pledge.rights.mail import MailError, secret_key
from pledge.rights.schemas import (
    Channel,
    ReasonIn,
    RequestReceipt,
    RequestType,
    RightsRequestCreate,
    RightsRequestRead,
    VerificationOutcome,
    VerifyIn,
)
from pledge.rights.service import RightsParts
from pledge.rights.state import IllegalTransition, RequestState
from pledge.schemas import InputModel
from pledge.store import utcnow
from pledge.web.api import keys
from pledge.web.deps import get_container
from pledge.web.problems import ProblemError

#: Scopes of the staff routes (names the API key service should offer: ``pledge apikey create --scope ...``).
REQUESTS_READ = "requests:read"
REQUESTS_WRITE = "requests:write"
TYPE_UNAUTHENTICATED = "urn:pledge:problem:unauthenticated"
TYPE_FORBIDDEN = "urn:pledge:problem:missing-scope"
TYPE_LINK = "urn:pledge:problem:package-link"
TYPE_MAIL = "urn:pledge:problem:mail-unavailable"

ContainerDep = Annotated[Container, Depends(get_container)]
#: Letters, digits and dashes (references are R- and 12 of _REFERENCE_ALPHABET, matched whatever the
#: case and surrounding blanks): anything else names no request, so it is a 422 without a query.
ReferencePath = Annotated[str, PathParam(min_length=3, max_length=24, pattern=r"^\s*[A-Za-z0-9-]+\s*$",
                                         description="The request's reference.")]

router = APIRouter(prefix="/api/v1/requests", tags=["rights requests"])


# --- authentication (staff routes) ------------------------------------------------------------------


def _key(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def _caller(request: Request, container: Container) -> keys.Caller | None:
    key = _key(request)
    if key is None:
        return None
    with container.unit_of_work() as session:
        caller = keys.authenticate(session=session, key=key)
    if caller is None:
        raise ProblemError(401, "The API key is not valid or was revoked.", type_=TYPE_UNAUTHENTICATED,
                           title="Invalid API key")
    return caller


def require(scope: str) -> Callable[..., str]:
    """A dependency: a valid API key granting ``scope``; returns the actor name for the log."""

    def dependency(request: Request, container: ContainerDep) -> str:
        caller = _caller(request, container)
        if caller is None:
            raise ProblemError(401, "Send an API key: Authorization: Bearer <key>.", type_=TYPE_UNAUTHENTICATED,
                               title="API key required")
        if scope not in caller.scopes:
            raise ProblemError(403, f"This key lacks the scope {scope!r}.", type_=TYPE_FORBIDDEN,
                               title="Missing scope")
        return f"api:{caller.name}"

    return dependency


Reader = Annotated[str, Depends(require(REQUESTS_READ))]
Writer = Annotated[str, Depends(require(REQUESTS_WRITE))]


@contextmanager
def problems() -> Iterator[None]:
    """The rights errors that are not a service's bad input: a refused change of state, mail down.

    Bad input (``DomainError``) and a busy database have the app's own handlers (web/problems.py).
    """
    try:
        yield
    except IllegalTransition as exc:
        raise ProblemError(409, str(exc), type_=service.RequestConflict.type,
                           title=service.RequestConflict.title) from None
    except MailError:
        raise ProblemError(503, "Mail cannot be sent right now, so the request was not recorded; try again later.",
                           type_=TYPE_MAIL, title="Mail unavailable") from None


@contextmanager
def work(container: Container) -> Iterator[tuple[Session, RightsParts]]:
    """One unit of work and the rights parts; the queue's connection is released afterwards."""
    parts = parts_for(container)
    try:
        with container.unit_of_work() as session, problems():
            yield session, parts
    finally:
        if parts.queue is not None:
            parts.queue.close()


# --- public ---------------------------------------------------------------------------------------


@router.post("", status_code=202, response_model=RequestReceipt, name="api_submit_rights_request")
def submit(request_in: RightsRequestCreate, request: Request, container: ContainerDep,
           channel: Annotated[Channel | None, Query(description=(
               "How the request reached the company; phone, email or post need a staff key "
               "(requests:write)."))] = None) -> RequestReceipt:
    """Make a request; the answer is the same whether or not the company knows the person."""
    actor = None
    if channel not in (None, Channel.API, Channel.WEB):
        actor = require(REQUESTS_WRITE)(request, container)
    with work(container) as (session, parts):
        made = service.submit_request(session=session, policy=container.policy, request_in=request_in, parts=parts,
                                      channel=channel or Channel.API, actor=actor)
        session.commit()
        return service.receipt(made)


@router.post("/{reference}/verify", response_model=VerificationOutcome, name="api_verify_rights_request")
def verify(reference: ReferencePath, verify_in: VerifyIn, container: ContainerDep) -> VerificationOutcome:
    """Enter the emailed code (and the data points the request's level needs)."""
    with work(container) as (session, parts):
        outcome = service.verify_request(session=session, policy=container.policy, reference=reference,
                                         verify_in=verify_in, parts=parts)
        session.commit()
        return outcome


@router.post("/{reference}/code", status_code=202, name="api_resend_rights_request_code")
def resend(reference: ReferencePath, container: ContainerDep) -> dict[str, str]:
    """Send a new code to the request's contact email."""
    with work(container) as (session, parts):
        service.resend_code(session=session, reference=reference, parts=parts)
        session.commit()
    return {"detail": "A new code was sent to the contact email."}


@router.get("/package/{token}", name="api_rights_request_package", response_class=FileResponse,
            responses={200: {"content": {"application/zip": {}}}})
def download(token: Annotated[str, PathParam(max_length=200)], container: ContainerDep) -> FileResponse:
    """The response package, through the signed link the person was sent; refused once it expires."""
    with container.unit_of_work() as session:
        secret = secret_key(container.settings)
        try:
            reference = packages.read_link(secret, token, utcnow())
        except packages.LinkError as exc:
            raise ProblemError(403 if "expired" in str(exc) else 404, str(exc), type_=TYPE_LINK,
                               title="Package link refused") from None
        with problems():
            found = service.get_request(session=session, reference=reference)
    path = Path(found.package_path) if found.package_path else None
    if path is None or not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != found.package_sha256:
        raise ProblemError(410, "This package is no longer available.", type_=TYPE_LINK, title="Package gone")
    return FileResponse(path, media_type="application/zip", filename=f"{found.reference}.zip")


# --- staff ----------------------------------------------------------------------------------------


class RequestSummary(BaseModel):
    reference: str
    request_type: str
    jurisdiction: str
    state: str
    channel: str
    received_at: dt.datetime
    due_on: dt.date | None
    days_left: int | None = Field(description="calendar days until due; negative when overdue")


@router.get("", response_model=list[RequestSummary], name="api_list_rights_requests")
def list_requests(container: ContainerDep, _actor: Reader,
                  state: RequestState | None = None, jurisdiction: Annotated[str | None, Query(max_length=80)] = None,
                  request_type: Annotated[RequestType | None, Query(alias="type")] = None,
                  due_soon: Annotated[int | None, Query(ge=0, le=366, description="due within this many days")] = None,
                  overdue: bool = False) -> list[RequestSummary]:
    """Requests, newest first; ``overdue`` or ``due_soon=N`` list the ones whose deadline needs attention."""
    today = utcnow().date()
    with container.unit_of_work() as session:
        if overdue:
            found = service.overdue(session=session, today=today)
        elif due_soon is not None:
            found = service.due_soon(session=session, today=today, within_days=due_soon)
        else:
            found = service.list_requests(session=session, state=state, jurisdiction=jurisdiction,
                                          request_type=request_type)
        return [RequestSummary(reference=r.reference, request_type=r.request_type, jurisdiction=r.jurisdiction,
                               state=r.state, channel=r.channel, received_at=r.received_at, due_on=r.due_on,
                               days_left=(r.due_on - today).days if r.due_on else None) for r in found]


@router.get("/{reference}", response_model=RightsRequestRead, name="api_rights_request")
def show(reference: ReferencePath, container: ContainerDep, _actor: Reader) -> RightsRequestRead:
    """The request with its deadlines, log, documents and job progress."""
    with container.unit_of_work() as session, problems():
        return service.to_read(session=session, request=service.get_request(session=session, reference=reference))


def _read(session: Session, reference: str) -> RightsRequestRead:
    return service.to_read(session=session, request=service.get_request(session=session, reference=reference))


class OptionalReason(InputModel):
    reason: str | None = Field(default=None, max_length=10_000)


@router.post("/{reference}/approve", response_model=RightsRequestRead, name="api_approve_rights_request")
def approve(reference: ReferencePath, container: ContainerDep, actor: Writer,
            body: OptionalReason | None = None) -> RightsRequestRead:
    """Approve the dry-run plan (the work then runs), or grant a request decided by hand."""
    with work(container) as (session, parts):
        service.approve_request(session=session, policy=container.policy, reference=reference, parts=parts,
                                actor=actor, reason=body.reason if body else None)
        session.commit()
        return _read(session, reference)


@router.post("/{reference}/deny", response_model=RightsRequestRead, name="api_deny_rights_request")
def deny(reference: ReferencePath, body: ReasonIn, container: ContainerDep, actor: Writer) -> RightsRequestRead:
    """Refuse with the reason; the person is told how to appeal or complain."""
    with work(container) as (session, parts):
        service.deny_request(session=session, policy=container.policy, reference=reference, reason=body.reason,
                             parts=parts, actor=actor)
        session.commit()
        return _read(session, reference)


@router.post("/{reference}/extend", response_model=RightsRequestRead, name="api_extend_rights_request")
def extend(reference: ReferencePath, body: ReasonIn, container: ContainerDep, actor: Writer) -> RightsRequestRead:
    """Take the extension the jurisdiction allows; the person is told why and the new date."""
    with work(container) as (session, parts):
        service.extend_request(session=session, policy=container.policy, reference=reference, reason=body.reason,
                               parts=parts, actor=actor)
        session.commit()
        return _read(session, reference)


@router.post("/{reference}/run", response_model=RightsRequestRead, name="api_run_rights_request")
def run(reference: ReferencePath, container: ContainerDep, actor: Writer) -> RightsRequestRead:
    """Put a verified request (or one in error) to work: a job on the queue carries it out."""
    with work(container) as (session, parts):
        service.start_request(session=session, policy=container.policy, reference=reference, parts=parts,
                              actor=actor)
        session.commit()
        return _read(session, reference)


@router.post("/{reference}/withdraw", response_model=RightsRequestRead, name="api_withdraw_rights_request")
def withdraw(reference: ReferencePath, container: ContainerDep, actor: Writer,
             body: OptionalReason | None = None) -> RightsRequestRead:
    """Record that the person took the request back."""
    with work(container) as (session, _parts):
        service.withdraw_request(session=session, reference=reference, actor=actor,
                                 reason=body.reason if body else None)
        session.commit()
        return _read(session, reference)


class PackageLink(BaseModel):
    url: str
    expires_at: dt.datetime
    sha256: str | None


@router.get("/{reference}/package", response_model=PackageLink, name="api_rights_request_package_link")
def package_link(reference: ReferencePath, request: Request, container: ContainerDep, _actor: Reader) -> PackageLink:
    """A fresh signed link to the request's package."""
    with container.unit_of_work() as session, problems():
        found = service.get_request(session=session, reference=reference)
    if not found.package_path:
        raise ProblemError(404, f"request {found.reference} has no response package (yet)")
    settings = container.settings.rights
    expires = utcnow() + dt.timedelta(hours=settings.link_ttl_hours)
    token = packages.sign_link(secret_key(container.settings), found.reference, expires)
    return PackageLink(url=str(request.url_for("api_rights_request_package", token=token)), expires_at=expires,
                       sha256=found.package_sha256)
