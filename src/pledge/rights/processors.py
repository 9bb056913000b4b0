"""Telling processors what to delete or stop: signed webhooks, retried, every attempt recorded.

When an erasure, a restriction (or its lifting), an objection, an opt-out, a limit on sensitive data or
a withdrawal of consent is completed, each processor (a policy recipient whose role is ``processor``)
that received data the request touches is told what to delete or stop (GDPR Art. 17(2) and 19;
Art. 28(3)(a); Cal. Civ. Code § 1798.105(c)(1), 11 CCR §§ 7022(b)(3) and 7026(f)).

Who is told comes from the policy alone: a notice's ``disclosures`` and its purposes' ``recipients``
say which recipient receives which categories for which purposes. A disclosure that names purposes
covers their categories; one that names only categories covers the notice's purposes that use them;
one that names neither covers the whole notice. Only the notices that speak to the request's
jurisdiction count. An erasure touches the categories it erased; the other requests touch purposes.

What a processor is told is never more than it already received: the categories and purposes are
the intersection of what the request touches and what the processor received, and the person's
identities are sent only in kinds a received category carries (an email address only to a processor
that received contact data), SHA-256 hashed or in clear as its endpoint says.

Delivery: a JSON body POSTed to the processor's endpoint, signed with HMAC-SHA256 over
``<timestamp>.<body>`` with a secret read from the environment variable the endpoint names, sent as
``Pledge-Signature: t=<timestamp>,v1=<hex>``. Each notification is a job on the durable queue; a
failure is retried with exponential back-off up to ``PLEDGE_PROCESSORS_MAX_ATTEMPTS`` and every
attempt is recorded with its time, HTTP status and error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import os
import re
import secrets
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from pledge.errors import DomainError
from pledge.jobs.queue import JobQueue
from pledge.jobs.worker import JobContext, Retry, task
from pledge.policy import CompiledPolicy
from pledge.policy.models import LegalBasis, Notice, RecipientRole
from pledge.rights.models import RightsRequest
from pledge.rights.processor_models import ProcessorEndpoint, ProcessorNotification, ProcessorNotificationAttempt
from pledge.rights.schemas import RequestType
from pledge.rights.state import RequestState, note
from pledge.settings import ProcessorSettings
from pledge.store import unit_of_work, utcnow
from pledge.subjects.models import SubjectIdentity as StoredIdentity

log = logging.getLogger(__name__)

NOTIFY_JOB = "rights.notify_processor"
SIGNATURE_HEADER = "Pledge-Signature"
PAYLOAD_TYPE = "pledge.processor_notification"
PAYLOAD_VERSION = 1
#: A receiver should refuse a signature older (or newer) than this, in seconds; ``verify_signature``'s default.
SIGNATURE_TOLERANCE = 300
NOTE_KIND = "processors_notified"
PurposeKey = tuple[str, str]


class Action(StrEnum):
    """What a processor is asked to do."""

    DELETE = "delete"
    RESTRICT = "restrict"
    LIFT_RESTRICTION = "lift_restriction"
    STOP = "stop"


class NotificationState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class IdentityFormat(StrEnum):
    HASHED = "hashed"
    CLEAR = "clear"


#: The request types processors are told about, and what they are asked to do.
ACTIONS: Mapping[RequestType, Action] = {
    RequestType.DELETION: Action.DELETE,
    RequestType.RESTRICTION: Action.RESTRICT,
    RequestType.LIFT_RESTRICTION: Action.LIFT_RESTRICTION,
    RequestType.OBJECTION: Action.STOP,
    RequestType.OPT_OUT_SALE_SHARE: Action.STOP,
    RequestType.OPT_OUT_TARGETED_ADVERTISING: Action.STOP,
    RequestType.OPT_OUT_PROFILING: Action.STOP,
    RequestType.LIMIT_SENSITIVE: Action.STOP,
    RequestType.WITHDRAW_CONSENT: Action.STOP,
}

#: Why the processor is told, beside the jurisdiction's own rule for the right (which the policy cites).
NOTIFY_SOURCES: Mapping[Action, str] = {
    Action.DELETE: "GDPR Art. 17(2), Art. 19; Cal. Civ. Code § 1798.105(c)(1); 11 CCR § 7022(b)(3)",
    Action.RESTRICT: "GDPR Art. 19",
    Action.LIFT_RESTRICTION: "GDPR Art. 18(3), Art. 19",
    Action.STOP: "GDPR Art. 19, Art. 28(3)(a); 11 CCR § 7026(f)",
}

INSTRUCTIONS: Mapping[Action, str] = {
    Action.DELETE: "Delete the personal data of these categories about this person from your records, and have "
                   "your sub-processors do the same.",
    Action.RESTRICT: "Restrict the processing of this person's data for these purposes: store it, do not use it, "
                     "until told the restriction is lifted.",
    Action.LIFT_RESTRICTION: "The restriction on this person's data is lifted: processing for these purposes may "
                             "resume.",
    Action.STOP: "Stop processing this person's data for these purposes, and have your sub-processors do the same.",
}

#: Fideslang names that hold each identity kind: a category carries the identity when one of its
#: ``fides_categories`` is the name or a parent of it (``user.contact`` carries ``user.contact.email``).
IDENTITY_FIDES: Mapping[str, tuple[str, ...]] = {
    "email": ("user.contact.email",),
    "phone": ("user.contact.phone_number",),
    "customer_number": ("user.unique_id", "user.account"),
    "device_id": ("user.device.device_id", "user.device.device_identifier"),
    "browser_id": ("user.device.cookie_id", "user.device.cookie"),
    "lumix_pro_membership": ("user.unique_id",),
}

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MIN_SECRET_BYTES = 16


class ProcessorError(DomainError):
    """An endpoint or a notification that cannot be set up or changed as asked; nothing was written."""

    title = "Invalid processor endpoint"
    type = "urn:pledge:problem:invalid-processor-endpoint"


# --- what the policy says each processor received --------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """What one processor received under the notices that speak to a jurisdiction."""

    recipient: str
    purposes: frozenset[PurposeKey]
    categories: frozenset[str]


def notices_for(policy: CompiledPolicy, jurisdiction: str) -> list[Notice]:
    """The notices that speak to the jurisdiction (all of them when none does)."""
    found = [n for n in policy.notices.values() if jurisdiction in n.jurisdictions]
    return found or list(policy.notices.values())


def is_processor(policy: CompiledPolicy, recipient_id: str) -> bool:
    recipient = policy.recipients.get(recipient_id)
    return recipient is not None and recipient.role is RecipientRole.PROCESSOR


def received_by_processors(policy: CompiledPolicy, jurisdiction: str) -> dict[str, Received]:
    """Per processor, the purposes and categories the notices of the jurisdiction disclose to it."""
    purposes: dict[str, set[PurposeKey]] = {}
    categories: dict[str, set[str]] = {}

    def add(recipient: str, keys: Iterable[PurposeKey], cats: Iterable[str]) -> None:
        purposes.setdefault(recipient, set()).update(keys)
        categories.setdefault(recipient, set()).update(cats)

    for notice in notices_for(policy, jurisdiction):
        for purpose in notice.purposes:
            for recipient in purpose.recipients:
                if is_processor(policy, recipient):
                    add(recipient, [(notice.id, purpose.id)], purpose.categories)
        for disclosure in notice.disclosures:
            if not is_processor(policy, disclosure.recipient):
                continue
            if disclosure.purposes:
                keys = [(notice.id, p) for p in disclosure.purposes]
                cats = set(disclosure.categories) or {c for k in keys if k in policy.purposes
                                                      for c in policy.purposes[k].categories}
            elif disclosure.categories:
                keys = [(notice.id, p.id) for p in notice.purposes if set(p.categories) & set(disclosure.categories)]
                cats = set(disclosure.categories)
            else:  # names neither: the notice discloses everything it covers to this recipient
                keys = [(notice.id, p.id) for p in notice.purposes]
                cats = set(notice.data_categories)
            add(disclosure.recipient, keys, cats)
    return {r: Received(r, frozenset(purposes[r]), frozenset(categories[r])) for r in sorted(purposes)}


# --- what a request touches -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Affected:
    """What a completed request touches: the categories of an erasure, the purposes of the others."""

    action: Action
    purposes: frozenset[PurposeKey]
    categories: frozenset[str] | None = None  # None: every category of the purposes


def _split_purpose(text: str) -> tuple[str | None, str]:
    notice, sep, purpose = text.strip().partition("/")
    return (notice, purpose) if sep else (None, notice)


def affected_by(policy: CompiledPolicy, *, request_type: RequestType, jurisdiction: str,
                details: Mapping[str, Any] | None = None,
                erased_categories: Sequence[str] | None = None) -> Affected | None:
    """What the request touches, from the policy; None for a type processors are not told about."""
    action = ACTIONS.get(request_type)
    if action is None:
        return None
    notices = notices_for(policy, jurisdiction)
    every = [(n, p) for n in notices for p in n.purposes]
    named = [_split_purpose(str(text)) for text in (details or {}).get("purposes", [])]
    chosen = [(n.id, p.id) for n, p in every
              if any(p.id == purpose and notice in (None, n.id) for notice, purpose in named)]
    if request_type is RequestType.DELETION:
        everything = {c for n in notices for c in n.data_categories}
        cats = everything if erased_categories is None else set(erased_categories)
        return Affected(action, frozenset((n.id, p.id) for n, p in every), frozenset(cats))
    if request_type in (RequestType.RESTRICTION, RequestType.LIFT_RESTRICTION):
        keys = [(n.id, p.id) for n, p in every if not p.restriction_exempt]
    elif request_type is RequestType.OBJECTION:
        keys = chosen if named else [(n.id, p.id) for n, p in every if p.direct_marketing or p.marketing_channels]
    elif request_type is RequestType.WITHDRAW_CONSENT:
        keys = chosen if named else [(n.id, p.id) for n, p in every
                                     if policy.basis(n.id, p.id, jurisdiction) is LegalBasis.CONSENT]
    elif request_type is RequestType.OPT_OUT_SALE_SHARE:
        keys = [(n.id, p.id) for n, p in every if p.sale or p.share]
    elif request_type is RequestType.OPT_OUT_TARGETED_ADVERTISING:
        keys = [(n.id, p.id) for n, p in every if p.targeted_advertising]
    elif request_type is RequestType.OPT_OUT_PROFILING:
        keys = [(n.id, p.id) for n, p in every if p.profiling or p.automated_decision]
    else:  # limit the use of sensitive data: the sensitive categories, for the uses that are not exempt
        sensitive = {c for c, category in policy.data_categories.items() if category.sensitive}
        keys = [(n.id, p.id) for n, p in every if sensitive & set(p.categories) and not p.limit_sensitive_exempt]
        return Affected(action, frozenset(keys), frozenset(sensitive))
    return Affected(action, frozenset(keys))


# --- who is told what -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessorToTell:
    """One processor and what it is told: only what it received and the request touches."""

    recipient: str
    name: str
    action: Action
    purposes: tuple[str, ...]  # notice/purpose
    categories: tuple[str, ...]
    identity_kinds: frozenset[str]  # identity kinds the categories it received carry


def carries(policy: CompiledPolicy, categories: Iterable[str], kind: str) -> bool:
    """Whether data of these categories holds an identity of this kind (through their fideslang names)."""
    wanted = IDENTITY_FIDES.get(kind, ())
    for category_id in categories:
        category = policy.data_categories.get(category_id)
        for name in category.fides_categories if category else ():
            if any(w == name or w.startswith(name + ".") for w in wanted):
                return True
    return False


def processors_to_tell(policy: CompiledPolicy, *, request_type: RequestType, jurisdiction: str,
                       details: Mapping[str, Any] | None = None,
                       erased_categories: Sequence[str] | None = None) -> list[ProcessorToTell]:
    """The processors a completed request must be told about, each with what it is told (pure: no I/O)."""
    affected = affected_by(policy, request_type=request_type, jurisdiction=jurisdiction, details=details,
                           erased_categories=erased_categories)
    if affected is None:
        return []
    told = []
    for recipient, received in received_by_processors(policy, jurisdiction).items():
        purposes = received.purposes & affected.purposes
        if affected.action is Action.DELETE:
            assert affected.categories is not None
            categories = received.categories & affected.categories
            purposes = frozenset(k for k in purposes if k in policy.purposes
                                 and categories & set(policy.purposes[k].categories))
        else:
            used = {c for key in purposes if key in policy.purposes for c in policy.purposes[key].categories}
            categories = received.categories & used
            if affected.categories is not None:
                categories &= affected.categories
        if not categories:
            continue
        kinds = frozenset(kind for kind in IDENTITY_FIDES if carries(policy, received.categories, kind))
        told.append(ProcessorToTell(recipient=recipient, name=policy.recipients[recipient].name,
                                    action=affected.action, purposes=tuple(sorted(f"{n}/{p}" for n, p in purposes)),
                                    categories=tuple(sorted(categories)), identity_kinds=kinds))
    return told


# --- the payload and its signature ------------------------------------------------------------------------


def canonical_json(payload: Mapping[str, Any]) -> bytes:
    """The body as sent: sorted keys, no spaces, UTF-8; the same payload always gives the same bytes."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def identity_entry(kind: str, value: str, form: IdentityFormat) -> dict[str, str]:
    """An identity as the processor receives it: SHA-256 (hex) of the normalised value, or the value."""
    if form is IdentityFormat.CLEAR:
        return {"kind": kind, "value": value}
    return {"kind": kind, "sha256": hashlib.sha256(value.encode("utf-8")).hexdigest()}


