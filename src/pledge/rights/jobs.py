"""Carrying out rights requests in the background: the ``rights.execute`` task.

Access, know and portability collect the person's rows through the data map's executor and build
the response package; deletion and rectification first show staff a dry-run plan when
``PLEDGE_RIGHTS_APPROVAL_REQUIRED`` names them, then run; restriction, objection, opt-outs,
limiting sensitive data and withdrawing consent append events to the consent ledger, which every
later decision reads. A database that fails part way leaves the request in ``error`` with what was
done so far (the executor commits one database at a time and never half a table); running it
again finishes the work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from pledge.bootstrap import Container
from pledge.datamap import (
    DataMap,
    DatamapError,
    ErasureStatus,
    SubjectIdentity,
    Systems,
    access,
    default_systems_url,
    erase,
    load_datamap,
    plan_erasure,
    rectify,
)
from pledge.jobs.queue import JobQueue, queue_from_settings
from pledge.jobs.worker import JobContext, task
from pledge.policy import CompiledPolicy
from pledge.policy.models import LegalBasis
from pledge.rights import packages, processors
from pledge.rights.mail import Mailer, mailer_from_settings, secret_key
from pledge.rights.models import RightsRequest
from pledge.rights.schemas import MANUAL_TYPES, PACKAGE_TYPES, RequestType
from pledge.rights.service import (
    EXECUTE_JOB,
    RightsParts,
    _recipients,
    _send,
    _split_purpose,
    close_on_completion,
    get_request,
)
from pledge.rights.state import RequestState, note, transition
from pledge.settings import Settings
from pledge.store import utcnow
from pledge.subjects.models import SubjectIdentity as StoredIdentity

S = RequestState
Progress = Callable[[float, str], None]

#: The ledger event each stop-type request writes, and its target.
OPT_OUT_TARGETS: dict[RequestType, str] = {
    RequestType.OPT_OUT_SALE_SHARE: "sale_share",
    RequestType.OPT_OUT_TARGETED_ADVERTISING: "targeted_advertising",
    RequestType.OPT_OUT_PROFILING: "profiling",
    RequestType.LIMIT_SENSITIVE: "limit_sensitive",
}
LEDGER_TYPES = frozenset({*OPT_OUT_TARGETS, RequestType.RESTRICTION, RequestType.LIFT_RESTRICTION,
                          RequestType.OBJECTION, RequestType.WITHDRAW_CONSENT})


class SystemsUnavailable(RuntimeError):
    """The data map cannot be loaded, so no request that reads or changes the company's databases can run."""


@dataclass(frozen=True)
class DataSystems:
    """The data map and where its datasets live."""

    datamap: DataMap
    systems: Systems


def open_systems(settings: Settings, policy: CompiledPolicy) -> DataSystems:
    """The data map from ``PLEDGE_RIGHTS_DATASETS_DIR`` and the databases at ``PLEDGE_RIGHTS_SYSTEMS_URL``."""
    try:
        datamap = load_datamap(settings.rights.datasets_dir, policy)
    except (DatamapError, OSError) as exc:
        raise SystemsUnavailable(f"the data map in {settings.rights.datasets_dir} cannot be used: {exc}") from exc
    url = settings.rights.systems_url or default_systems_url(settings)
    return DataSystems(datamap=datamap, systems=Systems.for_datamap(datamap, url))


def parts_for(container: Container, *, mailer: Mailer | None = None, queue: JobQueue | None = None) -> RightsParts:
    """The rights parts of a wired pledge: settings, secret, mail (from settings unless given) and the queue."""
    settings = container.settings
    return RightsParts(settings=settings.rights, secret=secret_key(settings),
                       mailer=mailer or mailer_from_settings(settings),
                       queue=queue if queue is not None else queue_from_settings(settings, container.session_factory))


@task(EXECUTE_JOB)
def execute_job(context: JobContext) -> dict[str, Any]:
    """Run one request's work; the job's result says what happened."""
    container = context.container
    parts = parts_for(container, mailer=context.mailer, queue=context.queue)
    reference = str(context.job.payload["reference"])
    with container.unit_of_work() as session:
        request = get_request(session=session, reference=reference)
        needs_systems = RequestType(request.request_type) not in LEDGER_TYPES | MANUAL_TYPES
    systems: DataSystems | None = None
    error: str | None = None
    if needs_systems:
        try:
            systems = open_systems(container.settings, container.policy)
        except SystemsUnavailable as exc:
            error = str(exc)
    try:
        with container.unit_of_work() as session:
            outcome = execute_request(session=session, policy=container.policy, reference=reference, parts=parts,
                                      systems=systems, systems_error=error,
                                      approved=bool(context.job.payload.get("approved")),
                                      package_folder=container.settings.rights.package_dir
                                      or container.settings.data_dir / "packages",
                                      actor=f"worker:{context.worker_id}", progress=context.progress)
            processors.notify_completed(session=session, policy=container.policy, reference=reference,
                                        queue=parts.queue, settings=container.settings.processors,
                                        actor=f"worker:{context.worker_id}")
            session.commit()
    finally:
        if systems is not None:
            systems.systems.dispose()
    return outcome


