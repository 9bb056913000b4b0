"""`pledge notice ...`: list, render, publish and compare the privacy notices."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pledge.cli.common import EXIT_NOT_FOUND, fail, open_container
from pledge.notices import service
from pledge.notices.diff import NoticeDiff
from pledge.notices.errors import NoticeError, UnknownNotice
from pledge.notices.service import UnknownVersion

app = typer.Typer(help="List, render, publish and compare privacy notices.", no_args_is_help=True)


class NoticeFormat(StrEnum):
    MD = "md"
    HTML = "html"
    JSON = "json"


class DiffFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


NoticeId = Annotated[str, typer.Argument(help="Notice id, as in `pledge notice list`.", show_default=False)]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _table(*columns: str, whole: tuple[str, ...] = (), title: str | None = None) -> Table:
    """A table whose ``whole`` columns (ids, dates, hashes) never wrap; long words fold, never vanish."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, no_wrap=column in whole, overflow="fold")
    return table


def _notice_failure(exc: NoticeError) -> None:
    code = EXIT_NOT_FOUND if isinstance(exc, UnknownNotice | UnknownVersion) else 1
    fail(str(exc), code)


@app.command("list")
def list_notices() -> None:
    """The notices in the policy, with the version currently published."""
    with open_container() as container, container.unit_of_work() as session:
        table = _table("id", "title", "controller", "jurisdictions", "last updated", "published",
                       whole=("id", "last updated", "published"))
        for notice in container.policy.notices.values():
            current = service.current_version(session=session, notice_id=notice.id)
            table.add_row(notice.id, notice.title, notice.controller, ", ".join(notice.jurisdictions),
                          notice.last_updated.isoformat(), f"v{current.number}" if current else "-")
    _console().print(table)


@app.command("render")
def render(
    notice_id: NoticeId,
    output: Annotated[NoticeFormat, typer.Option("--format", help="md, html or json.")] = NoticeFormat.MD,
    jurisdiction: Annotated[str | None, typer.Option(
        help="Render for readers in this jurisdiction (e.g. EEA, DE, US-CA).")] = None,
) -> None:
    """Print the notice as the current policy states it (not yet published)."""
    from pledge.notices.render import render_notice

    with open_container(need_database=False) as container:
        if notice_id not in container.policy.notices:
            _notice_failure(UnknownNotice(notice_id, list(container.policy.notices)))
        try:
            text = render_notice(container.policy, notice_id, output.value, jurisdiction=jurisdiction)
        except (KeyError, ValueError) as exc:
            fail(f"cannot render {notice_id!r} for {jurisdiction or 'default'}: {exc}", EXIT_NOT_FOUND)
    typer.echo(text, nl=not text.endswith("\n"))


@app.command("publish")
def publish(notice_id: NoticeId) -> None:
    """Archive the notice as a new version, unless it is unchanged since the current one."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            before = service.current_version(session=session, notice_id=notice_id)
            version = service.publish_notice(session=session, policy=container.policy, notice_id=notice_id)
        except NoticeError as exc:
            _notice_failure(exc)
        session.commit()
    if before is not None and before.number == version.number:
        typer.echo(f"{notice_id}: unchanged, version {version.number} is current "
                   f"(sha256 {version.content_hash[:12]})")
    else:
        typer.echo(f"{notice_id}: published version {version.number} at {version.published_at:%Y-%m-%d %H:%M} "
                   f"UTC (sha256 {version.content_hash[:12]}, policy {version.policy_revision[:12]})")


@app.command("versions")
def versions(notice_id: NoticeId) -> None:
    """The published versions of a notice, oldest first."""
    with open_container() as container, container.unit_of_work() as session:
        found = service.list_versions(session=session, notice_id=notice_id)
        if not found and notice_id not in container.policy.notices:
            _notice_failure(UnknownNotice(notice_id, list(container.policy.notices)))
    if not found:
        typer.echo(f"{notice_id}: no published version yet; run `pledge notice publish {notice_id}`")
        return
    table = _table("version", "published (UTC)", "last updated", "content sha256", "policy revision", "",
                   whole=("version", "last updated", "content sha256", ""))
    for version in found:
        table.add_row(str(version.number), f"{version.published_at:%Y-%m-%d %H:%M:%S}",
                      str(version.snapshot.get("last_updated", "")), version.content_hash[:12],
                      version.policy_revision[:12], "current" if version is found[-1] else "")
    _console().print(table)


@app.command("diff")
def diff(
    notice_id: NoticeId,
    old: Annotated[int, typer.Argument(help="The earlier version number.", show_default=False)],
    new: Annotated[int, typer.Argument(help="The later version number.", show_default=False)],
    output: Annotated[DiffFormat, typer.Option("--format", help="text or json.")] = DiffFormat.TEXT,
) -> None:
    """What changed between two published versions, which changes are material, who must re-consent."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            result = service.diff_versions(session=session, notice_id=notice_id, old=old, new=new)
        except UnknownVersion as exc:
            if notice_id not in container.policy.notices and not service.list_versions(
                    session=session, notice_id=notice_id):
                _notice_failure(UnknownNotice(notice_id, list(container.policy.notices)))
            _notice_failure(exc)
    if output is DiffFormat.JSON:
        typer.echo(json.dumps({"notice": notice_id, "old": old, "new": new, **result.as_dict()}, indent=2))
        return
    _print_diff(notice_id, old, new, result)


def _print_diff(notice_id: str, old: int, new: int, result: NoticeDiff) -> None:
    console = _console()
    if not result.changes:
        console.print(f"{notice_id}: no changes between versions {old} and {new}")
        return
    table = _table("section", "change", "subject", "what changed", "material", whole=("section", "change"),
                   title=f"{notice_id}: v{old} -> v{new}")
    for change in result.changes:
        material = "yes: " + "; ".join(change.reasons) if change.material else "no"
        table.add_row(change.section.value, change.kind.value, change.subject, change.detail, material)
    console.print(table)
    if result.material:
        console.print(f"Material: yes, {len(result.material_changes)} change(s); tell people before they apply.")
    else:
        console.print("Material: no; revising the last-updated date is enough.")
    if result.reconsent_purposes:
        console.print(f"Re-consent needed for: {', '.join(result.reconsent_purposes)}")
    if result.new_consent_purposes:
        console.print(f"Consent needed before first use: {', '.join(result.new_consent_purposes)}")
