"""`pledge request ...`: rights requests for the privacy team.

Staff enter requests received by phone, email or post (S0 'Your Rights'), enter the code and data
points a caller reads out, approve dry runs, refuse with reasons, take extensions, run the work and
hand out fresh package links. Every command calls ``pledge.rights.service``; the rules live there.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from pledge.bootstrap import Container
from pledge.cli.common import EXIT_NOT_FOUND, fail, open_container
from pledge.jobs.queue import jobs_for
from pledge.jobs.worker import Worker
from pledge.rights import packages, service
from pledge.rights.jobs import parts_for
from pledge.rights.mail import MailError, secret_key
from pledge.rights.models import RightsRequest
from pledge.rights.schemas import (
    AgentIn,
    Channel,
    DocumentIn,
    RequestDetails,
    RequestType,
    RightsRequestCreate,
    VerifyIn,
)
from pledge.rights.service import RightsParts
from pledge.rights.state import IllegalTransition, RequestState
from pledge.store import utcnow

app = typer.Typer(help="Rights requests: submit, verify, approve, deny, extend, run, hand out packages.",
                  no_args_is_help=True)

Reference = Annotated[str, typer.Argument(help="The request's reference, e.g. R-7KQ2M9XW4TJD.", show_default=False)]
Actor = Annotated[str | None, typer.Option("--actor", help="Who does this, for the log (default: staff:<login>).")]


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class IntakeChannel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    POST = "post"
    CLI = "cli"


@contextmanager
def _parts(container: Container) -> Iterator[RightsParts]:
    """The rights parts of this pledge; the queue's connection is closed afterwards."""
    parts = parts_for(container)
    try:
        yield parts
    finally:
        if parts.queue is not None:
            parts.queue.close()


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return f"staff:{getpass.getuser()}"
    except Exception:
        return "staff:unknown"


def _failed(exc: Exception) -> NoReturn:
    if isinstance(exc, service.UnknownRequest):
        fail(str(exc), EXIT_NOT_FOUND)
    if isinstance(exc, ValidationError):  # an option the request's schema refuses (too long, empty)
        fail("; ".join(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()))
    field = getattr(exc, "field", None)
    fail(f"{field}: {exc}" if field and field not in str(exc) else str(exc))


ERRORS = (service.RightsError, IllegalTransition, MailError, ValidationError)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            fail(f"{option} takes NAME=VALUE, not {value!r}")
        found[name.strip()] = text.strip()
    return found


def _document(path: Path | None) -> DocumentIn | None:
    if path is None:
        return None
    if not path.is_file():
        fail(f"no file {path}")
    content_type = "application/pdf" if path.suffix.lower() == ".pdf" else "application/octet-stream"
    return DocumentIn(filename=path.name, content_type=content_type, content=path.read_bytes())


def _summary(request: RightsRequest) -> str:
    due = request.due_on.isoformat() if request.due_on else "no statutory date" if request.verified_at or \
        request.state != RequestState.AWAITING_VERIFICATION.value else "clock starts at verification"
    return f"{request.reference}: {request.request_type} under {request.jurisdiction}, {request.state}; due {due}"


