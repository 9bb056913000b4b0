"""`pledge suppression export`: the opt-out list vendors get (S0), as hashed emails; recorded as a disclosure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pledge.cli.common import fail, open_container
from pledge.consent import asks
from pledge.consent.suppression import export_suppression
from pledge.errors import DomainError

app = typer.Typer(help="Suppression lists for vendors.", no_args_is_help=True)


@app.command("export")
def export(
    purpose: Annotated[str, typer.Option(help="Purpose the vendor works for.", show_default=False)],
    notice: Annotated[str | None, typer.Option(help="Notice of the purpose, when several have it.")] = None,
    service: Annotated[str | None, typer.Option(help="Or the service, which selects the notice.")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this marketing channel (email, sms ...).")] = None,
    recipient: Annotated[str, typer.Option(help="Who receives the list (recorded in the disclosure).")] = "vendors",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the CSV here (default: stdout).")]
    = None,
) -> None:
    """CSV of SHA-256 of the normalised email of everyone not allowed for the purpose."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            ask = asks.check_ask(container.policy, purpose=purpose, notice=notice, service=service, channel=channel)
            result = export_suppression(session=session, policy=container.policy, ask=ask, recipient=recipient)
        except DomainError as exc:
            fail(str(exc))
        if output is not None:
            try:
                output.write_text(result.csv)
            except OSError as exc:
                fail(f"cannot write {output}: {exc.strerror}")
        session.commit()
    if output is None:
        typer.echo(result.csv, nl=False)
    typer.echo(f"{result.count} hashed email(s) of {result.subjects_considered} subject(s) with an email; "
               f"disclosure {result.disclosure.id} recorded to {recipient}", err=True)
