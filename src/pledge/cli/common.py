"""What every command group shares: one-line errors on stderr, and the wired container.

A command only parses, calls services and prints. Whatever goes wrong on the way (a broken
policy, a database that is not migrated or not reachable) ends as one line on stderr and an exit
code, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from pledge.bootstrap import Container, bootstrap
from pledge.policy import PolicyError
from pledge.settings import Settings, get_settings
from pledge.store import current_revision, head_revision

#: Exit code for input that names something that does not exist (a notice, a version).
EXIT_NOT_FOUND = 2


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and leave with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The settings from the environment, or a one-line error naming the bad variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "PLEDGE_" + "_".join(str(part) for part in first["loc"]).upper()
        fail(f"{name}: {first['msg']}")


def display_url(url: str) -> str:
    """A database URL fit to print: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def database_error(exc: DBAPIError) -> str:
    """The first line of what the database said."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return (text.strip().splitlines() or ["unknown database error"])[0]


@contextmanager
def open_container(*, need_database: bool = True) -> Iterator[Container]:
    """Bootstrap from the environment; with ``need_database``, insist the schema is migrated."""
    settings = load_settings()
    try:
        container = bootstrap(settings)
    except PolicyError as exc:
        errors = sum(1 for p in exc.problems if p.severity == "error")
        fail(f"the policy in {settings.policy_dir} has {errors} error(s); "
             f"run `pledge policy check {settings.policy_dir}`")
    except ValueError as exc:
        fail(str(exc))
    url = display_url(settings.effective_database_url)
    try:
        if need_database:
            at, head = current_revision(container.engine), head_revision()
            if at != head:
                fail(f"the database {url} is at revision {at or 'none'}, this pledge needs {head}; "
                     "run `pledge db upgrade`")
        yield container
    except DBAPIError as exc:
        fail(f"database {url}: {database_error(exc)}")
    finally:
        container.close()
