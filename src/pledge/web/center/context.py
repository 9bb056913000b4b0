"""The context of each privacy-centre page, built from the policy and the archive, without HTTP.

Each function returns one dictionary: the HTML pages lay it out, the JSON API returns it. URLs are
not built here; templates ask ``url_for`` for them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from pledge.notices import service
from pledge.notices.errors import UnknownNotice
from pledge.notices.models import NoticeVersion
from pledge.notices.render import (
    context_for_document,
    extract_article,
    long_date,
    notice_document,
    render_article,
)
from pledge.policy import CompiledPolicy


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def version_summary(version: NoticeVersion) -> dict[str, Any]:
    """One row of the archive: number, when, the content hash and the policy revision it came from."""
    snapshot = version.snapshot or {}
    last_updated = snapshot.get("last_updated")
    return {
        "number": version.number,
        "published_at": version.published_at.isoformat(),
        "published_at_text": _timestamp(version.published_at),
        "published_on": version.published_at.date().isoformat(),
        "content_hash": version.content_hash,
        "content_hash_short": version.content_hash[:12],
        "policy_revision": version.policy_revision,
        "policy_revision_short": version.policy_revision[:12],
        "last_updated": last_updated,
        "last_updated_text": long_date(last_updated) if last_updated else None,
        "title": snapshot.get("title"),
    }


def notice_summary(policy: CompiledPolicy, notice_id: str) -> dict[str, Any]:
    """What the list of notices says about one notice."""
    if notice_id not in policy.notices:
        raise UnknownNotice(notice_id, policy.notices)
    notice = policy.notices[notice_id]
    return {
        "id": notice.id,
        "title": notice.title,
        "summary": notice.summary,
        "last_updated": notice.last_updated.isoformat(),
        "last_updated_text": long_date(notice.last_updated.isoformat()),
        "services": list(notice.services),
        "jurisdictions": [{"id": code, "name": policy.jurisdictions[code].name if code in policy.jurisdictions
                           else code} for code in notice.jurisdictions],
    }


def index_context(*, policy: CompiledPolicy, session: Session) -> dict[str, Any]:
    """/privacy: every notice of the policy with its last-updated date and its published version."""
    notices = []
    for notice_id in policy.notices:
        summary = notice_summary(policy, notice_id)
        current = service.current_version(session=session, notice_id=notice_id)
        summary["published_version"] = None if current is None else current.number
        notices.append(summary)
    return {"organization": policy.policy.organization.name, "notices": notices}


def notice_context(*, policy: CompiledPolicy, notice_id: str, jurisdiction: str | None = None) -> dict[str, Any]:
    """/privacy/{notice}: the notice as the policy states it now, narrowed to a jurisdiction if asked."""
    document = notice_document(policy, notice_id, jurisdiction)
    summary = notice_summary(policy, notice_id)
    return {
        "notice": summary,
        "jurisdiction": document["jurisdiction"],
        "requested_jurisdiction": jurisdiction,
        "document": document,
    }


def notice_page(*, policy: CompiledPolicy, notice_id: str, jurisdiction: str | None = None) -> dict[str, Any]:
    """The notice page: ``notice_context`` plus the rendered article."""
    context = notice_context(policy=policy, notice_id=notice_id, jurisdiction=jurisdiction)
    context["article"] = render_article(context_for_document(context["document"]))
    return context


def _archived_title(policy: CompiledPolicy, notice_id: str, versions: list[NoticeVersion]) -> str:
    if notice_id in policy.notices:
        return policy.notices[notice_id].title
    title = (versions[-1].snapshot or {}).get("title") if versions else None
    return str(title or notice_id)


def versions_context(*, policy: CompiledPolicy, session: Session, notice_id: str) -> dict[str, Any]:
    """/privacy/{notice}/versions: every published version, newest first.

    A notice that left the policy keeps its archive; a notice that never existed is unknown.
    """
    versions = service.list_versions(session=session, notice_id=notice_id)
    if not versions and notice_id not in policy.notices:
        raise UnknownNotice(notice_id, policy.notices)
    return {
        "notice": {"id": notice_id, "title": _archived_title(policy, notice_id, versions),
                   "in_policy": notice_id in policy.notices},
        "versions": [version_summary(v) for v in reversed(versions)],
    }


def version_context(*, policy: CompiledPolicy, session: Session, notice_id: str, number: int) -> dict[str, Any]:
    """/privacy/{notice}/versions/{n}: one archived version exactly as published, and where it stands."""
    if notice_id not in policy.notices and not service.list_versions(session=session, notice_id=notice_id):
        raise UnknownNotice(notice_id, policy.notices)
    version = service.get_version(session=session, notice_id=notice_id, number=number)
    latest = service.current_version(session=session, notice_id=notice_id)
    latest_number = latest.number if latest is not None else version.number
    return {
        "notice": {"id": notice_id, "title": (version.snapshot or {}).get("title") or notice_id,
                   "in_policy": notice_id in policy.notices},
        "version": version_summary(version),
        "latest_number": latest_number,
        "is_latest": version.number == latest_number,
        "document": version.snapshot,
    }


def version_page(*, policy: CompiledPolicy, session: Session, notice_id: str, number: int) -> dict[str, Any]:
    """The archived version page: ``version_context`` plus the article cut from the stored HTML.

    The article is None when the stored page predates the article markers; the page then links to
    the original only.
    """
    context = version_context(policy=policy, session=session, notice_id=notice_id, number=number)
    context["article"] = extract_article(version_original(session=session, notice_id=notice_id, number=number))
    return context


def version_original(*, session: Session, notice_id: str, number: int) -> str:
    """The stored HTML page of a version, byte for byte what was published (its hash is the content hash)."""
    return service.get_version(session=session, notice_id=notice_id, number=number).html


def publish_missing(*, policy: CompiledPolicy, session: Session) -> list[str]:
    """Publish every notice that has no version yet, so the archive is never empty; returns their ids."""
    published = []
    for notice_id in policy.notices:
        if service.current_version(session=session, notice_id=notice_id) is None:
            service.publish_notice(session=session, policy=policy, notice_id=notice_id)
            published.append(notice_id)
    return published