def build_payload(*, policy: CompiledPolicy, request: RightsRequest, told: ProcessorToTell, uid: str,
                  identities: Sequence[tuple[str, str]], form: IdentityFormat,
                  completed_at: dt.datetime) -> dict[str, Any]:
    """What one processor is sent about one request: the request, the action, categories, purposes, identities."""
    rules = policy.rights_in(request.jurisdiction)
    rule = next((r for right, r in rules.items() if right.value == request.right), None)
    return {
        "type": PAYLOAD_TYPE,
        "version": PAYLOAD_VERSION,
        "id": uid,
        "controller": policy.policy.organization.name,
        "recipient": told.recipient,
        "request": {"reference": request.reference, "type": request.request_type,
                    "jurisdiction": request.jurisdiction, "completed_at": completed_at.isoformat()},
        "action": told.action.value,
        "instructions": INSTRUCTIONS[told.action],
        "categories": list(told.categories),
        "purposes": list(told.purposes),
        "identities": [identity_entry(kind, value, form) for kind, value in identities],
        "sources": {"notification": NOTIFY_SOURCES[told.action], "right": rule.source if rule else None},
    }


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, body: bytes, timestamp: int) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``: the value of ``Pledge-Signature``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(secret: bytes, header: str, body: bytes, *, now: float | None = None,
                     tolerance: float = SIGNATURE_TOLERANCE) -> bool:
    """What a processor's receiver does: the signature matches the body and the timestamp is recent."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)


# --- endpoints --------------------------------------------------------------------------------------------


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """An endpoint URL: https (http only on loopback), a host, no credentials (secrets stay out of the database)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here
    except ValueError as exc:
        raise ProcessorError(f"{url!r} is not a URL: {exc}", field="url") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ProcessorError(f"{url!r} is not an http(s) URL with a host", field="url")
    if parts.username is not None or parts.password is not None:
        raise ProcessorError("the URL carries credentials: keep the secret in an environment variable "
                             "(--secret-env), never in the URL", field="url")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ProcessorError("notifications carry personal data: use https (plain http only to a loopback "
                             "address)", field="url")
    if parts.fragment:
        raise ProcessorError("the URL has a #fragment, which is never sent", field="url")
    return url


