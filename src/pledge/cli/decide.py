"""`pledge decide`: may this purpose go ahead for this person? Prints the decision as JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pledge.cli.common import fail, open_container
from pledge.consent import asks
from pledge.errors import DomainError


def decide(
    subject: Annotated[str, typer.Option("--subject", show_default=False, help=(
        "Any identity: email, +phone, customer number, kind:value, or subject:<id>. An identity pledge has "
        "not seen creates the subject, with --jurisdiction as residence."))],
    purpose: Annotated[str, typer.Option(help="Purpose id from the policy.", show_default=False)],
    jurisdiction: Annotated[str | None, typer.Option(
        help="Decide under this residence (ISO 3166: DE, GB, US-CA) instead of the subject's.")] = None,
    notice: Annotated[str | None, typer.Option(help="Notice of the purpose, when several notices have it.")] = None,
    service: Annotated[str | None, typer.Option(help="Or the service, which selects the notice.")] = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="Only these data categories (repeat the option).")] = None,
    recipient: Annotated[str | None, typer.Option(help="Disclosure to this recipient.")] = None,
    channel: Annotated[str | None, typer.Option(help="Marketing channel: post, email, phone, sms, push.")] = None,
) -> None:
    """Print `allowed`, `legal_basis` and `reasons` (each with its rule and source) as JSON."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            ask = asks.check_ask(container.policy, purpose=purpose, notice=notice, service=service,
                                 data_categories=category or (), recipient=recipient, channel=channel,
                                 jurisdiction=jurisdiction)
            found, decision = asks.decide_for(session=session, policy=container.policy, subject=subject, ask=ask,
                                              create=True)
        except DomainError as exc:
            fail(str(exc))
        session.commit()
    body = {**decision.as_dict(), "subject_id": found.id if found else None}
    typer.echo(json.dumps(body, indent=2))
