"""The ASGI app: ``create_app(container)`` wires the privacy centre, the JSON API and error handling.

The container comes from ``pledge.bootstrap.bootstrap(settings)``; the app owns none of its parts,
so a test can hand in a container built on a temporary database and a fixture policy. At start-up
the app checks the database schema and publishes every notice that has no version yet, so the
archive is never empty.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pledge.bootstrap import Container
from pledge.jobs.queue import queue_from_settings
from pledge.jobs.worker import BackgroundWorker, Worker
from pledge.notices.service import PublishConflict
from pledge.rights.mail import mailer_from_settings
from pledge.store import current_revision, head_revision
from pledge.web.api.fast_path import ConsentWriteFastPath
from pledge.web.api.v1 import consent_writer
from pledge.web.center.context import publish_missing
from pledge.web.problems import install_error_handlers
from pledge.web.routes import include_routes

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


class DatabaseNotReady(RuntimeError):
    """The database is not at the schema this pledge needs."""


def make_templates() -> Jinja2Templates:
    """Autoescaping templates; ``url_for`` is the only way they build URLs."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return Jinja2Templates(env=env)


def prepare(container: Container) -> None:
    """Refuse an unmigrated database; publish the notices that have no version yet."""
    at, head = current_revision(container.engine), head_revision()
    if at != head:
        raise DatabaseNotReady(f"the database is at revision {at or 'none'}, this pledge needs {head}: "
                               "run `pledge db upgrade`")
    try:
        with container.unit_of_work() as session:
            published = publish_missing(policy=container.policy, session=session)
            session.commit()
    except PublishConflict:  # another server process published at the same moment: theirs stands
        return
    for notice_id in published:
        log.info("published the first version of notice %s", notice_id)


def embedded_worker(container: Container) -> BackgroundWorker:
    """A job worker on a thread of this server process: the embedded set-up needs no `pledge worker`."""
    queue = queue_from_settings(container.settings, container.session_factory)
    return BackgroundWorker(Worker(container=container, queue=queue, mailer=mailer_from_settings(container.settings)))


def freeze_long_lived_objects() -> None:
    """Move everything alive now out of the garbage collector's sight, once a server process has started.

    Why: a started server holds some 170,000 objects that live as long as the process (the compiled
    policy, SQLAlchemy's mappers, FastAPI's routes, the libraries' modules), and every full
    collection walked them all: about 0.15 s with the event loop stopped, a few times a minute
    under load, so a third of a consent write's CPU and most of its p99 latency went to the
    collector. Frozen objects are still freed by reference counting; only cycles among them are
    no longer looked for, and a server start-up makes none worth collecting. Servers only: a test
    process making many apps would keep their cycles for good.
    """
    gc.collect()
    gc.freeze()


def create_app(container: Container, *, background_jobs: bool = False, server: bool = False) -> FastAPI:
    """The web app for one wired pledge; with ``background_jobs`` it also runs queued jobs itself.

    ``server`` says the app is what this process serves until it exits (``pledge serve``, the
    benchmark's workers), so once started its long-lived objects are frozen (above).
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await to_thread.run_sync(prepare, container)
        if server:
            freeze_long_lived_objects()
        worker = embedded_worker(container) if background_jobs else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            await app.state.consent_writer.aclose()
            if worker is not None:
                await to_thread.run_sync(worker.stop)

    # pledge exports no OpenTelemetry; FastAPI's native telemetry would still look up the providers
    # (and the environment) on every request, a seventh of the CPU of a consent write's HTTP handling.
    app = FastAPI(title="pledge", summary="Privacy notices made true in software.", lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
                  docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json",
                  swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect")
    app.state.container = container
    app.state.consent_writer = consent_writer(container)
    app.state.consent_fast_path_writes = 0  # requests ConsentWriteFastPath answered (the rest took the route)
    app.state.templates = make_templates()
    install_error_handlers(app)
    app.add_middleware(ConsentWriteFastPath)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    include_routes(app)
    return app