def check_secret_env(name: str) -> str:
    name = name.strip()
    if not _ENV_NAME.match(name):
        raise ProcessorError(f"{name!r} is not an environment variable name (letters, digits, _)",
                             field="secret_env")
    return name


def secret_from(environ: Mapping[str, str], name: str) -> bytes:
    """The HMAC secret from the environment variable ``name``; refuses a missing or short one."""
    value = environ.get(name)
    if not value:
        raise ProcessorError(f"the environment variable {name} that holds the signing secret is not set")
    secret = value.encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise ProcessorError(f"the secret in {name} is shorter than {MIN_SECRET_BYTES} bytes")
    return secret


def add_endpoint(*, session: Session, policy: CompiledPolicy, recipient: str, url: str, secret_env: str,
                 identities: IdentityFormat = IdentityFormat.HASHED, active: bool = True,
                 replace: bool = False) -> ProcessorEndpoint:
    """Say where a processor of the policy takes notifications; only recipients whose role is processor."""
    found = policy.recipients.get(recipient)
    if found is None:
        processors = ", ".join(sorted(r for r in policy.recipients if is_processor(policy, r))) or "none"
        raise ProcessorError(f"the policy has no recipient {recipient!r} (processors: {processors})",
                             field="recipient")
    if found.role is not RecipientRole.PROCESSOR:
        raise ProcessorError(f"{recipient} is a {found.role.value}, not a processor: only processors act on our "
                             "instructions", field="recipient")
    url, secret_env = check_url(url), check_secret_env(secret_env)
    endpoint = session.scalars(select(ProcessorEndpoint).where(ProcessorEndpoint.recipient_id == recipient)
                               ).one_or_none()
    if endpoint is not None and not replace:
        raise ProcessorError(f"{recipient} already has an endpoint ({endpoint.url}); replace it explicitly",
                             field="recipient")
    if endpoint is None:
        endpoint = ProcessorEndpoint(recipient_id=recipient)
        session.add(endpoint)
    endpoint.url = url
    endpoint.secret_env = secret_env
    endpoint.identities = IdentityFormat(identities).value
    endpoint.active = active
    endpoint.updated_at = utcnow()
    session.flush()
    return endpoint


