"""`pledge processor ...`: where processors take signed notifications, and the record of each one sent.

An endpoint names a processor of the policy (a recipient whose role is ``processor``), its https URL
and the NAME of the environment variable holding the HMAC secret; the secret itself is never given on
the command line, stored or printed. Every command calls ``pledge.rights.processors``.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pledge.cli.common import EXIT_NOT_FOUND, fail, open_container
from pledge.jobs.queue import queue_from_settings
from pledge.rights import processors
from pledge.rights.processor_models import ProcessorNotification
from pledge.rights.processors import IdentityFormat, NotificationState, ProcessorError

app = typer.Typer(help="Processors' webhook endpoints and the notifications sent to them.", no_args_is_help=True)

Recipient = Annotated[str, typer.Argument(help="A policy recipient whose role is processor, e.g. "
                                               "global.service_providers.", show_default=False)]


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@app.command("add")
def add(
    recipient: Recipient,
    url: Annotated[str, typer.Option(help="https URL the notifications are POSTed to.", show_default=False)],
    secret_env: Annotated[str, typer.Option(help="NAME of the environment variable holding the HMAC secret "
                                                 "(set it where workers run; never the secret itself).",
                                            show_default=False)],
    identities: Annotated[IdentityFormat, typer.Option(help="Send the person's identities as SHA-256 hashes "
                                                            "or in clear.")] = IdentityFormat.HASHED,
    active: Annotated[bool, typer.Option("--active/--inactive", help="Whether notifications go out.")] = True,
    replace: Annotated[bool, typer.Option("--replace", help="Change the processor's existing endpoint.")] = False,
) -> None:
    """Say where a processor takes notifications of completed erasures, restrictions, objections and opt-outs."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            endpoint = processors.add_endpoint(session=session, policy=container.policy, recipient=recipient,
                                               url=url, secret_env=secret_env, identities=identities, active=active,
                                               replace=replace)
        except ProcessorError as exc:
            fail(str(exc))
        session.commit()
        typer.echo(f"{endpoint.recipient_id}: {endpoint.url} (secret from ${endpoint.secret_env}, identities "
                   f"{endpoint.identities}, {'active' if endpoint.active else 'inactive'})")
        if not os.environ.get(endpoint.secret_env):
            typer.echo(f"note: {endpoint.secret_env} is not set here; set it wherever `pledge worker` runs",
                       err=True)


@app.command("list")
def list_endpoints() -> None:
    """Every processor the policy names, with its endpoint (or none) and whether its secret is set here."""
    with open_container() as container, container.unit_of_work() as session:
        policy = container.policy
        endpoints = {e.recipient_id: e for e in processors.list_endpoints(session=session)}
        table = Table("processor", "name", "url", "secret variable", "secret here", "identities", "active")
        names = sorted({r for r in policy.recipients if processors.is_processor(policy, r)} | set(endpoints))
        for name in names:
            recipient = policy.recipients.get(name)
            endpoint = endpoints.get(name)
            label = recipient.name if recipient else "(not in the policy)"
            if endpoint is None:
                table.add_row(name, label, "(no endpoint)", "", "", "", "")
                continue
            table.add_row(name, label, endpoint.url, endpoint.secret_env,
                          "set" if os.environ.get(endpoint.secret_env) else "missing", endpoint.identities,
                          "yes" if endpoint.active else "no")
    _console().print(table)


@app.command("remove")
def remove(recipient: Recipient) -> None:
    """Forget a processor's endpoint; its undelivered notifications are cancelled and kept on record."""
    with open_container() as container, container.unit_of_work() as session:
        try:
            cancelled = processors.remove_endpoint(session=session, recipient=recipient)
        except ProcessorError as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        session.commit()
    typer.echo(f"{recipient}: endpoint removed" + (f", {cancelled} undelivered notification(s) cancelled"
                                                   if cancelled else ""))


def _as_dict(notification: ProcessorNotification, reference: str) -> dict[str, Any]:
    return {
        "id": notification.uid, "request": reference, "processor": notification.recipient_id,
        "action": notification.action, "state": notification.state, "attempts": notification.attempts,
        "last_status": notification.last_status, "last_error": notification.last_error,
        "created_at": notification.created_at.isoformat(),
        "delivered_at": notification.delivered_at.isoformat() if notification.delivered_at else None,
        "categories": notification.payload.get("categories", []), "purposes": notification.payload.get("purposes", []),
        "body_sha256": notification.body_sha256,
        "attempt_log": [{"number": a.number, "at": a.attempted_at.isoformat(), "status": a.status_code,
                         "error": a.error, "delivered": a.delivered} for a in notification.attempt_log],
    }


@app.command("notifications")
def notifications(
    request: Annotated[str | None, typer.Option("--request", help="Only this request (its reference).")] = None,
    recipient: Annotated[str | None, typer.Option("--processor", help="Only this processor.")] = None,
    state: Annotated[NotificationState | None, typer.Option(help="Only notifications in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    attempts: Annotated[bool, typer.Option("--attempts", help="Show every attempt: time, HTTP status, error.")]
    = False,
    output: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.TEXT,
) -> None:
    """The record of notifications sent to processors: to whom, about which request, and how each try went."""
    with open_container() as container, container.unit_of_work() as session:
        rows = processors.list_notifications(session=session, reference=request, recipient=recipient,
                                             state=state.value if state else None, limit=limit)
        found = [_as_dict(n, reference) for n, reference in rows]
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(found, indent=2))
        return
    table = Table("id", "request", "processor", "action", "state", "attempts", "last status", "created (UTC)")
    for item in found:
        table.add_row(item["id"], item["request"], item["processor"], item["action"], item["state"],
                      str(item["attempts"]), str(item["last_status"] or item["last_error"] or ""),
                      item["created_at"][:16].replace("T", " "))
    console = _console()
    console.print(table)
    if attempts:
        for item in found:
            for attempt in item["attempt_log"]:
                outcome = "delivered" if attempt["delivered"] else attempt["error"]
                console.print(f"{item['id']} #{attempt['number']} {attempt['at'][:19].replace('T', ' ')} "
                              f"{attempt['status'] or '-'} {outcome}")


@app.command("resend")
def resend(uid: Annotated[str, typer.Argument(help="The notification id, e.g. PN-0123456789ABCDEF.",
                                              show_default=False)]) -> None:
    """Queue a failed or cancelled notification again, with the same id and payload."""
    with open_container() as container:
        queue = queue_from_settings(container.settings, container.session_factory)
        try:
            with container.unit_of_work() as session:
                try:
                    notification = processors.resend(session=session, uid=uid, queue=queue,
                                                     settings=container.settings.processors)
                except ProcessorError as exc:
                    fail(str(exc), EXIT_NOT_FOUND if "no processor notification" in str(exc) else 1)
                session.commit()
        finally:
            queue.close()
    typer.echo(f"{notification.uid} to {notification.recipient_id} queued again (job {notification.job_id})")
