"""`pledge worker`: run background jobs (rights request execution, package building) from the queue."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from pledge.cli.common import open_container
from pledge.jobs.queue import queue_from_settings
from pledge.jobs.worker import Worker
from pledge.rights.mail import mailer_from_settings


def worker(
    burst: Annotated[bool, typer.Option("--burst", help="Stop once no job is due, instead of waiting.")] = False,
    max_jobs: Annotated[int | None, typer.Option("--max-jobs", min=1, help="Stop after this many jobs.")] = None,
    worker_id: Annotated[str | None, typer.Option("--id", help="Name of this worker in the job table.")] = None,
) -> None:
    """Take jobs from the queue (PLEDGE_JOBS_BACKEND: sql or redis) and run them; stop on Ctrl-C or SIGTERM."""
    with open_container() as container:
        queue = queue_from_settings(container.settings, container.session_factory)
        runner = Worker(container=container, queue=queue, mailer=mailer_from_settings(container.settings),
                        worker_id=worker_id)
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        typer.echo(f"worker {runner.worker_id} taking jobs from the {container.settings.jobs.backend} queue", err=True)
        try:
            ran = runner.run(burst=burst, max_jobs=max_jobs, stop=stop)
        finally:
            queue.close()
    typer.echo(f"worker {runner.worker_id}: {ran} job(s) run")