@app.command("submit")
def submit(
    request_type: Annotated[RequestType, typer.Option("--type", help="What the person asks for.",
                                                      show_default=False)],
    identity: Annotated[str, typer.Option(help="Whom it is about: email, +phone, customer number or kind:value.",
                                          show_default=False)],
    email: Annotated[str | None, typer.Option(help="Contact email for the code and the answer "
                                                   "(default: the identity, when it is an email).")] = None,
    residence: Annotated[str | None, typer.Option(help="ISO 3166 residence: DE, GB, US-CA, TH ...")] = None,
    channel: Annotated[IntakeChannel, typer.Option(help="How the request reached us.")] = IntakeChannel.CLI,
    correct: Annotated[list[str], typer.Option("--correct", help="Rectification: ATTRIBUTE=VALUE (repeat).")] = [],  # noqa: B006
    purpose: Annotated[list[str], typer.Option("--purpose", help="Objection or consent withdrawal: a purpose, "
                                                                 "or notice/purpose (repeat).")] = [],  # noqa: B006
    send_to: Annotated[str | None, typer.Option(help="Portability: another controller's email.")] = None,
    message: Annotated[str | None, typer.Option(help="What the person said, as said.")] = None,
    agent_name: Annotated[str | None, typer.Option(help="Authorised agent's name.")] = None,
    agent_email: Annotated[str | None, typer.Option(help="Authorised agent's email.")] = None,
    agent_permission: Annotated[Path | None, typer.Option(help="File of the person's signed permission.")] = None,
    appeal_of: Annotated[str | None, typer.Option(help="Appeal: the reference of the decision appealed.")] = None,
    actor: Actor = None,
) -> None:
    """Record a request received by phone, email or post; the person gets the code (or the receipt) by email."""
    agent = None
    if (agent_name or agent_email or agent_permission) and not (agent_name and agent_email):
        fail("an authorised agent needs --agent-name and --agent-email")
    with open_container() as container, _parts(container) as parts, container.unit_of_work() as session:
        try:
            if agent_name and agent_email:
                agent = AgentIn(name=agent_name, email=agent_email, permission=_document(agent_permission))
            details = RequestDetails(corrections=_pairs(correct, "--correct"), purposes=purpose, send_to=send_to,
                                     message=message)
            request_in = RightsRequestCreate(request_type=request_type, identity=identity, contact_email=email,
                                             residence=residence, details=details, agent=agent, appeal_of=appeal_of)
            request = service.submit_request(session=session, policy=container.policy, request_in=request_in,
                                             parts=parts, channel=Channel(channel.value), actor=_actor(actor))
        except ERRORS as exc:
            _failed(exc)
        session.commit()
    typer.echo(_summary(request))
    typer.echo(service.receipt(request).next_step)


