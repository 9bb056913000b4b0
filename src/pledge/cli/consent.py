"""`pledge consent ...`: record choices in the ledger, show a subject's state, prove the projection.

Commands parse, call ``pledge.consent.service`` in one unit of work, and print. They are meant
for staff (a call centre taking a request on the phone), so the defaults are ``--actor staff`` and
``--collection-point call_centre``. Bad input ends as one line on stderr; nothing is written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from pledge.cli.common import EXIT_NOT_FOUND, fail, open_container
from pledge.consent import service
from pledge.consent.receipts import receipt
from pledge.consent.schemas import (
    DIRECT_MARKETING,
    Actor,
    CollectionPoint,
    ConsentEventCreate,
    EventKind,
    OptOut,
    RequestContext,
)
from pledge.subjects import service as subjects

app = typer.Typer(help="Record consent, objections and opt-outs; show a subject's state.", no_args_is_help=True)

Subject = Annotated[str, typer.Option("--subject", help=(
    "Any identity: email, +phone, customer number, or kind:value (browser:..., device:..., lumix:...), "
    "or subject:<id>."), show_default=False)]
Purpose = Annotated[str, typer.Option(help="Purpose id from the policy.", show_default=False)]
Notice = Annotated[str | None, typer.Option(help="Notice the purpose belongs to (when several have it).")]
Service = Annotated[str | None, typer.Option("--service", help="Or the service, which selects the notice.")]
Jurisdiction = Annotated[str | None, typer.Option(
    help="Residence (ISO 3166: DE, GB, US-CA) for a new subject, or to record a move.")]
Point = Annotated[CollectionPoint, typer.Option("--collection-point", help="Where the choice was made.")]
ActorOpt = Annotated[Actor, typer.Option("--actor", help="Who made it.")]
ActorRef = Annotated[str | None, typer.Option(help="Which staff member, guardian or agent.")]
Evidence = Annotated[str | None, typer.Option("--evidence-text", help="The text shown; only its SHA-256 is kept.")]
Key = Annotated[str | None, typer.Option(help="Idempotency key: the same key never records twice.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the event's ISO/IEC TS 27560 receipt as JSON.")]


@contextmanager
def _failing() -> Iterator[None]:
    """Service errors as one line on stderr."""
    try:
        yield
    except subjects.UnknownSubject as exc:
        fail(str(exc), EXIT_NOT_FOUND)
    except (service.ConsentError, subjects.SubjectError) as exc:
        fail(str(exc))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        fail(f"{where}: {first['msg']}" if where else first["msg"])


def _record(*, as_json: bool, key: str | None, **fields: Any) -> None:
    with open_container() as container, _failing(), container.unit_of_work() as session:
        event_in = ConsentEventCreate(**{name: value for name, value in fields.items() if value is not None})
        recorded = service.record_event(session=session, policy=container.policy, event_in=event_in,
                                        context=RequestContext(idempotency_key=key))
        session.commit()
        event = recorded.event
        if as_json:
            identity = service.event_read(session=session, event=event).identity
            typer.echo(json.dumps(receipt(policy=container.policy, event=event, identity_kind=identity), indent=2))
            return
    what = "/".join(part for part in (event.notice_id, event.target) if part)
    verb = "recorded" if recorded.created else "already recorded"
    typer.echo(f"{verb} {event.kind} {what} for subject {event.subject_id} (event {event.uid})".replace("  ", " "))


def _common(subject: str, jurisdiction: str | None, point: CollectionPoint, actor: Actor,
            actor_ref: str | None, evidence: str | None) -> dict[str, Any]:
    return {"subject": subject, "residence": jurisdiction, "collection_point": point, "actor": actor,
            "actor_ref": actor_ref, "evidence_text": evidence}


@app.command("grant")
def grant(subject: Subject, purpose: Purpose, notice: Notice = None, service_: Service = None,
          jurisdiction: Jurisdiction = None, point: Point = CollectionPoint.CALL_CENTRE,
          actor: ActorOpt = Actor.STAFF, actor_ref: ActorRef = None, evidence: Evidence = None,
          expires: Annotated[dt.datetime | None, typer.Option(help="When the consent lapses (UTC).")] = None,
          key: Key = None, as_json: AsJson = False) -> None:
    """Record that the person gave consent to a purpose (GDPR Art. 6(1)(a), 7)."""
    _record(as_json=as_json, key=key, kind=EventKind.CONSENT_GRANTED, purpose=purpose, notice=notice,
            service=service_, expires_at=expires.replace(tzinfo=dt.UTC) if expires and not expires.tzinfo else expires,
            **_common(subject, jurisdiction, point, actor, actor_ref, evidence))


@app.command("deny")
def deny(subject: Subject, purpose: Purpose, notice: Notice = None, service_: Service = None,
         jurisdiction: Jurisdiction = None, point: Point = CollectionPoint.CALL_CENTRE,
         actor: ActorOpt = Actor.STAFF, actor_ref: ActorRef = None, evidence: Evidence = None,
         key: Key = None, as_json: AsJson = False) -> None:
    """Record that the person refused consent to a purpose."""
    _record(as_json=as_json, key=key, kind=EventKind.CONSENT_DENIED, purpose=purpose, notice=notice,
            service=service_, **_common(subject, jurisdiction, point, actor, actor_ref, evidence))


@app.command("withdraw")
def withdraw(subject: Subject, purpose: Purpose, notice: Notice = None, service_: Service = None,
             jurisdiction: Jurisdiction = None, point: Point = CollectionPoint.CALL_CENTRE,
             actor: ActorOpt = Actor.STAFF, actor_ref: ActorRef = None, key: Key = None,
             as_json: AsJson = False) -> None:
    """Record that the person withdrew consent (GDPR Art. 7(3): as easy as giving it)."""
    _record(as_json=as_json, key=key, kind=EventKind.CONSENT_WITHDRAWN, purpose=purpose, notice=notice,
            service=service_, **_common(subject, jurisdiction, point, actor, actor_ref, None))


@app.command("object")
def object_(subject: Subject,
            purpose: Annotated[str | None, typer.Option(help="Legitimate-interest purpose objected to.")] = None,
            direct_marketing: Annotated[bool, typer.Option(
                "--direct-marketing", help="Object to direct marketing as such (GDPR Art. 21(2)).")] = False,
            lift: Annotated[bool, typer.Option("--lift", help="Withdraw an earlier objection.")] = False,
            notice: Notice = None, service_: Service = None, jurisdiction: Jurisdiction = None,
            point: Point = CollectionPoint.CALL_CENTRE, actor: ActorOpt = Actor.STAFF, actor_ref: ActorRef = None,
            key: Key = None, as_json: AsJson = False) -> None:
    """Record an objection to a purpose on legitimate interests, or to direct marketing."""
    if (purpose is None) == (not direct_marketing):
        fail("give either --purpose or --direct-marketing")
    _record(as_json=as_json, key=key, kind=EventKind.OBJECTION_WITHDRAWN if lift else EventKind.OBJECTION_RAISED,
            purpose=purpose, target=DIRECT_MARKETING if direct_marketing else None, notice=notice, service=service_,
            **_common(subject, jurisdiction, point, actor, actor_ref, None))


@app.command("opt-out")
def opt_out(subject: Subject,
            what: Annotated[OptOut, typer.Option("--of", help="What to opt out of.")] = OptOut.SALE_SHARE,
            undo: Annotated[bool, typer.Option("--undo", help="Opt back in.")] = False,
            jurisdiction: Jurisdiction = None, point: Point = CollectionPoint.CALL_CENTRE,
            actor: ActorOpt = Actor.STAFF, actor_ref: ActorRef = None, key: Key = None,
            as_json: AsJson = False) -> None:
    """Record an opt-out of sale/sharing, targeted advertising or profiling, or a limit on sensitive data."""
    _record(as_json=as_json, key=key, kind=EventKind.OPTED_IN if undo else EventKind.OPTED_OUT, target=what.value,
            **_common(subject, jurisdiction, point, actor, actor_ref, None))


@app.command("restrict")
def restrict(subject: Subject, lift: Annotated[bool, typer.Option("--lift", help="Lift the restriction.")] = False,
             jurisdiction: Jurisdiction = None, point: Point = CollectionPoint.RIGHTS_REQUEST,
             actor: ActorOpt = Actor.STAFF, actor_ref: ActorRef = None, key: Key = None,
             as_json: AsJson = False) -> None:
    """Record a restriction of processing (GDPR Art. 18), or its lifting."""
    _record(as_json=as_json, key=key,
            kind=EventKind.RESTRICTION_LIFTED if lift else EventKind.RESTRICTION_REQUESTED,
            **_common(subject, jurisdiction, point, actor, actor_ref, None))


@app.command("channel")
def channel(subject: Subject,
            name: Annotated[str, typer.Option("--channel", help="post, email, phone, sms or push.",
                                              show_default=False)],
            on: Annotated[bool, typer.Option("--on/--off", help="Switch the channel on or off.")] = False,
            jurisdiction: Jurisdiction = None, point: Point = CollectionPoint.PREFERENCE_CENTRE,
            actor: ActorOpt = Actor.STAFF, actor_ref: ActorRef = None, key: Key = None,
            as_json: AsJson = False) -> None:
    """Record a marketing channel preference (S2 §7, S3 §12)."""
    _record(as_json=as_json, key=key, kind=EventKind.CHANNEL_SWITCHED_ON if on else EventKind.CHANNEL_SWITCHED_OFF,
            target=name, **_common(subject, jurisdiction, point, actor, actor_ref, None))


@app.command("cookies")
def cookies(subject: Subject,
            category: Annotated[str, typer.Option(help="Cookie category id.", show_default=False)],
            accept: Annotated[bool, typer.Option("--accept/--reject", help="Accept or reject.")] = True,
            notice: Notice = None, jurisdiction: Jurisdiction = None, point: Point = CollectionPoint.BANNER,
            actor: ActorOpt = Actor.SUBJECT, key: Key = None, as_json: AsJson = False) -> None:
    """Record a cookie-category choice (ePrivacy Art. 5(3); S2 cookie policy §2.6)."""
    _record(as_json=as_json, key=key, kind=EventKind.COOKIES_ACCEPTED if accept else EventKind.COOKIES_REJECTED,
            target=category, notice=notice, **_common(subject, jurisdiction, point, actor, None, None))


@app.command("parental")
def parental(subject: Subject,
             guardian: Annotated[str, typer.Option(help="Who the guardian is (name or identity).",
                                                   show_default=False)],
             withdraw_: Annotated[bool, typer.Option("--withdraw", help="The guardian withdraws consent.")] = False,
             birth_date: Annotated[dt.datetime | None, typer.Option(
                 formats=["%Y-%m-%d"], help="The child's birth date, if not known yet.")] = None,
             notice: Notice = None, jurisdiction: Jurisdiction = None, point: Point = CollectionPoint.CALL_CENTRE,
             key: Key = None, as_json: AsJson = False) -> None:
    """Record parental consent given or withdrawn by a guardian (GDPR Art. 8, COPPA, S3 §13)."""
    _record(as_json=as_json, key=key,
            kind=EventKind.PARENTAL_CONSENT_WITHDRAWN if withdraw_ else EventKind.PARENTAL_CONSENT_GIVEN,
            notice=notice, birth_date=birth_date.date() if birth_date else None,
            **_common(subject, jurisdiction, point, Actor.GUARDIAN, guardian, None))


@app.command("show")
def show(subject: Subject,
         ledger: Annotated[bool, typer.Option("--ledger", help="Also list every event.")] = False) -> None:
    """Print the subject's current state (what decisions read) as JSON."""
    with open_container() as container, _failing(), container.unit_of_work() as session:
        reference = subjects.parse_reference(subject)
        found = subjects.lookup(session=session, reference=reference)
        if found is None:
            fail(f"no subject with {subject}", EXIT_NOT_FOUND)
        state = service.subject_state(session=session, policy=container.policy, subject_id=found.id)
        body: dict[str, Any] = service.state_read(policy=container.policy, subject=found,
                                                  state=state).model_dump(mode="json")
        if ledger:
            body["ledger"] = [service.event_read(session=session, event=event).model_dump(mode="json")
                              for event in service.ledger(session=session, subject_id=found.id)]
    typer.echo(json.dumps(body, indent=2))


