"""`pledge db ...`: create or update pledge's own database schema."""

from __future__ import annotations

from typing import Annotated

import typer
from alembic.util.exc import CommandError
from sqlalchemy.exc import DBAPIError

from pledge.cli.common import database_error, display_url, fail, load_settings
from pledge.store import current_revision, head_revision, make_engine, new_revision, upgrade

app = typer.Typer(help="Manage pledge's own database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations to the database named by PLEDGE_DATABASE_URL (creating it if needed)."""
    url = load_settings().effective_database_url
    try:
        at = upgrade(url, revision)
    except DBAPIError as exc:
        fail(f"database {display_url(url)}: {database_error(exc)}")
    except (CommandError, ValueError) as exc:
        fail(str(exc))
    typer.echo(f"{display_url(url)}: at revision {at or 'none'}")


@app.command("current")
def current_command() -> None:
    """Show the revision the database is at and the newest this pledge ships."""
    url = load_settings().effective_database_url
    try:
        engine = make_engine(url)
    except ValueError as exc:
        fail(str(exc))
    try:
        at = current_revision(engine)
    except DBAPIError as exc:
        fail(f"database {display_url(url)}: {database_error(exc)}")
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if at == head else "run `pledge db upgrade`"
    typer.echo(f"{display_url(url)}: at revision {at or 'none'}, newest {head} ({state})")


@app.command("revision")
def revision_command(
    message: Annotated[str, typer.Argument(help="What the migration changes, e.g. 'consent ledger'.",
                                           show_default=False)],
) -> None:
    """For developers: write the next migration from the models (review it before committing)."""
    try:
        path = new_revision(message)
    except CommandError as exc:
        fail(str(exc))
    typer.echo(f"wrote {path}")
