"""`pledge serve`: the privacy centre and the JSON API, served by uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from pledge.cli.common import open_container


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: critical, error, warning, info, debug.")] = "info",
    jobs: Annotated[bool, typer.Option("--jobs/--no-jobs", help=(
        "Run queued jobs (rights requests) on a thread of this process; use --no-jobs when "
        "`pledge worker` processes run them."))] = True,
) -> None:
    """Serve the web app; publishes a first version of every notice that has none."""
    import uvicorn

    from pledge.web import create_app

    with open_container() as container:
        typer.echo(f"pledge: serving {len(container.policy.notices)} notice(s) on http://{host}:{port}/privacy")
        uvicorn.run(create_app(container, background_jobs=jobs, server=True), host=host, port=port, log_level=log_level)