@app.command("list")
def list_requests(
    state: Annotated[RequestState | None, typer.Option(help="Only requests in this state.")] = None,
    jurisdiction: Annotated[str | None, typer.Option(help="Only under this jurisdiction (EEA, US-CA ...).")] = None,
    request_type: Annotated[RequestType | None, typer.Option("--type", help="Only this type.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only requests not yet closed.")] = False,
    due_soon: Annotated[bool, typer.Option("--due-soon", help="Open requests due within --days.")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Open requests past their due date.")] = False,
    days: Annotated[int | None, typer.Option(help="Days ahead for --due-soon (default "
                                                  "PLEDGE_RIGHTS_DUE_SOON_DAYS).")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.TEXT,
) -> None:
    """Requests, newest first; --due-soon and --overdue list the ones whose deadline needs attention."""
    today = utcnow().date()
    with open_container() as container, container.unit_of_work() as session:
        if overdue:
            found = service.overdue(session=session, today=today)
        elif due_soon:
            window = days if days is not None else container.settings.rights.due_soon_days
            found = service.due_soon(session=session, today=today, within_days=window)
        else:
            found = service.list_requests(session=session, state=state, jurisdiction=jurisdiction,
                                          request_type=request_type, open_only=open_only)
    if output is OutputFormat.JSON:
        typer.echo(json.dumps([_row(r, today) for r in found], indent=2))
        return
    if not found:
        typer.echo("no requests")
        return
    table = Table("reference", "type", "jurisdiction", "state", "received", "due", "days left", "channel")
    for request in found:
        row = _row(request, today)
        table.add_row(row["reference"], row["type"], row["jurisdiction"], row["state"], row["received"][:10],
                      row["due_on"] or "-", "-" if row["days_left"] is None else str(row["days_left"]),
                      row["channel"])
    _console().print(table)


def _row(request: RightsRequest, today: dt.date) -> dict[str, Any]:
    return {"reference": request.reference, "type": request.request_type, "jurisdiction": request.jurisdiction,
            "state": request.state, "received": request.received_at.isoformat(),
            "due_on": request.due_on.isoformat() if request.due_on else None,
            "days_left": (request.due_on - today).days if request.due_on else None, "channel": request.channel}


@app.command("show")
def show(reference: Reference,
         output: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.TEXT) -> None:
    """The request with its deadlines, log, documents and job progress."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            read = service.to_read(session=session, request=service.get_request(session=session,
                                                                                 reference=reference))
        except ERRORS as exc:
            _failed(exc)
    if output is OutputFormat.JSON:
        typer.echo(read.model_dump_json(indent=2))
        return
    console = _console()
    console.print(f"{read.reference}  {read.request_type.value} under {read.jurisdiction}  [{read.state}]")
    console.print(f"identity {read.identity}, contact {read.contact_email}, channel {read.channel}"
                  + (f", agent {read.agent_name} <{read.agent_email}>" if read.agent_name else ""))
    console.print(f"received {read.received_at:%Y-%m-%d %H:%M} UTC; confirm by {read.confirmation_due_on or '-'}; "
                  f"clock from {read.clock_started_on or '-'}; due {read.due_on or '-'}"
                  f" (extensions used {read.extensions_used}; "
                  f"notice of extension by {read.extension_notice_by or '-'})")
    if read.deadline_source:
        console.print(f"deadline source: {read.deadline_source}")
    if read.outcome_reason:
        console.print(f"reason: {read.outcome_reason}")
    if read.result.get("plan_text"):
        console.print(read.result["plan_text"])
    log = Table("time (UTC)", "event", "from", "to", "actor", "reason", title="log")
    for event in read.events:
        log.add_row(f"{event.occurred_at:%Y-%m-%d %H:%M:%S}", event.kind, event.from_state or "-",
                    event.to_state or "-", event.actor, event.reason or "")
    console.print(log)
    for document in read.documents:
        console.print(f"document: {document.kind} {document.filename} ({document.size} B, sha256 {document.sha256})")
    for job in read.jobs:
        console.print(f"job #{job.id} {job.kind}: {job.state} {job.progress:.0%} {job.message or ''}"
                      + (f" error: {job.error}" if job.error else ""))


@app.command("verify")
def verify(
    reference: Reference,
    code: Annotated[str | None, typer.Option(help="The code the person received by email.")] = None,
    point: Annotated[list[str], typer.Option("--point", help="A data point the person gave: KIND=VALUE "
                                                             "(phone, customer_number, birth_date ...; repeat).")] = [],  # noqa: B006
    declaration: Annotated[Path | None, typer.Option(help="File of the declaration signed under penalty of "
                                                          "perjury, where the level needs one.")] = None,
    resend: Annotated[bool, typer.Option("--resend", help="Send the person a new code instead.")] = False,
    actor: Actor = None,
) -> None:
    """Enter the code and data points a person gave; a failed verification ends the request."""
    with open_container() as container, _parts(container) as parts, container.unit_of_work() as session:
        try:
            if resend:
                service.resend_code(session=session, reference=reference, parts=parts)
                session.commit()
                typer.echo(f"{reference.upper()}: a new code was sent")
                return
            if not code:
                fail("give --code (or --resend)")
            outcome = service.verify_request(session=session, policy=container.policy, reference=reference,
                                             verify_in=VerifyIn(code=code, data_points=_pairs(point, "--point"),
                                                                declaration=_document(declaration)),
                                             parts=parts, actor=_actor(actor))
        except ERRORS as exc:
            _failed(exc)
        session.commit()
    typer.echo(f"{outcome.reference}: {outcome.message} ({outcome.state})")
    if not outcome.verified:
        raise typer.Exit(1)


def _act(reference: str, action: str, **kwargs: Any) -> RightsRequest:
    with open_container() as container, _parts(container) as parts, container.unit_of_work() as session:
        try:
            function = getattr(service, action)
            request: RightsRequest = function(session=session, policy=container.policy, reference=reference,
                                              parts=parts, **kwargs)
        except ERRORS as exc:
            _failed(exc)
        session.commit()
    return request


@app.command("approve")
def approve(reference: Reference,
            reason: Annotated[str | None, typer.Option(help="Why, for the log (and for the person, when granting "
                                                           "an appeal).")] = None,
            actor: Actor = None) -> None:
    """Approve the dry-run plan (the work then runs), or grant a request decided by hand (an appeal)."""
    request = _act(reference, "approve_request", actor=_actor(actor), reason=reason)
    typer.echo(_summary(request))


@app.command("deny")
def deny(reference: Reference,
         reason: Annotated[str, typer.Option(help="Why: recorded and told to the person.", show_default=False)],
         actor: Actor = None) -> None:
    """Refuse the request with its reason; the person is told how to appeal or complain."""
    request = _act(reference, "deny_request", reason=reason, actor=_actor(actor))
    typer.echo(_summary(request))


@app.command("extend")
def extend(reference: Reference,
           reason: Annotated[str, typer.Option(help="Why more time is needed: told to the person.",
                                               show_default=False)],
           actor: Actor = None) -> None:
    """Take the extension the jurisdiction allows, within its notice period."""
    request = _act(reference, "extend_request", reason=reason, actor=_actor(actor))
    typer.echo(_summary(request))


@app.command("withdraw")
def withdraw(reference: Reference,
             reason: Annotated[str | None, typer.Option(help="What the person said.")] = None,
             actor: Actor = None) -> None:
    """Record that the person took the request back."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            request = service.withdraw_request(session=session, reference=reference, reason=reason,
                                               actor=actor or "subject")
        except ERRORS as exc:
            _failed(exc)
        session.commit()
    typer.echo(_summary(request))


@app.command("run")
def run(reference: Reference,
        wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Run the job here and now, or leave it to "
                                                                    "`pledge worker`.")] = True,
        actor: Actor = None) -> None:
    """Put a verified request (or one in error) to work, and by default carry it out here."""
    with open_container() as container, _parts(container) as parts:
        assert parts.queue is not None
        try:
            with container.unit_of_work() as session:
                request = service.get_request(session=session, reference=reference)
                if request.state != RequestState.IN_PROGRESS.value:
                    request = service.start_request(session=session, policy=container.policy, reference=reference,
                                                    parts=parts, actor=_actor(actor))
                session.commit()
            if wait:
                worker = Worker(container=container, queue=parts.queue, mailer=parts.mailer,
                                worker_id=f"cli:{_actor(actor)}")
                with container.unit_of_work() as session:
                    pending = [job.id for job in jobs_for(session=session, ref=service.job_ref(request.reference))
                               if job.state == "queued"]
                for job_id in pending:
                    worker.run_once(job_id=job_id)
            with container.unit_of_work() as session:
                request = service.get_request(session=session, reference=reference)
        except ERRORS as exc:
            _failed(exc)
    typer.echo(_summary(request))
    if request.outcome_reason:
        typer.echo(f"reason: {request.outcome_reason}")


