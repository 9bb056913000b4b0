"""Every router of the web app, assembled in one place.

Routes will be authenticated by default once the admin console arrives; the routers listed in
``PUBLIC_ROUTERS`` are public on purpose: the privacy centre, the notices API and the health check.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from pledge.rights import views as rights_views
from pledge.web import health
from pledge.web.api import v1 as api_v1
from pledge.web.api import views as api_views
from pledge.web.center import views as center_views

PUBLIC_ROUTERS: tuple[APIRouter, ...] = (center_views.router, api_views.router, health.router)


def include_routes(app: FastAPI) -> None:
    # /api/v1 first: every route needs an API key with its scope. A request is matched against the
    # routes in order, and the consent ledger's writes (the busiest route) should not try the others.
    app.include_router(api_v1.router)
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    # /api/v1/requests: public intake, code and signed-link routes; staff routes need requests:* scopes
    app.include_router(rights_views.router)
