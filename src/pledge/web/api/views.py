"""JSON views of the notices and their archive: the same contexts the privacy-centre pages show."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.orm import Session

from pledge.bootstrap import Container
from pledge.web.center import context
from pledge.web.deps import get_container, get_session

router = APIRouter(prefix="/api", tags=["notices"])

ContainerDep = Annotated[Container, Depends(get_container)]
SessionDep = Annotated[Session, Depends(get_session)]
NoticeId = Annotated[str, Path(description="Notice id from the policy, e.g. smartapp.")]
VersionNumber = Annotated[int, Path(ge=1, description="Version number in the archive, from 1.")]
Jurisdiction = Annotated[str | None, Query(max_length=40, description="Residence code (US-CA, DE, TH).")]


@router.get("/notices", name="api_notices")
def api_notices(request: Request, container: ContainerDep, session: SessionDep) -> dict[str, Any]:
    """Every notice with its last-updated date and the version published now."""
    page = context.index_context(policy=container.policy, session=session)
    for notice in page["notices"]:
        notice["url"] = str(request.url_for("api_notice", notice_id=notice["id"]))
        notice["page_url"] = str(request.url_for("privacy_notice", notice_id=notice["id"]))
    return page


@router.get("/notices/{notice_id}", name="api_notice")
def api_notice(notice_id: NoticeId, container: ContainerDep, jurisdiction: Jurisdiction = None) -> dict[str, Any]:
    """The notice document (every reference resolved), narrowed to a jurisdiction if asked."""
    return context.notice_context(policy=container.policy, notice_id=notice_id, jurisdiction=jurisdiction or None)


@router.get("/notices/{notice_id}/versions", name="api_versions")
def api_versions(request: Request, notice_id: NoticeId, container: ContainerDep,
                 session: SessionDep) -> dict[str, Any]:
    """The archive of a notice, newest first."""
    page = context.versions_context(policy=container.policy, session=session, notice_id=notice_id)
    for version in page["versions"]:
        version["url"] = str(request.url_for("api_version", notice_id=notice_id, number=version["number"]))
    return page


@router.get("/notices/{notice_id}/versions/{number}", name="api_version")
def api_version(notice_id: NoticeId, number: VersionNumber, container: ContainerDep,
                session: SessionDep) -> dict[str, Any]:
    """One archived version: when, its hashes, and the notice document as published."""
    return context.version_context(policy=container.policy, session=session, notice_id=notice_id, number=number)
