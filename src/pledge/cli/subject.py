"""`pledge subject ...`: register people, link identities (a browser id at login), show who someone is."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from pledge.cli.common import EXIT_NOT_FOUND, fail, open_container
from pledge.consent import service as consent
from pledge.subjects import service
from pledge.subjects.identities import Identity
from pledge.subjects.schemas import IdentityCreate, SubjectCreate

app = typer.Typer(help="Register data subjects, link their identities, show them.", no_args_is_help=True)

SubjectRef = Annotated[str, typer.Argument(help="Any identity (email, +phone, customer number, kind:value) "
                                                "or subject:<id>.", show_default=False)]
BirthDate = Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Birth date, YYYY-MM-DD.")]


def _identity(text: str, residence: str | None = None) -> Identity:
    reference = service.parse_reference(text, residence=residence)
    if not isinstance(reference, Identity):
        fail(f"{text!r} names a subject, not an identity")
    return reference


@app.command("create")
def create(
    identity: Annotated[list[str], typer.Option("--identity", help="kind:value, or an email/+phone (repeat).",
                                                show_default=False)],
    residence: Annotated[str | None, typer.Option(help="ISO 3166 residence: DE, GB, US-CA ...")] = None,
    birth_date: BirthDate = None,
    age_band: Annotated[str | None, typer.Option(help="13-15, 18+ or under-13, when no birth date.")] = None,
) -> None:
    """Register a person with one or more identities."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            parsed = [_identity(text, residence) for text in identity]
            subject = service.create_subject(session=session, policy=container.policy, subject_in=SubjectCreate(
                residence=residence, birth_date=birth_date.date() if birth_date else None, age_band=age_band,
                identities=[IdentityCreate(kind=i.kind, value=i.value) for i in parsed]))
        except service.SubjectError as exc:
            fail(str(exc))
        session.commit()
    typer.echo(f"created subject {subject.id}")


@app.command("show")
def show(subject: SubjectRef) -> None:
    """Print the subject, their identities and jurisdiction as JSON."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            found = service.lookup(session=session, reference=service.parse_reference(subject))
        except service.UnknownSubject as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        except service.SubjectError as exc:
            fail(str(exc))
        if found is None:
            fail(f"no subject with {subject}", EXIT_NOT_FOUND)
        body = service.to_read(session=session, policy=container.policy, subject=found).model_dump(mode="json")
    typer.echo(json.dumps(body, indent=2))


@app.command("link")
def link(subject: SubjectRef,
         identity: Annotated[str, typer.Option("--identity", help="The identity to attach, e.g. browser:<id>.",
                                               show_default=False)]) -> None:
    """Attach an identity; an anonymous browser's subject is merged in and its consent history kept."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            found = service.lookup(session=session, reference=service.parse_reference(subject))
            if found is None:
                fail(f"no subject with {subject}", EXIT_NOT_FOUND)
            survivor, merged = consent.link_identity(session=session, policy=container.policy, subject_id=found.id,
                                                     identity=_identity(identity))
        except service.UnknownSubject as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        except service.SubjectError as exc:
            fail(str(exc))
        session.commit()
    extra = f"; merged subject {merged.id} and its consent history" if merged else ""
    typer.echo(f"linked {identity} to subject {survivor.id}{extra}")


@app.command("set")
def set_(subject: SubjectRef,
         residence: Annotated[str | None, typer.Option(help="ISO 3166 residence: DE, GB, US-CA ...")] = None,
         birth_date: BirthDate = None,
         age_band: Annotated[str | None, typer.Option(help="13-15, 18+ or under-13.")] = None) -> None:
    """Record a residence or age the person told us."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            found = service.lookup(session=session, reference=service.parse_reference(subject))
            if found is None:
                fail(f"no subject with {subject}", EXIT_NOT_FOUND)
            service.update_subject(session=session, policy=container.policy, subject=found, residence=residence,
                                   birth_date=birth_date.date() if birth_date else None, age_band=age_band)
        except service.UnknownSubject as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        except service.SubjectError as exc:
            fail(str(exc))
        session.commit()
    typer.echo(f"updated subject {found.id}")