def execute_request(*, session: Session, policy: CompiledPolicy, reference: str, parts: RightsParts,
                    systems: DataSystems | None, package_folder: Any, actor: str, approved: bool = False,
                    systems_error: str | None = None, progress: Progress | None = None,
                    now: dt.datetime | None = None) -> dict[str, Any]:
    """Carry out a request that is in progress; returns a summary. Never raises for a failing company database:
    the request goes to ``error`` with what was done so far."""
    now = now or utcnow()
    progress = progress or (lambda _fraction, _message: None)
    request = get_request(session=session, reference=reference, lock=True)
    if request.state != S.IN_PROGRESS.value:
        return {"skipped": f"request is {request.state}"}
    kind = RequestType(request.request_type)
    if kind in MANUAL_TYPES:
        return {"manual": True}
    if kind in LEDGER_TYPES:
        return _record_in_ledger(session, policy, request, parts, actor, now)
    if systems is None:
        _fail(request, actor, systems_error or "the data map is not configured", {}, now)
        return {"error": request.outcome_reason}
    progress(0.1, "searching the company's systems")
    try:
        if kind in PACKAGE_TYPES:
            return _answer_with_package(session, policy, request, parts, systems, package_folder, actor, approved,
                                        progress, now)
        if kind is RequestType.DELETION:
            return _erase(session, request, parts, systems, actor, approved, progress, now)
        return _rectify(session, request, parts, systems, actor, approved, progress, now)
    except SystemsUnavailable as exc:
        _fail(request, actor, str(exc), {}, now)
        return {"error": str(exc)}


def _fail(request: RightsRequest, actor: str, reason: str, done: dict[str, Any], now: dt.datetime) -> None:
    request.result = {**(request.result or {}), **done, "error": reason}
    transition(request, S.ERROR, actor=actor, reason=reason, now=now, data={"done": done})


def identities_for(session: Session, request: RightsRequest) -> list[SubjectIdentity]:
    """The identities the request may search by: the verified person's every identity, else the email they proved."""
    if request.subject_id:
        rows = session.query(StoredIdentity).filter(StoredIdentity.subject_id == request.subject_id).all()
        found = [SubjectIdentity(kind=row.kind, value=row.value) for row in rows]
        if found:
            return found
    return [SubjectIdentity(kind="email", value=request.contact_email)]


def _needs_approval(request: RightsRequest, parts: RightsParts, approved: bool) -> bool:
    return not approved and request.request_type in parts.settings.approval_required


def _link(parts: RightsParts, request: RightsRequest, now: dt.datetime) -> str:
    expires = now + dt.timedelta(hours=parts.settings.link_ttl_hours)
    token = packages.sign_link(parts.secret, request.reference, expires)
    return f"{parts.settings.public_url.rstrip('/')}/api/v1/requests/package/{token}"


def _deliver(request: RightsRequest, parts: RightsParts, actor: str, now: dt.datetime) -> None:
    link = _link(parts, request, now)
    body = (f"Your {request.request_type.replace('_', ' ')} request {request.reference} is answered.\n\n"
            f"Download your data (the link works for {parts.settings.link_ttl_hours} hours):\n{link}\n\n"
            "The package holds a readable report, your data as JSON and CSV, and a manifest with the "
            "SHA-256 of every file.")
    for to in _recipients(request):
        _send(parts, to, f"Your privacy request {request.reference}: your data", body)
    send_to = (request.details or {}).get("send_to")
    if send_to:
        _send(parts, str(send_to), f"Personal data sent at the request of the person ({request.reference})",
              f"The person asked us to send you their data (request {request.reference}).\n\n{link}")
    note(request, "package_sent", actor=actor, now=now, data={"to_third_party": bool(send_to)})


