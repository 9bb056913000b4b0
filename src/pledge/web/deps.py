"""What a route may ask for: the wired container, a session in its own unit of work, the templates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from pledge.bootstrap import Container
from pledge.store import unit_of_work


def get_container(request: Request) -> Container:
    return cast(Container, request.app.state.container)


def get_session(request: Request) -> Iterator[Session]:
    """A session for this request; read-only routes never commit, so it is rolled back at the end."""
    with unit_of_work(get_container(request).session_factory) as session:
        yield session


def get_templates(request: Request) -> Jinja2Templates:
    return cast(Jinja2Templates, request.app.state.templates)
