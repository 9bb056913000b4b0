"""`pledge decisions ...`: audiences filtered inside the company's own database or warehouse."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress
from sqlalchemy.exc import ArgumentError, DBAPIError

from pledge.cli.common import database_error, display_url, fail, open_container
from pledge.consent.asks import check_ask
from pledge.consent.export import export_consent_state, warehouse_engine
from pledge.decisions.sql import DIALECTS, allowed_subjects_sql
from pledge.errors import DomainError

app = typer.Typer(help="Decisions as SQL for warehouses, and the consent-state export they read.",
                  no_args_is_help=True)


@app.command("sql")
def sql(
    purpose: Annotated[str, typer.Option(help="Purpose id (or notice/purpose).", show_default=False)],
    dialect: Annotated[str, typer.Option(help=f"SQL dialect: {', '.join(DIALECTS)}.")] = "postgresql",
    notice: Annotated[str | None, typer.Option(help="Notice of the purpose, when several notices have it.")] = None,
    service: Annotated[str | None, typer.Option(help="Or the service, which selects the notice.")] = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="Only these data categories (repeat the option).")] = None,
    recipient: Annotated[str | None, typer.Option(help="Disclosure to this recipient.")] = None,
    channel: Annotated[str | None, typer.Option(help="Marketing channel: post, email, phone, sms, push.")] = None,
    jurisdiction: Annotated[str | None, typer.Option(help="Only subjects decided under this residence.")] = None,
) -> None:
    """Print a SELECT of the subject ids allowed this purpose now, over the exported consent-state tables."""
    if dialect not in DIALECTS:
        fail(f"unknown dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    with open_container(need_database=False) as container:
        try:
            ask = check_ask(container.policy, purpose=purpose, notice=notice, service=service,
                            data_categories=category or (), recipient=recipient, channel=channel,
                            jurisdiction=jurisdiction)
        except DomainError as exc:
            fail(str(exc))
        text = allowed_subjects_sql(container.policy, ask.notice, ask.purpose, dialect,
                                    data_categories=ask.data_categories, recipient=ask.recipient,
                                    channel=ask.channel, jurisdiction=ask.jurisdiction)
    typer.echo(text.strip() + ";")


@app.command("export")
def export(
    url: Annotated[str, typer.Option(help="SQLAlchemy URL of the warehouse database to write to.",
                                     show_default=False)],
) -> None:
    """Replace pledge_subject_state and pledge_purpose_state in the target with the current consent state."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            target = warehouse_engine(url)
        except (ValueError, ArgumentError) as exc:  # an unsupported database, or a URL that is not one
            fail(str(exc))
        try:
            with Progress(transient=True) as bar:
                task = bar.add_task("exporting consent state", total=None)
                done = export_consent_state(session=session, target=target,
                                            progress=lambda n, total: bar.update(task, completed=n, total=total))
        except DBAPIError as exc:
            fail(f"database {display_url(url)}: {database_error(exc)}")
        finally:
            target.dispose()
    typer.echo(f"exported {done.subjects} subject(s) and {done.purpose_rows} purpose row(s) to {display_url(url)}")
