"""The `pledge` command: one Typer app assembled from one module per command group."""

from __future__ import annotations

import typer

from pledge.cli import (
    apikey,
    consent,
    datamap,
    db,
    decide,
    decisions,
    demo,
    notice,
    policy,
    processor,
    request,
    serve,
    subject,
    suppression,
    worker,
)

app = typer.Typer(help="pledge: privacy notices made true in software.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.add_typer(policy.app, name="policy")
app.add_typer(notice.app, name="notice")
app.add_typer(db.app, name="db")
app.command("serve")(serve.serve)
app.add_typer(subject.app, name="subject")
app.add_typer(consent.app, name="consent")
app.command("decide")(decide.decide)
app.add_typer(decisions.app, name="decisions")
app.add_typer(suppression.app, name="suppression")
app.add_typer(apikey.app, name="apikey")
app.add_typer(datamap.app, name="datamap")
app.add_typer(demo.app, name="demo")
app.add_typer(request.app, name="request")
app.add_typer(processor.app, name="processor")
app.command("worker")(worker.worker)


if __name__ == "__main__":  # pragma: no cover
    app()