def list_endpoints(*, session: Session) -> list[ProcessorEndpoint]:
    return list(session.scalars(select(ProcessorEndpoint).order_by(ProcessorEndpoint.recipient_id)))


def remove_endpoint(*, session: Session, recipient: str, now: dt.datetime | None = None) -> int:
    """Forget a processor's endpoint; its undelivered notifications are cancelled (kept, with why). Returns them."""
    endpoint = session.scalars(select(ProcessorEndpoint).where(ProcessorEndpoint.recipient_id == recipient)
                               ).one_or_none()
    if endpoint is None:
        raise ProcessorError(f"{recipient} has no endpoint", field="recipient")
    pending = list(session.scalars(select(ProcessorNotification).where(
        ProcessorNotification.endpoint_id == endpoint.id,
        ProcessorNotification.state == NotificationState.PENDING.value)))
    for notification in pending:
        _cancel(notification, "the endpoint was removed before delivery", now or utcnow())
    session.delete(endpoint)
    session.flush()
    return len(pending)


def _cancel(notification: ProcessorNotification, reason: str, now: dt.datetime) -> None:
    notification.state = NotificationState.CANCELLED.value
    notification.last_error = reason
    notification.updated_at = now


# --- notifying on completion ------------------------------------------------------------------------------


def _identities(session: Session, request: RightsRequest) -> list[tuple[str, str]]:
    """The person's identities: every one pledge holds for them, else the one the request names or proved."""
    if request.subject_id:
        rows = session.execute(select(StoredIdentity.kind, StoredIdentity.value)
                               .where(StoredIdentity.subject_id == request.subject_id)
                               .order_by(StoredIdentity.kind, StoredIdentity.value)).all()
        if rows:
            return [(str(kind), str(value)) for kind, value in rows]
    if request.verification_method == "not_required" or (
            request.identity_kind == "email" and request.identity_value == request.contact_email):
        return [(request.identity_kind, request.identity_value)]
    return [("email", request.contact_email)]