def _answer_with_package(session: Session, policy: CompiledPolicy, request: RightsRequest, parts: RightsParts,
                         systems: DataSystems, folder: Any, actor: str, approved: bool, progress: Progress,
                         now: dt.datetime) -> dict[str, Any]:
    if approved and request.package_path:
        _deliver(request, parts, actor, now)
        close_on_completion(request, partial_reason=None, actor=actor, now=now)
        return {"delivered": request.reference}
    report = access(datamap=systems.datamap, systems=systems.systems, identities=identities_for(session, request))
    progress(0.6, "building the response package")
    built = packages.build_package(policy=policy, request=request, access=report, folder=folder, now=now)
    request.package_path = str(built.path)
    request.package_sha256 = built.sha256
    request.package_created_at = now
    summary = {"rows": sum(len(t.rows) for t in report.tables), "tables": [t.label for t in report.tables],
               "categories": list(report.categories), "package_sha256": built.sha256,
               "files": [f["path"] for f in built.files]}
    request.result = {**(request.result or {}), "access": summary}
    note(request, "package_built", actor=actor, now=now, data={"sha256": built.sha256, "rows": summary["rows"]})
    if _needs_approval(request, parts, approved):
        transition(request, S.AWAITING_APPROVAL, actor=actor, now=now, reason="package ready for review")
        return summary
    progress(0.9, "sending the link")
    _deliver(request, parts, actor, now)
    close_on_completion(request, partial_reason=None, actor=actor, now=now, data={"rows": summary["rows"]})
    return summary


def _erase(session: Session, request: RightsRequest, parts: RightsParts, systems: DataSystems, actor: str,
           approved: bool, progress: Progress, now: dt.datetime) -> dict[str, Any]:
    identities = identities_for(session, request)
    if _needs_approval(request, parts, approved):
        plan = plan_erasure(datamap=systems.datamap, systems=systems.systems, identities=identities, now=now,
                            hash_key=parts.secret)
        request.result = {**(request.result or {}), "plan": plan.as_dict(), "plan_text": plan.describe()}
        transition(request, S.AWAITING_APPROVAL, actor=actor, now=now,
                   reason=f"dry run: {plan.deletes} row(s) to delete, {plan.updates} to anonymise, {plan.kept} kept")
        return {"plan": {"deletes": plan.deletes, "updates": plan.updates, "kept": plan.kept}}
    result = erase(datamap=systems.datamap, systems=systems.systems, identities=identities, now=now,
                   hash_key=parts.secret)
    progress(0.8, "erased; telling the person")
    databases = [{"url": d.url, "datasets": list(d.datasets), "status": d.status.value, "deleted": d.deleted,
                  "updated": d.updated, "error": d.error} for d in result.databases]
    held = sorted({h.describe() for t in result.plan.tables for r in t.rows for h in r.held})
    done = {"erasure": {"status": result.status.value, "deleted": result.deleted, "updated": result.updated,
                        "databases": databases, "held": held,
                        "categories": processors.erased_categories(systems.datamap, result.plan, request.result)}}
    if result.status is ErasureStatus.FAILED:
        failed = next((d for d in result.databases if d.error), None)
        where = f"{failed.url}: {failed.error}" if failed else "a database failed"
        _fail(request, actor, f"erasure stopped at {where}; run the request again to finish", done, now)
        return done
    request.result = {**(request.result or {}), **done}
    body = f"Your deletion request {request.reference} is done: we erased your personal data from our systems."
    if held:
        body += "\n\nSome records are kept because the law requires it:\n" + "\n".join(f"- {h}" for h in held)
    for to in _recipients(request):
        _send(parts, to, f"Your privacy request {request.reference} is done", body)
    close_on_completion(request, partial_reason=None, actor=actor, now=now,
                        data={"deleted": result.deleted, "updated": result.updated})
    return done


def _rectify(session: Session, request: RightsRequest, parts: RightsParts, systems: DataSystems, actor: str,
             approved: bool, progress: Progress, now: dt.datetime) -> dict[str, Any]:
    from pledge.datamap import attributes

    corrections: dict[str, str] = dict((request.details or {}).get("corrections", {}))
    known = attributes(systems.datamap)
    unknown = sorted(name for name in corrections if name not in known)
    if unknown:
        reason = (f"not corrected: no system holds {', '.join(unknown)} "
                  f"(correctable: {', '.join(sorted(known)) or 'none'})")
        transition(request, S.DENIED, actor=actor, reason=reason, now=now)
        for to in _recipients(request):
            _send(parts, to, f"Your privacy request {request.reference} was refused", reason)
        return {"denied": reason}
    if _needs_approval(request, parts, approved):
        request.result = {**(request.result or {}), "plan": {"corrections": corrections}}
        transition(request, S.AWAITING_APPROVAL, actor=actor, now=now,
                   reason="corrections to approve: " + ", ".join(f"{k} -> {v!r}" for k, v in corrections.items()))
        return {"plan": corrections}
    identities = identities_for(session, request)
    outcomes: dict[str, Any] = {}
    for index, (attribute, value) in enumerate(corrections.items()):
        result = rectify(datamap=systems.datamap, systems=systems.systems, identities=identities,
                         attribute=attribute, value=value, now=now)
        outcomes[attribute] = {"status": result.status.value, "rows": result.rows, "error": result.error,
                               "held": sum(f.held for f in result.fields)}
        progress(0.1 + 0.8 * (index + 1) / len(corrections), f"corrected {attribute}")
        if result.status is ErasureStatus.FAILED:
            _fail(request, actor, f"correcting {attribute} failed: {result.error}; run the request again",
                  {"rectification": outcomes}, now)
            return outcomes
    request.result = {**(request.result or {}), "rectification": outcomes}
    held = [name for name, outcome in outcomes.items() if outcome["held"]]
    partial = (f"kept as recorded under a legal hold: {', '.join(held)}" if held else None)
    body = f"Your rectification request {request.reference} is done: we corrected " + ", ".join(corrections) + "."
    if partial:
        body += f"\n\nSome records were {partial}."
    for to in _recipients(request):
        _send(parts, to, f"Your privacy request {request.reference} is done", body)
    close_on_completion(request, partial_reason=partial, actor=actor, now=now)
    return outcomes


