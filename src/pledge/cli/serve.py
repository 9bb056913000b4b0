"""`pledge serve`: the privacy centre and the JSON API, served by uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from pledge.cli.common import fail, open_container


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: critical, error, warning, info, debug.")] = "info",
    jobs: Annotated[bool, typer.Option("--jobs/--no-jobs", help=(
        "Run queued jobs (rights requests) on a thread of this process (of the first worker); use "
        "--no-jobs when `pledge worker` processes run them."))] = True,
    workers: Annotated[int, typer.Option(min=1, max=64, help=(
        "Server processes sharing the port (one core each), each with its own SO_REUSEPORT socket."))] = 1,
) -> None:
    """Serve the web app; publishes a first version of every notice that has none."""
    import uvicorn

    from pledge.web import create_app
    from pledge.web.server import access_log, serve_workers

    with open_container() as container:  # the policy and the database are checked once, here
        typer.echo(f"pledge: serving {len(container.policy.notices)} notice(s) on http://{host}:{port}/privacy"
                   + (f" with {workers} worker processes" if workers > 1 else ""))
        if workers == 1:
            uvicorn.run(create_app(container, background_jobs=jobs, server=True), host=host, port=port,
                        log_level=log_level, access_log=access_log(log_level))
            return
    try:  # the workers wire their own pledge: nothing of the parent's is shared
        code = serve_workers(host, port, workers=workers, background_jobs=jobs, log_level=log_level)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    raise typer.Exit(code)