def erased_categories(datamap: Any, plan: Any, previous: Mapping[str, Any] | None = None) -> list[str]:
    """The data categories an erasure plan deletes or anonymises (with those of an earlier, interrupted run)."""
    from pledge.datamap import RowAction

    found: set[str] = set((previous or {}).get("erasure", {}).get("categories", []))
    for table in plan.tables:
        fields = {f.name: f for f in datamap.node(table.dataset, table.table).personal_fields}
        for row in table.rows:
            if row.action is RowAction.DELETE:
                found.update(c for f in fields.values() for c in f.categories)
            elif row.action is RowAction.UPDATE:
                found.update(c for name in row.changes if name in fields for c in fields[name].categories)
    return sorted(found)


@dataclass
class NotifyOutcome:
    """Who was told about a request and who could not be (with why)."""

    notified: list[ProcessorNotification] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def notify_completed(*, session: Session, policy: CompiledPolicy, reference: str, queue: JobQueue | None,
                     settings: ProcessorSettings, actor: str, now: dt.datetime | None = None) -> NotifyOutcome:
    """After a request is completed, queue one signed notification per processor that must be told.

    Runs in the transaction that completed the request, so the notifications exist exactly when the
    completion is committed; running it again for the same request does nothing.
    """
    outcome = NotifyOutcome()
    request = session.scalars(select(RightsRequest).where(RightsRequest.reference == reference)
                              .options(selectinload(RightsRequest.events))).one_or_none()
    if request is None or request.state not in (RequestState.COMPLETED.value,
                                                RequestState.PARTIALLY_COMPLETED.value):
        return outcome
    kind = RequestType(request.request_type)
    if kind not in ACTIONS or any(e.kind == NOTE_KIND for e in request.events):
        return outcome
    now = now or utcnow()
    erasure = (request.result or {}).get("erasure")
    erased = erasure.get("categories") if isinstance(erasure, dict) else None
    told = processors_to_tell(policy, request_type=kind, jurisdiction=request.jurisdiction,
                              details=request.details, erased_categories=erased)
    endpoints = {e.recipient_id: e for e in list_endpoints(session=session)}
    identities = _identities(session, request)
    for target in told:
        endpoint = endpoints.get(target.recipient)
        if endpoint is None or not endpoint.active:
            outcome.skipped[target.recipient] = "no active endpoint: tell it by other means"
            continue
        sent = [(k, v) for k, v in identities if k in target.identity_kinds]
        if not sent:
            outcome.skipped[target.recipient] = "it received no identity of the person it could match"
            continue
        uid = f"PN-{secrets.token_hex(8).upper()}"
        payload = build_payload(policy=policy, request=request, told=target, uid=uid, identities=sent,
                                form=IdentityFormat(endpoint.identities), completed_at=request.closed_at or now)
        notification = ProcessorNotification(
            uid=uid, request_id=request.id, endpoint_id=endpoint.id, recipient_id=target.recipient,
            action=target.action.value, payload=payload,
            body_sha256=hashlib.sha256(canonical_json(payload)).hexdigest(), state=NotificationState.PENDING.value,
            attempts=0, created_at=now, updated_at=now)
        session.add(notification)
        session.flush()
        if queue is not None:
            notification.job_id = _enqueue(session, queue, settings, notification, reference).id
        outcome.notified.append(notification)
    note(request, NOTE_KIND, actor=actor, now=now,
         reason=f"{len(outcome.notified)} processor(s) notified" + (
             f", {len(outcome.skipped)} not: " + "; ".join(f"{r}: {why}" for r, why in outcome.skipped.items())
             if outcome.skipped else ""),
         data={"notified": {n.recipient_id: n.uid for n in outcome.notified}, "skipped": outcome.skipped})
    session.flush()
    return outcome