@app.command("package")
def package(reference: Reference,
            output: Annotated[Path | None, typer.Option(help="Also copy the zip here.")] = None) -> None:
    """Print a fresh signed link to the request's response package (and its SHA-256)."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            request = service.get_request(session=session, reference=reference)
        except ERRORS as exc:
            _failed(exc)
        if not request.package_path or not Path(request.package_path).is_file():
            fail(f"request {request.reference} has no response package (yet)")
        settings = container.settings.rights
        expires = utcnow() + dt.timedelta(hours=settings.link_ttl_hours)
        token = packages.sign_link(secret_key(container.settings), request.reference, expires)
    if output is not None:
        try:
            shutil.copyfile(request.package_path, output)
        except OSError as exc:
            fail(f"cannot copy the package to {output}: {exc.strerror or exc}")
    typer.echo(f"{settings.public_url.rstrip('/')}/api/v1/requests/package/{token}")
    typer.echo(f"sha256 {request.package_sha256}; link valid until {expires:%Y-%m-%d %H:%M} UTC")


@app.command("purge")
def purge() -> None:
    """Delete closed requests past their retention (PLEDGE_RIGHTS_RECORD_RETENTION_MONTHS, 11 CCR § 7101)."""
    with open_container() as container, container.unit_of_work() as session:
        gone = service.purge_expired(session=session,
                                     retention_months=container.settings.rights.record_retention_months)
        session.commit()
    typer.echo(f"{len(gone)} request(s) purged" + (f": {', '.join(gone)}" if gone else ""))