@app.command("receipt")
def receipt_command(event: Annotated[str, typer.Argument(help="Event id (uid).", show_default=False)]) -> None:
    """Print the ISO/IEC TS 27560 receipt of one ledger event."""
    with open_container() as container, _failing(), container.unit_of_work() as session:
        try:
            found = service.get_event(session=session, uid=event)
        except service.ConsentError as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        identity = service.event_read(session=session, event=found).identity
        body = receipt(policy=container.policy, event=found, identity_kind=identity)
    typer.echo(json.dumps(body, indent=2))


@app.command("rebuild")
def rebuild(check: Annotated[bool, typer.Option(
        "--check", help="Only compare; exit 1 if the projection differs from a replay of the ledger.")] = False,
            ) -> None:
    """Replay the whole ledger and compare with (or rewrite) the current-state projection."""
    with open_container() as container, container.unit_of_work() as session:
        report = service.rebuild(session=session, check=check)
        if report.rewritten:
            session.commit()
    summary = f"{report.events} events, {report.subjects} subjects, {report.rows} state rows"
    if report.consistent:
        typer.echo(f"projection matches the ledger: {summary}")
        return
    for subject_id, lines in report.differences.items():
        for line in lines:
            typer.echo(f"{subject_id}: {line}", err=check)
    if check:
        fail(f"projection differs from the ledger for {len(report.differences)} subject(s) ({summary}); "
             "run `pledge consent rebuild` to rewrite it")
    typer.echo(f"projection rewritten from the ledger for {len(report.differences)} subject(s): {summary}")