def _enqueue(session: Session, queue: JobQueue, settings: ProcessorSettings, notification: ProcessorNotification,
             reference: str) -> Any:
    return queue.enqueue(session=session, kind=NOTIFY_JOB, payload={"notification": notification.id},
                         ref=f"rights_request:{reference}", max_attempts=settings.max_attempts)


# --- delivery ---------------------------------------------------------------------------------------------


def backoff(settings: ProcessorSettings, attempt: int) -> float:
    """Seconds before the next try after failed attempt ``attempt``: base, 2 x base, 4 x base ... at most the cap."""
    return float(min(settings.backoff_seconds * 2 ** max(attempt - 1, 0), settings.max_backoff_seconds))


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST the body; (HTTP status or None, error or None). Redirects are not followed: the URL is the endpoint."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(host, parts.port, timeout=timeout,
                                                 context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        response.read(65536)  # drained, never kept: an answer may echo personal data
        status, reason = response.status, response.reason
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    finally:
        connection.close()
    if 200 <= status < 300:
        return status, None
    return status, f"HTTP {status} {reason}"[:500]


@dataclass(frozen=True)
class Delivery:
    """The outcome of one try."""

    uid: str
    state: NotificationState
    attempt: int
    status: int | None = None
    error: str | None = None
    retry_in: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"notification": self.uid, "state": self.state.value, "attempt": self.attempt,
                "status": self.status, "error": self.error}


