"""A shorter way through the web stack for the ledger's hot route, ``POST /api/v1/consent-events``.

Why: at the issue's 1,500 writes a second the two server processes are most of the machine, and
FastAPI's share of a write (its middleware layers, routing through nested routers, dependency
solving, body parsing) was about 80 of the ~600 microseconds of CPU a write costs (an in-process
loop with a stub writer: 120-130 µs a request through FastAPI, 40-45 µs here).

This ASGI middleware takes the common case straight to the route's own work
(``v1.recorded_response``): a key already in the key cache that grants ``consent:write``, and a
JSON body that validates as a ``ConsentEventCreate``. Everything else goes on to the route, which
stays the documented one (OpenAPI) and the one every other request takes: no key or a key not
cached yet (the route looks it up), a body that does not validate (handed over again, so the 422 is
the route's own). An error of the write itself is rendered by the app's own exception handlers.
``tests/web/api/test_fast_path.py`` checks that the two ways answer alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pledge.consent.schemas import ConsentEventCreate
from pledge.web.api import keys, v1
from pledge.web.api.keys import Scope as KeyScope

PATH = v1.PREFIX + "/consent-events"


class ConsentWriteFastPath:
    """ASGI middleware: ``POST /api/v1/consent-events`` with a cached key and a valid body, without FastAPI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = v1.api_key(headers)
        caller = keys.cached(key) if key else None
        if (caller is None or KeyScope.CONSENT_WRITE.value not in caller.scopes
                or headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/json"):
            await self.app(scope, receive, send)  # the route authenticates, refuses or parses as it does
            return
        body = await _body(receive)
        if body is None:  # the client left before sending its body
            return
        try:
            event_in = ConsentEventCreate.model_validate_json(body)
        except ValidationError:
            await self.app(scope, _again(body, receive), send)  # the route's own 422
            return
        app = scope["app"]
        try:
            response = await v1.recorded_response(app.state.consent_writer, event_in, headers, scope.get("client"))
        except Exception as exc:
            response = await _rendered(app.exception_handlers, Request(scope, receive), exc)
        app.state.consent_fast_path_writes += 1
        await response(scope, receive, send)


async def _body(receive: Receive) -> bytes | None:
    """The request's body; None when the client disconnected first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _again(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the body over once more, then waits as the original does."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _rendered(handlers: dict[Any, Callable[[Request, Exception], Awaitable[Any]]], request: Request,
                    exc: Exception) -> Any:
    """The response the app's exception handler for ``exc`` gives; an unexpected error is raised on to
    the server-error layer, which logs it and answers the plain 500 as for any route."""
    for kind in type(exc).__mro__:
        if kind is Exception:
            break
        handler = handlers.get(kind)
        if handler is not None:
            return await handler(request, exc)
    raise exc
