"""Public privacy-centre pages: the notices, each notice, and its archive of published versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from pledge.bootstrap import Container
from pledge.web.center import context
from pledge.web.deps import get_container, get_session, get_templates

router = APIRouter(tags=["privacy centre"])

ContainerDep = Annotated[Container, Depends(get_container)]
SessionDep = Annotated[Session, Depends(get_session)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
NoticeId = Annotated[str, Path(description="Notice id from the policy, e.g. smartapp.")]
VersionNumber = Annotated[int, Path(ge=1, description="Version number in the archive, from 1.")]
Jurisdiction = Annotated[str | None, Query(max_length=40, description="Residence code (US-CA, DE, TH); "
                                           "narrows the notice to the jurisdiction that governs it.")]


@router.get("/", include_in_schema=False, name="home")
def home(request: Request) -> Response:
    return RedirectResponse(request.url_for("privacy_index"), status_code=307)


@router.get("/privacy", response_class=HTMLResponse, name="privacy_index")
def privacy_index(request: Request, container: ContainerDep, session: SessionDep,
                  templates: TemplatesDep) -> Response:
    """The notices of the policy, each with its last-updated date."""
    page = context.index_context(policy=container.policy, session=session)
    return templates.TemplateResponse(request, "center/index.html", page)


@router.get("/privacy/{notice_id}", response_class=HTMLResponse, name="privacy_notice")
def privacy_notice(request: Request, notice_id: NoticeId, container: ContainerDep, templates: TemplatesDep,
                   jurisdiction: Jurisdiction = None) -> Response:
    """The notice as the policy states it now."""
    page = context.notice_page(policy=container.policy, notice_id=notice_id, jurisdiction=jurisdiction or None)
    return templates.TemplateResponse(request, "center/notice.html", page)


@router.get("/privacy/{notice_id}/versions", response_class=HTMLResponse, name="privacy_versions")
def privacy_versions(request: Request, notice_id: NoticeId, container: ContainerDep, session: SessionDep,
                     templates: TemplatesDep) -> Response:
    """The archive: every published version of the notice."""
    page = context.versions_context(policy=container.policy, session=session, notice_id=notice_id)
    return templates.TemplateResponse(request, "center/versions.html", page)


@router.get("/privacy/{notice_id}/versions/{number}", response_class=HTMLResponse, name="privacy_version")
def privacy_version(request: Request, notice_id: NoticeId, number: VersionNumber, container: ContainerDep,
                    session: SessionDep, templates: TemplatesDep) -> Response:
    """One archived version, as it was published."""
    page = context.version_page(policy=container.policy, session=session, notice_id=notice_id, number=number)
    return templates.TemplateResponse(request, "center/version.html", page)


@router.get("/privacy/{notice_id}/versions/{number}/original", response_class=HTMLResponse,
            name="privacy_version_original")
def privacy_version_original(notice_id: NoticeId, number: VersionNumber, container: ContainerDep,
                             session: SessionDep) -> Response:
    """The stored page byte for byte; its SHA-256 is the version's content hash."""
    if notice_id not in container.policy.notices:
        context.versions_context(policy=container.policy, session=session, notice_id=notice_id)
    html = context.version_original(session=session, notice_id=notice_id, number=number)
    return HTMLResponse(html)