def deliver(*, session_factory: sessionmaker[Session], notification_id: int, settings: ProcessorSettings,
            final: bool, environ: Mapping[str, str] | None = None) -> Delivery:
    """Try to deliver one notification and record the attempt; ``final`` marks it failed if this try fails.

    Reading, sending and recording are three steps, so no database transaction stays open while the
    processor answers.
    """
    environ = os.environ if environ is None else environ
    with unit_of_work(session_factory) as session:
        notification = session.get(ProcessorNotification, notification_id)
        if notification is None:
            raise ProcessorError(f"no processor notification #{notification_id}")
        uid, state, number = notification.uid, NotificationState(notification.state), notification.attempts + 1
        if state is not NotificationState.PENDING:
            return Delivery(uid, state, notification.attempts)
        endpoint = session.get(ProcessorEndpoint, notification.endpoint_id) if notification.endpoint_id else None
        if endpoint is None or not endpoint.active:
            _cancel(notification, "the endpoint was removed or deactivated before delivery", utcnow())
            session.commit()
            return Delivery(uid, NotificationState.CANCELLED, notification.attempts, error=notification.last_error)
        url, secret_env = endpoint.url, endpoint.secret_env
        body = canonical_json(notification.payload)
        intact = hashlib.sha256(body).hexdigest() == notification.body_sha256
    status: int | None = None
    error: str | None = None
    attempted_at = utcnow()
    if not intact:
        error = "the stored payload no longer matches its SHA-256: not sent"
    else:
        try:
            secret = secret_from(environ, secret_env)
        except ProcessorError as exc:
            error = str(exc)
        else:
            timestamp = int(time.time())
            headers = {"Content-Type": "application/json", "User-Agent": "pledge-processor-notifications/1",
                       SIGNATURE_HEADER: signature_header(secret, body, timestamp), "Pledge-Notification": uid,
                       "Idempotency-Key": uid, "Pledge-Attempt": str(number)}
            status, error = post(url, body, headers, settings.timeout_seconds)
    delivered = error is None
    with unit_of_work(session_factory) as session:
        stored = session.get(ProcessorNotification, notification_id, with_for_update=True)
        assert stored is not None
        stored.attempt_log.append(ProcessorNotificationAttempt(number=number, attempted_at=attempted_at, url=url,
                                                               status_code=status, error=error, delivered=delivered))
        stored.attempts = number
        stored.last_status = status
        stored.last_error = error
        stored.updated_at = utcnow()
        if delivered:
            stored.state = NotificationState.DELIVERED.value
            stored.delivered_at = stored.updated_at
        elif final:
            stored.state = NotificationState.FAILED.value
        new_state = NotificationState(stored.state)
        session.commit()
    log.info("processor notification %s to %s, attempt %s: %s", uid, url, number,
             status if delivered else (error or status))
    retry_in = None if delivered else backoff(settings, number)
    return Delivery(uid, new_state, number, status=status, error=error, retry_in=retry_in)