# --- the consent ledger -------------------------------------------------------------------------------


def _ledger_subject(request: RightsRequest) -> str:
    """Whom the ledger events are about: the known person, the identity an unverified opt-out names, or the
    email whose control the person proved."""
    if request.subject_id:
        return f"subject:{request.subject_id}"
    if request.verification_method == "not_required" or (
            request.identity_kind == "email" and request.identity_value == request.contact_email):
        return f"{request.identity_kind}:{request.identity_value}"
    return f"email:{request.contact_email}"


def _ledger_events(policy: CompiledPolicy, request: RightsRequest) -> list[dict[str, Any]]:
    kind = RequestType(request.request_type)
    purposes = [_split_purpose(p) for p in (request.details or {}).get("purposes", [])]
    if kind in OPT_OUT_TARGETS:
        return [{"kind": "opted_out", "target": OPT_OUT_TARGETS[kind]}]
    if kind is RequestType.RESTRICTION:
        return [{"kind": "restriction_requested"}]
    if kind is RequestType.LIFT_RESTRICTION:
        return [{"kind": "restriction_lifted"}]
    if kind is RequestType.OBJECTION:
        if not purposes:
            return [{"kind": "objection_raised", "target": "direct_marketing"}]
        return [{"kind": "objection_raised", "purpose": p, "notice": n} for n, p in purposes]
    if not purposes:
        purposes = [(n, p) for (n, p) in policy.purposes
                    if request.jurisdiction in policy.notices[n].jurisdictions
                    and policy.basis(n, p, request.jurisdiction) is LegalBasis.CONSENT]
    return [{"kind": "consent_withdrawn", "purpose": p, "notice": n} for n, p in purposes]


def _record_in_ledger(session: Session, policy: CompiledPolicy, request: RightsRequest, parts: RightsParts,
                      actor: str, now: dt.datetime) -> dict[str, Any]:
    from pledge.consent import service as consent
    from pledge.consent.schemas import Actor, CollectionPoint, ConsentEventCreate, RequestContext

    recorded: list[str] = []
    skipped: list[str] = []
    reference = _ledger_subject(request)
    for index, spec in enumerate(_ledger_events(policy, request)):
        event_in = ConsentEventCreate(
            subject=reference, residence=request.residence, collection_point=CollectionPoint.RIGHTS_REQUEST,
            actor=Actor.AUTHORIZED_AGENT if request.agent_email else Actor.SUBJECT, actor_ref=request.reference,
            occurred_at=request.received_at, **spec)
        context = RequestContext(idempotency_key=f"{request.reference}:{index}")
        try:
            with session.begin_nested():
                done = consent.record_event(session=session, policy=policy, event_in=event_in, context=context,
                                            now=now)
        except consent.ConsentError as exc:
            skipped.append(f"{spec.get('purpose') or spec.get('target') or spec['kind']}: {exc}")
            continue
        request.subject_id = request.subject_id or done.subject.id
        recorded.append(done.event.uid)
    request.result = {**(request.result or {}), "ledger": {"events": recorded, "skipped": skipped}}
    note(request, "ledger_written", actor=actor, now=now, data={"events": recorded, "skipped": skipped})
    partial = f"not recorded: {'; '.join(skipped)}" if skipped and recorded else None
    if skipped and not recorded:
        transition(request, S.DENIED, actor=actor, reason="; ".join(skipped), now=now)
        return {"denied": skipped}
    body = (f"Your {request.request_type.replace('_', ' ')} request {request.reference} is done: "
            "it applies to every use of your data from now on.")
    for to in _recipients(request):
        _send(parts, to, f"Your privacy request {request.reference} is done", body)
    close_on_completion(request, partial_reason=partial, actor=actor, now=now, data={"events": len(recorded)})
    return {"events": recorded, "skipped": skipped}
