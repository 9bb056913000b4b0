"""`pledge apikey ...`: keys for the JSON API, with scopes; only a hash of each key is stored."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pledge.cli.common import EXIT_NOT_FOUND, fail, open_container
from pledge.web.api import keys

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@app.command("create")
def create(
    scope: Annotated[list[str], typer.Option("--scope", show_default=False, help=(
        "What the key may do (repeat): consent:write, consent:read, decide, requests:read, requests:write."))],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "api client",
) -> None:
    """Create a key and print it once; store it now, pledge keeps only its hash."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            row, plain = keys.create_key(session=session, name=name, scopes=scope)
        except keys.ApiKeyError as exc:
            fail(str(exc))
        session.commit()
    typer.echo(plain)
    typer.echo(f"key {row.key_id} ({', '.join(row.scopes)}) created; it is shown only this once", err=True)


@app.command("list")
def list_keys() -> None:
    """Every key: id, name, scopes, created, revoked."""
    with open_container() as container, container.unit_of_work() as session:
        rows = keys.list_keys(session=session)
        table = Table("key id", "name", "scopes", "created (UTC)", "revoked")
        for row in rows:
            table.add_row(row.key_id, row.name, " ".join(row.scopes), f"{row.created_at:%Y-%m-%d %H:%M}",
                          f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "")
    Console(highlight=False, soft_wrap=True).print(table)


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id from `pledge apikey list`.",
                                                 show_default=False)]) -> None:
    """Stop a key from working (servers notice within a few seconds)."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            keys.revoke_key(session=session, key_id=key_id)
        except keys.ApiKeyError as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        session.commit()
    typer.echo(f"key {key_id} revoked")