@task(NOTIFY_JOB)
def notify_job(context: JobContext) -> dict[str, Any]:
    """Deliver one processor notification; a failed try is retried by the queue with back-off."""
    container = context.container
    job = context.job
    outcome = deliver(session_factory=container.session_factory, notification_id=int(job.payload["notification"]),
                      settings=container.settings.processors, final=job.attempts >= job.max_attempts)
    if outcome.retry_in is not None:
        raise Retry(f"{outcome.uid}: {outcome.error}", after=outcome.retry_in)
    return outcome.as_dict()


# --- reading and resending --------------------------------------------------------------------------------


def list_notifications(*, session: Session, reference: str | None = None, recipient: str | None = None,
                       state: str | None = None, limit: int = 100) -> list[tuple[ProcessorNotification, str]]:
    """Notifications, newest first, each with its request's reference; filtered as asked."""
    query = (select(ProcessorNotification, RightsRequest.reference)
             .join(RightsRequest, RightsRequest.id == ProcessorNotification.request_id)
             .options(selectinload(ProcessorNotification.attempt_log))
             .order_by(ProcessorNotification.id.desc()).limit(limit))
    if reference:
        query = query.where(RightsRequest.reference == reference.strip().upper())
    if recipient:
        query = query.where(ProcessorNotification.recipient_id == recipient)
    if state:
        query = query.where(ProcessorNotification.state == NotificationState(state).value)
    return [(n, str(ref)) for n, ref in session.execute(query).all()]


def resend(*, session: Session, uid: str, queue: JobQueue, settings: ProcessorSettings,
           now: dt.datetime | None = None) -> ProcessorNotification:
    """Queue a failed or cancelled notification again (same id and payload, so the processor can deduplicate)."""
    found = session.execute(select(ProcessorNotification, RightsRequest.reference)
                            .join(RightsRequest, RightsRequest.id == ProcessorNotification.request_id)
                            .where(ProcessorNotification.uid == uid.strip().upper())).one_or_none()
    if found is None:
        raise ProcessorError(f"no processor notification {uid}", field="uid")
    notification, reference = found
    if notification.state == NotificationState.DELIVERED.value:
        raise ProcessorError(f"{notification.uid} was delivered; there is nothing to resend", field="uid")
    endpoint = session.scalars(select(ProcessorEndpoint).where(
        ProcessorEndpoint.recipient_id == notification.recipient_id)).one_or_none()
    if endpoint is None or not endpoint.active:
        raise ProcessorError(f"{notification.recipient_id} has no active endpoint: add one first", field="uid")
    notification.endpoint_id = endpoint.id
    notification.state = NotificationState.PENDING.value
    notification.updated_at = now or utcnow()
    session.flush()
    notification.job_id = _enqueue(session, queue, settings, notification, str(reference)).id
    return notification

