"""The `pledge` command: one Typer app assembled from one module per command group."""

from __future__ import annotations

import typer

from pledge.cli import db, notice, policy, serve

app = typer.Typer(help="pledge: privacy notices made true in software.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.add_typer(policy.app, name="policy")
app.add_typer(notice.app, name="notice")
app.add_typer(db.app, name="db")
app.command("serve")(serve.serve)


if __name__ == "__main__":  # pragma: no cover
    app()
