"""Errors as RFC 9457 problem details for the JSON API, and as plain pages for people.

One set of exception handlers covers the whole app. Under ``/api`` every error is an
``application/problem+json`` body (``type``, ``title``, ``status``, ``detail``, ``instance`` and,
for invalid input, ``errors[]`` with the field path); elsewhere it is a short HTML page. Neither
ever shows a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from pledge.errors import DomainError
from pledge.notices.errors import NoticeError, UnknownNotice
from pledge.notices.service import UnknownVersion
from pledge.schemas import NUL, NUL_MESSAGE

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api"

#: Problem types of pledge's own errors (``about:blank`` is used for plain HTTP errors).
TYPE_UNKNOWN_NOTICE = "urn:pledge:problem:unknown-notice"
TYPE_UNKNOWN_VERSION = "urn:pledge:problem:unknown-version"
TYPE_NOTICE_ERROR = "urn:pledge:problem:notice"
TYPE_INVALID_REQUEST = "urn:pledge:problem:invalid-request"
TYPE_BUSY = "urn:pledge:problem:busy"


class ProblemError(Exception):
    """Raise from anywhere in a request to answer with this problem."""

    def __init__(self, status: int, detail: str | None = None, *, type_: str = "about:blank",
                 title: str | None = None, errors: Sequence[dict[str, Any]] = ()) -> None:
        self.status = status
        self.detail = detail
        self.type = type_
        self.title = title or HTTPStatus(status).phrase
        self.errors = list(errors)
        super().__init__(detail or self.title)


def problem_body(*, status: int, title: str, detail: str | None, type_: str = "about:blank",
                 instance: str | None = None, errors: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The members RFC 9457 defines, plus ``errors`` when the input was invalid."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    return body


def wants_problem_json(request: Request) -> bool:
    """The JSON API answers with problem details; pages answer with HTML."""
    path = request.url.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def _respond(request: Request, problem: ProblemError, headers: dict[str, str] | None = None) -> Response:
    if wants_problem_json(request):
        body = problem_body(status=problem.status, title=problem.title, detail=problem.detail, type_=problem.type,
                            instance=request.url.path, errors=problem.errors)
        return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)
    templates: Jinja2Templates = request.app.state.templates
    context = {"status": problem.status, "title": problem.title, "detail": problem.detail}
    return templates.TemplateResponse(request, "error.html", context, status_code=problem.status, headers=headers)


def _field_path(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _validation_problem(request: Request, exc: RequestValidationError) -> ProblemError:
    errors = [{"field": _field_path(error.get("loc", ())), "message": error.get("msg", "invalid"),
               "type": error.get("type", "invalid")} for error in exc.errors()]
    in_path = bool(errors) and all(e["field"].startswith("path.") for e in errors)
    if in_path and not wants_problem_json(request):
        # /privacy/x/versions/abc names no page: for a person that is "not found", not a form error.
        return ProblemError(404, "There is no such page.")
    return ProblemError(422, "The request has invalid or missing values; see errors.",
                        type_=TYPE_INVALID_REQUEST, errors=errors)


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return _respond(request, exc)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != HTTPStatus(exc.status_code).phrase else None
    if exc.status_code == 404 and detail is None:
        detail = "There is no such page." if not wants_problem_json(request) else f"No resource at {request.url.path}."
    return _respond(request, ProblemError(exc.status_code, detail), headers=getattr(exc, "headers", None))


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _respond(request, _validation_problem(request, exc))


async def _on_notice_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, UnknownNotice):
        problem = ProblemError(404, str(exc), type_=TYPE_UNKNOWN_NOTICE, title="Unknown notice")
    elif isinstance(exc, UnknownVersion):
        problem = ProblemError(404, str(exc), type_=TYPE_UNKNOWN_VERSION, title="Unknown notice version")
    else:
        problem = ProblemError(409, str(exc), type_=TYPE_NOTICE_ERROR)
    return _respond(request, problem)


async def _on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return _respond(request, ProblemError(exc.status, str(exc), type_=exc.type, title=exc.title,
                                          errors=exc.problem_errors()))


async def _on_database_busy(request: Request, exc: Exception) -> Response:
    """The database refused the work for now (locked, connection lost): the client may retry."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return _respond(request, ProblemError(503, "The database is busy; try again.", type_=TYPE_BUSY))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(request, ProblemError(500, "Something went wrong on our side. It has been logged."))


class RefuseNulInUrl:
    """ASGI middleware: a URL whose path or query carries a NUL character (``%00``) is refused at once.

    Why here, once: a NUL names nothing pledge has (no notice, subject, request or receipt), and
    PostgreSQL cannot compare text holding one, so every route that looks a path or query value up
    failed at the database with a 500 (SQLite just found nothing). A person gets "no such page",
    a client a 422 naming the part of the URL.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (NUL in scope["path"] or b"%00" in scope["query_string"]
                                        or b"\x00" in scope["query_string"]):
            request = Request(scope, receive)
            part = "path" if NUL in scope["path"] else "query"
            if wants_problem_json(request):
                problem = ProblemError(422, f"The URL's {part} {NUL_MESSAGE}.", type_=TYPE_INVALID_REQUEST,
                                       errors=[{"field": part, "message": NUL_MESSAGE, "type": "value_error"}])
            else:
                problem = ProblemError(404, "There is no such page.")
            await _respond(request, problem)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error of the app through the two renderings above."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(NoticeError, _on_notice_error)
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(OperationalError, _on_database_busy)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(RefuseNulInUrl)
