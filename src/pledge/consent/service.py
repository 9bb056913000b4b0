"""The consent ledger: record an event, keep the projection, read a subject's state, replay.

Every use case runs in the caller's unit of work; nothing here commits. Recording validates the
whole event against the policy before it writes anything, takes the subject's write lock (so two
writers about one person queue instead of interleaving), appends the event and updates the
projection in the same transaction. Bad input raises ``ConsentError`` (or a ``SubjectError``)
with a message that says what is wrong and the HTTP status the API answers with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import psycopg
from sqlalchemy import JSON, bindparam, column, delete, func, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pledge.consent.models import ConsentEvent, ConsentStateRow
from pledge.consent.projection import Aspect, StateKey, StateValue, differences, effects, replay
from pledge.consent.schemas import (
    CHANNEL_KINDS,
    CONSENT_KINDS,
    COOKIE_KINDS,
    DIRECT_MARKETING,
    OBJECTION_KINDS,
    OPT_OUT_KINDS,
    PARENTAL_KINDS,
    Actor,
    CollectionPoint,
    ConsentEventCreate,
    ConsentEventRead,
    ConsentRead,
    EventKind,
    OptOut,
    RequestContext,
    SubjectStateRead,
)
from pledge.decisions.state import ConsentState, ConsentStatus, SubjectState
from pledge.errors import DomainError
from pledge.notices.models import NoticeVersion
from pledge.policy import CompiledPolicy
from pledge.policy.models import LegalBasis, MarketingChannel, OptOutSignal
from pledge.store import unattached, utcnow
from pledge.subjects import service as subjects
from pledge.subjects.age import age_range, child_age
from pledge.subjects.identities import Identity, IdentityKind
from pledge.subjects.models import DataSubject, SubjectIdentity

#: How far in the future a reported event time may lie (clock skew between systems).
CLOCK_SKEW = dt.timedelta(minutes=5)

#: Legal bases a person can object to (GDPR Art. 21(1): Art. 6(1)(e) and (f); Thai PDPA s. 32).
OBJECTABLE_BASES = frozenset({LegalBasis.LEGITIMATE_INTERESTS, LegalBasis.PUBLIC_TASK})

#: fideslang categories whose presence in a notice lets the ledger keep the IP address / user agent.
IP_CATEGORIES = frozenset({"user.device.ip_address", "user.device"})
USER_AGENT_CATEGORIES = frozenset({"user.device"})


class ConsentError(DomainError):
    """An event that cannot be recorded or a question that cannot be answered; nothing was written."""

    status = 422
    title = "Invalid consent event"
    type = "urn:pledge:problem:invalid-consent-event"


class UnknownPurpose(ConsentError):
    title = "Unknown purpose"
    type = "urn:pledge:problem:unknown-purpose"


class UnknownTarget(ConsentError):
    title = "Unknown category"
    type = "urn:pledge:problem:unknown-target"


class BasisMismatch(ConsentError):
    title = "Purpose is not on that legal basis"
    type = "urn:pledge:problem:basis-mismatch"


class NotAChild(ConsentError):
    title = "Guardian event for an adult"
    type = "urn:pledge:problem:not-a-child"


class IdempotencyConflict(ConsentError):
    title = "Idempotency key reused"
    type = "urn:pledge:problem:idempotency-key-reused"


class OutcomeUnknown(DomainError):
    """The database connection was lost while a write was in flight: it may have committed, or not.

    Unlike every other error here, something may have been written. Only an event with an
    idempotency key can be sent again safely (its replay answers with the event if it was
    recorded), so pledge retries those itself and never records a keyless event again on a guess.
    """

    status = 503
    title = "Outcome unknown"
    type = "urn:pledge:problem:outcome-unknown"


LOST_WRITE = ("the database connection was lost while this event was being recorded: it may or may not be in "
              "the ledger (read the subject's ledger before sending it again); with an Idempotency-Key, a retry "
              "is always safe")


# --- resolving what an event is about -----------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """An event checked against the policy: its canonical target, notice and jurisdiction."""

    kind: EventKind
    target: str
    notice_id: str
    jurisdiction: str


def resolve_notice(policy: CompiledPolicy, *, notice: str | None, service: str | None) -> str | None:
    """The notice an event or a question speaks under, from its id or a service it covers."""
    if notice:
        if notice not in policy.notices:
            raise ConsentError(f"unknown notice {notice!r} (known: {', '.join(sorted(policy.notices))})",
                               field="notice")
        if service and policy.notice_for_service.get(service) != notice:
            raise ConsentError(f"service {service!r} is not covered by notice {notice!r}", field="service")
        return notice
    if service:
        found = policy.notice_for_service.get(service)
        if found is None:
            raise ConsentError(f"unknown service {service!r} (known: {', '.join(sorted(policy.notice_for_service))})",
                               field="service")
        return found
    return None


def resolve_purpose(policy: CompiledPolicy, purpose: str, notice_id: str | None) -> tuple[str, str]:
    """(notice id, purpose id) for a purpose named alone or within a notice."""
    if notice_id is not None:
        if (notice_id, purpose) not in policy.purposes:
            offered = sorted(p for n, p in policy.purposes if n == notice_id)
            raise UnknownPurpose(f"notice {notice_id!r} has no purpose {purpose!r} (it has: {', '.join(offered)})",
                                 field="purpose")
        return notice_id, purpose
    notices = sorted(n for n, p in policy.purposes if p == purpose)
    if not notices:
        raise UnknownPurpose(f"unknown purpose {purpose!r}", field="purpose")
    if len(notices) > 1:
        raise ConsentError(f"purpose {purpose!r} is in several notices ({', '.join(notices)}): "
                           "say which notice or service", field="notice")
    return notices[0], purpose


def _resolve(policy: CompiledPolicy, event_in: ConsentEventCreate, jurisdiction: str) -> Resolved:
    kind = event_in.kind
    notice_id = resolve_notice(policy, notice=event_in.notice, service=event_in.service)
    code = policy.resolve_jurisdiction(jurisdiction)
    if kind in CONSENT_KINDS or (kind in OBJECTION_KINDS and event_in.purpose):
        if not event_in.purpose:
            raise ConsentError(f"a {kind.value} event needs a purpose", field="purpose")
        notice_id, purpose = resolve_purpose(policy, event_in.purpose, notice_id)
        basis = policy.basis(notice_id, purpose, code)
        if kind in CONSENT_KINDS and basis is not LegalBasis.CONSENT:
            raise BasisMismatch(
                f"purpose {purpose!r} of notice {notice_id!r} rests on {_basis(basis)} in {code}, not on consent: "
                "there is no consent to give or withdraw", field="purpose")
        if kind in OBJECTION_KINDS and basis not in OBJECTABLE_BASES:
            hint = "; withdraw the consent instead" if basis is LegalBasis.CONSENT else ""
            raise BasisMismatch(
                f"purpose {purpose!r} of notice {notice_id!r} rests on {_basis(basis)} in {code}: an objection "
                f"applies to legitimate-interest or public-task purposes{hint}", field="purpose")
        return Resolved(kind, purpose, notice_id, code)
    if event_in.purpose:
        raise ConsentError(f"a {kind.value} event takes no purpose", field="purpose")
    target = (event_in.target or "").strip()
    if kind in OBJECTION_KINDS:
        if target and target != DIRECT_MARKETING:
            raise UnknownTarget(f"an objection names a purpose, or the target {DIRECT_MARKETING!r}", field="target")
        return Resolved(kind, DIRECT_MARKETING, notice_id or "", code)
    if kind in OPT_OUT_KINDS:
        return Resolved(kind, _choice(target, OptOut, "opt-out"), notice_id or "", code)
    if kind in CHANNEL_KINDS:
        return Resolved(kind, _choice(target, MarketingChannel, "marketing channel"), notice_id or "", code)
    if kind in COOKIE_KINDS:
        category = policy.cookie_categories.get(target)
        if category is None:
            known = ", ".join(sorted(policy.cookie_categories)) or "none"
            raise UnknownTarget(f"unknown cookie category {target!r} (known: {known})", field="target")
        if not category.consent_required:
            raise BasisMismatch(f"{category.name} rest on {_basis(category.legal_basis)} and need no consent",
                                field="target")
        if notice_id and target not in policy.notices[notice_id].cookie_categories:
            raise UnknownTarget(f"notice {notice_id!r} uses no {target!r} cookies", field="target")
        return Resolved(kind, target, notice_id or "", code)
    if target:
        raise ConsentError(f"a {kind.value} event takes no target", field="target")
    return Resolved(kind, "", notice_id or "", code)


def _choice(value: str, vocabulary: type[OptOut] | type[MarketingChannel], what: str) -> str:
    try:
        return vocabulary(value).value
    except ValueError:
        known = ", ".join(item.value for item in vocabulary)
        raise UnknownTarget(f"unknown {what} {value!r} (known: {known})", field="target") from None


def _basis(basis: LegalBasis | None) -> str:
    return "no legal basis" if basis is None else basis.value.replace("_", " ")


def evidence_allowed(policy: CompiledPolicy, notice_id: str) -> tuple[bool, bool]:
    """Whether the ledger may keep (IP address, user agent) for an event under this notice.

    Data minimisation (GDPR Art. 5(1)(c)): pledge keeps them only when the notice tells people it
    collects them, i.e. one of its data categories maps to the fideslang device categories.
    """
    memo = ("evidence_allowed", notice_id)
    found: tuple[bool, bool] | None = policy.derived.get(memo)
    if found is not None:
        return found
    notice = policy.notices.get(notice_id) if notice_id else None
    fides = {name for category in notice.data_categories
             for name in policy.data_categories[category].fides_categories} if notice else set()
    found = policy.derived[memo] = (bool(fides & IP_CATEGORIES), bool(fides & USER_AGENT_CATEGORIES))
    return found


def request_hash(event_in: ConsentEventCreate) -> str:
    """A fingerprint of the request, to tell a retry from a different request with the same key."""
    canonical = json.dumps(event_in.model_dump(mode="json", exclude_none=True), sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def evidence_hash(event_in: ConsentEventCreate) -> str | None:
    """SHA-256 of the text shown; the text itself is never stored."""
    if event_in.evidence_text is None:
        return event_in.evidence_hash
    digest = hashlib.sha256(event_in.evidence_text.encode("utf-8")).hexdigest()
    if event_in.evidence_hash is not None and event_in.evidence_hash != digest:
        raise ConsentError("evidence_hash is not the SHA-256 of evidence_text", field="evidence_hash")
    return digest


# --- recording ------------------------------------------------------------------------------------------


@dataclass
class Recorded:
    """What recording produced: the event (new, or the one an idempotency key already recorded)."""

    event: ConsentEvent
    subject: DataSubject
    created: bool
    gpc_event: ConsentEvent | None = None
    identity_kind: str | None = None
    #: The subject's projection rows as recording left them, when the database said so in the same
    #: statement (PostgreSQL); None means read them (``subject_states``).
    state_rows: dict[StateKey, StateValue] | None = None


def record_event(*, session: Session, policy: CompiledPolicy, event_in: ConsentEventCreate,
                 context: RequestContext | None = None, now: dt.datetime | None = None) -> Recorded:
    """Append one event to the ledger and update the projection; validates everything before writing."""
    return _record(session=session, policy=policy, items=[(event_in, context or RequestContext())], now=now,
                   prefix_errors=False)[0]


def record_events(*, session: Session, policy: CompiledPolicy,
                  items: Sequence[tuple[ConsentEventCreate, RequestContext]],
                  now: dt.datetime | None = None) -> list[Recorded]:
    """Record several events in the caller's one transaction, in order; any bad one raises and nothing stays.

    The error's ``field`` is prefixed with the event's index (``events.3.purpose``). The work is
    set-based: one query finds every subject, one locks them, one inserts every event, one writes
    the projection, whatever the number of events.
    """
    return _record(session=session, policy=policy, items=items, now=now, prefix_errors=True)


@dataclass
class _Person:
    """What recording knows of one person while it checks a run of events: stored, or about to be."""

    subject: DataSubject | None
    residence: str | None
    birth_date: dt.date | None
    age_band: str | None
    identity: SubjectIdentity | None = None
    new_identity: Identity | None = None


@dataclass
class _Item:
    event_in: ConsentEventCreate
    context: RequestContext
    person: _Person
    resolved: Resolved
    occurred_at: dt.datetime
    evidence: str | None
    fingerprint: str | None
    identity: Identity | None
    stored_identity: SubjectIdentity | None

    def used_identity(self) -> SubjectIdentity | None:
        """The stored identity this event named (a new person's, once created)."""
        if self.stored_identity is not None:
            return self.stored_identity
        return self.person.identity if self.identity is not None and self.identity == self.person.new_identity \
            else None


DomainErrorT = TypeVar("DomainErrorT", bound=DomainError)


def _named(exc: DomainErrorT, index: int, prefix: bool) -> DomainErrorT:
    """The error of event ``index`` of a batch: its field and message say which event (with ``prefix``)."""
    if prefix:
        exc.field = f"events.{index}.{exc.field}" if exc.field else f"events.{index}"
        exc.args = (f"event {index}: {exc}",)
    return exc


@contextmanager
def _event_errors(index: int, prefix: bool) -> Iterator[None]:
    try:
        yield
    except (ConsentError, subjects.SubjectError) as exc:
        _named(exc, index, prefix)
        raise


def _record(*, session: Session, policy: CompiledPolicy, items: Sequence[tuple[ConsentEventCreate, RequestContext]],
            now: dt.datetime | None, prefix_errors: bool) -> list[Recorded]:
    now = now or utcnow()
    people, checked = _check_all(session=session, policy=policy, items=items, now=now, prefix_errors=prefix_errors)
    return _write_checked(session=session, policy=policy, people=people, checked=checked, now=now,
                          prefix_errors=prefix_errors)


def _write_checked(*, session: Session, policy: CompiledPolicy, people: dict[str, _Person], checked: list[_Item],
                   now: dt.datetime, prefix_errors: bool) -> list[Recorded]:
    """Steps 2 to 5 of recording, once every event is checked: people, events and projection, GPC."""
    # 2. create the new people; note what people told us about their residence and age
    _create_people(session=session, policy=policy, people=[p for p in people.values() if p.subject is None])
    for person in people.values():
        assert person.subject is not None
        for name, value in _news(person).items():
            # only when there is something to note: setting even an equal value makes the flush work
            setattr(person.subject, name, value)

    notices = {item.resolved.notice_id for item in checked if item.resolved.notice_id}
    postgres = session.get_bind().dialect.name == "postgresql"  # there the insert looks the versions up
    versions = _notice_versions(session, notices) if len(checked) > 1 and not postgres else {}
    rows, plan = _plan(policy=policy, checked=checked, now=now, prefix_errors=prefix_errors, versions=versions)
    inserted, states_after = _append(session=session, rows=rows)
    results: list[Recorded] = []
    replays = _earlier_events(session, _replayed_keys(rows, inserted))
    for outcome in _outcomes(rows=rows, plan=plan, inserted=inserted, states_after=states_after, replays=replays,
                             prefix_errors=prefix_errors):
        if isinstance(outcome, Exception):
            raise outcome
        results.append(outcome)

    # 5. Global Privacy Control, once per person whose request carried it
    honoured: set[str] = set()
    for result, (item, _where) in zip(results, plan, strict=True):
        if item.context.gpc and result.subject.id not in honoured:
            honoured.add(result.subject.id)
            result.gpc_event = honour_gpc(session=session, policy=policy, subject=result.subject,
                                          identity=item.used_identity(), now=now)
            if result.gpc_event is not None:  # the projection moved on after the insert
                for other in results:
                    if other.subject.id == result.subject.id:
                        other.state_rows = None
    return results


async def record_events_direct(*, connection: psycopg.AsyncConnection[Any], policy: CompiledPolicy,
                               items: Sequence[tuple[ConsentEventCreate, RequestContext]],
                               now: dt.datetime | None = None) -> list[Recorded | Exception] | None:
    """Record events on PostgreSQL straight through psycopg, in two statements; None: not a batch for this path.

    Why: this is the ledger's hot path (one call per group-commit batch of the web server), and the
    ORM's share of a small batch was about 1 ms of CPU, against 0.35 ms for the same two statements
    sent by psycopg: its execution context and result set-up per statement, an object per loaded
    row, a session per batch. Here one query finds the people, and one statement
    (``_INSERT_MANY_POSTGRESQL``, in autocommit on ``connection``) appends the events, writes the
    projection and inserts the people never seen before. The checks and the rows are the session
    path's own (``_check_found``, ``_plan``, ``_outcomes``); subjects and events come back as
    unattached model objects.

    It returns None, having written nothing, for a batch that needs a transaction: a residence or
    age to note on a stored subject, a Global Privacy Control signal (an opt-out recorded after the
    event), a subject named by id or merged into another. The caller records those with
    ``record_events`` in a transaction.

    A bad event raises before anything is written; a connection lost during the statement raises
    ``OutcomeUnknown`` (it may have committed). Once the statement has run its events are
    committed, and what goes wrong after it is answered per event, never raised: an idempotency key
    used before for another request is that event's ``IdempotencyConflict``. Every outcome carries
    its subject's projection rows (``Recorded.state_rows``), so an answer needs no session.
    """
    now = now or utcnow()
    prefix_errors = len(items) > 1
    references = _references(items, prefix_errors)
    if not all(isinstance(reference, Identity) for reference in references):
        return None
    stored = await _find_direct(connection, [r for r in references if isinstance(r, Identity)])
    if stored is None:
        return None
    people, checked = _check_found(policy=policy, items=items, references=references, stored=stored, now=now,
                                   prefix_errors=prefix_errors)
    if any(_news(person) for person in people.values()) or any(item.context.gpc for item in checked):
        return None
    rows, plan, new_people = _rows_with_new_people(policy=policy, people=people, checked=checked, now=now,
                                                   prefix_errors=prefix_errors)
    try:
        cursor = await connection.execute(_INSERT_MANY_DIRECT, _insert_many_parameters(rows, new_people))
    except psycopg.OperationalError as exc:
        if connection.broken or connection.closed:  # in autocommit, the statement may have committed
            raise OutcomeUnknown(LOST_WRITE) from exc
        raise
    inserted: dict[str, ConsentEvent] = {}
    states_after: dict[str, dict[StateKey, StateValue]] = {}
    for row in await cursor.fetchall():
        event = _unattached_event(row)
        inserted[event.uid] = event
        states_after[event.subject_id] = _state_rows(row[-1])
    # committed from here on
    try:
        replays: dict[str, ConsentEvent] | Exception = await _earlier_events_direct(
            connection, _replayed_keys(rows, inserted))
        # the state of each person answered by a replay (whose event may be another subject's: one
        # merged into theirs since), so that every outcome carries its state
        await _read_projections(connection, {item.person.subject.id for item, _where in plan
                                             if item.person.subject is not None} - set(states_after), states_after)
    except Exception as exc:  # the new events stand; those that needed the earlier ones get the error
        replays = exc
    return list(_outcomes(rows=rows, plan=plan, inserted=inserted, states_after=states_after, replays=replays,
                          prefix_errors=False))


def _rows_with_new_people(*, policy: CompiledPolicy, people: dict[str, _Person], checked: list[_Item],
                          now: dt.datetime, prefix_errors: bool,
                          ) -> tuple[list[dict[str, object]], _Plan, list[dict[str, object]]]:
    """The event rows and the new people for ``_INSERT_MANY_POSTGRESQL``: a new person's events take the
    id its identity gets in the statement."""
    new_people = [person for person in people.values() if person.subject is None]
    for person in new_people:
        person.subject = _new_subject(person, now)
    rows, plan = _plan(policy=policy, checked=checked, now=now, prefix_errors=prefix_errors, versions={})
    for item, where in plan:
        if isinstance(where, int) and item.identity is not None and item.identity == item.person.new_identity:
            rows[where].update(new_kind=item.identity.kind.value, new_value=item.identity.value)
    return rows, plan, [
        {"id": person.subject.id, "residence": person.residence, "birth_date": person.birth_date,
         "age_band": person.age_band, "created_at": now, "kind": person.new_identity.kind.value,
         "value": person.new_identity.value}
        for person in new_people if person.subject is not None and person.new_identity is not None]


def _check_all(*, session: Session, policy: CompiledPolicy,
               items: Sequence[tuple[ConsentEventCreate, RequestContext]], now: dt.datetime,
               prefix_errors: bool) -> tuple[dict[str, _Person], list[_Item]]:
    """1. Find the people and check every event against the policy, in order, before anything is written."""
    references = _references(items, prefix_errors)
    stored = subjects.find_many(session=session, references=references)
    return _check_found(policy=policy, items=items, references=references, stored=stored, now=now,
                        prefix_errors=prefix_errors)


def _references(items: Sequence[tuple[ConsentEventCreate, RequestContext]], prefix_errors: bool,
                ) -> list[Identity | str]:
    """Whom each event names: an identity, or a subject id."""
    references: list[Identity | str] = []
    for index, (event_in, _context) in enumerate(items):
        with _event_errors(index, prefix_errors):
            references.append(subjects.parse_reference(event_in.subject, residence=event_in.residence))
    return references


def _check_found(*, policy: CompiledPolicy, items: Sequence[tuple[ConsentEventCreate, RequestContext]],
                 references: Sequence[Identity | str],
                 stored: Mapping[Identity | str, tuple[DataSubject, SubjectIdentity | None]], now: dt.datetime,
                 prefix_errors: bool) -> tuple[dict[str, _Person], list[_Item]]:
    """Check every event against the policy, in order, knowing who is stored (``subjects.find_many``)."""
    people: dict[str, _Person] = {}
    checked: list[_Item] = []
    for index, ((event_in, context), reference) in enumerate(zip(items, references, strict=True)):
        with _event_errors(index, prefix_errors):
            subject, identity = stored.get(reference, (None, None))
            if subject is None and not isinstance(reference, Identity):
                raise subjects.UnknownSubject(f"no subject {reference!r}", field="subject")
            person_key = subject.id if subject is not None else str(reference)
            person = people.get(person_key)
            if person is None:
                person = people[person_key] = _Person(
                    subject=subject, residence=subject.residence if subject else None,
                    birth_date=subject.birth_date if subject else None, age_band=subject.age_band if subject else None,
                    identity=identity, new_identity=reference if subject is None else None)  # type: ignore[arg-type]
            residence = subjects.check_residence(policy, event_in.residence) or person.residence
            band = subjects.check_age_band(event_in.age_band)
            occurred_at = _check_times(event_in, now)
            resolved = _resolve(policy, event_in, residence or "")
            told_birth_date = subjects.check_birth_date(event_in.birth_date, today=now.date())
            if person.birth_date is None and person.age_band is None and (told_birth_date or band):
                birth_date, age_band = told_birth_date, band
            else:
                birth_date, age_band = person.birth_date, person.age_band
            _check_guardian(policy, event_in, resolved, birth_date=birth_date, age_band=age_band, today=now.date())
            evidence = evidence_hash(event_in)
            if event_in.expires_at is not None and resolved.kind is not EventKind.CONSENT_GRANTED:
                raise ConsentError("only a consent grant can expire", field="expires_at")
            person.residence, person.birth_date, person.age_band = residence, birth_date, age_band
            fingerprint = request_hash(event_in) if context.idempotency_key else None
            checked.append(_Item(event_in, context, person, resolved, occurred_at, evidence, fingerprint,
                                 reference if isinstance(reference, Identity) else None, identity))
    return people, checked


def _news(person: _Person) -> dict[str, object]:
    """What the events told of a stored person that their subject does not say yet (residence, age)."""
    subject = person.subject
    if subject is None:
        return {}
    news: dict[str, object] = {}
    if person.residence and subject.residence != person.residence:
        news["residence"] = person.residence
    if subject.birth_date is None and subject.age_band is None and (person.birth_date or person.age_band):
        news["birth_date"], news["age_band"] = person.birth_date, person.age_band
    return news


_Plan = list[tuple[_Item, int | str]]  # (item, index into the rows, or the idempotency key replayed)


def _plan(*, policy: CompiledPolicy, checked: Sequence[_Item], now: dt.datetime, prefix_errors: bool,
          versions: Mapping[str, int]) -> tuple[list[dict[str, object]], _Plan]:
    """3. The rows to insert; a key seen earlier in this run answers with that event (or is a conflict).

    ``versions``: the notice versions in force, where the insert does not look them up itself.
    """
    rows: list[dict[str, object]] = []
    plan: _Plan = []
    fingerprints: dict[str, str | None] = {}
    for index, item in enumerate(checked):
        key = item.context.idempotency_key
        if key is not None and key in fingerprints:
            if fingerprints[key] != item.fingerprint:
                with _event_errors(index, prefix_errors):
                    raise IdempotencyConflict(f"idempotency key {key!r} was already used for a different request",
                                              field="Idempotency-Key")
            plan.append((item, key))
            continue
        if key is not None:
            fingerprints[key] = item.fingerprint
        rows.append(_event_row(policy, item, versions, now))
        plan.append((item, len(rows) - 1))
    return rows, plan


def _append(*, session: Session, rows: Sequence[dict[str, object]],
            ) -> tuple[dict[str, ConsentEvent], dict[str, dict[StateKey, StateValue]]]:
    """4. Append the events (a key used by an earlier request inserts nothing), then the projection.

    Returns the inserted events by uid and, on PostgreSQL, each subject's projection as left.
    """
    inserted: dict[str, ConsentEvent] = {}
    states_after: dict[str, dict[StateKey, StateValue]] = {}
    if rows and session.get_bind().dialect.name == "postgresql":
        # PostgreSQL: events, notice versions and projection in one prepared statement.
        for new_event, state_rows in _insert_many_postgresql(session, rows):
            inserted[new_event.uid] = new_event
            states_after[new_event.subject_id] = state_rows
    elif rows:
        if len(rows) == 1 and rows[0]["notice_id"]:
            # One event: read the notice version in force inside the INSERT itself (a cached statement).
            single = dict(rows[0], notice_version=select(func.max(NoticeVersion.number)).where(
                NoticeVersion.notice_id == rows[0]["notice_id"]).scalar_subquery())
            statement = (_insert(session)(ConsentEvent).values(**single)
                         .on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(ConsentEvent))
            inserted.update((event.uid, event) for event in session.scalars(statement))
        else:
            # executemany form: the statement is compiled once per process and cached
            statement = (_insert(session)(ConsentEvent).on_conflict_do_nothing(index_elements=["idempotency_key"])
                         .returning(ConsentEvent))
            inserted.update((event.uid, event) for event in session.scalars(statement, rows))
        _project_all(session, list(inserted.values()))
    return inserted, states_after


def _identity_kind(item: _Item) -> str | None:
    used = item.used_identity()
    if used is None and item.identity is not None and item.identity == item.person.new_identity:
        return item.identity.kind.value  # a new person's, inserted by the events' own statement
    return used.kind if used is not None else None


def _new_subject(person: _Person, now: dt.datetime) -> DataSubject:
    return DataSubject(id=uuid.uuid4().hex, residence=person.residence, birth_date=person.birth_date,
                       age_band=person.age_band, merged_into_id=None, version=0, created_at=now, updated_at=now)


def _replayed_keys(rows: Sequence[dict[str, object]], inserted: dict[str, ConsentEvent]) -> list[str]:
    """The idempotency keys of rows the insert skipped: an earlier request recorded them."""
    return [str(row["idempotency_key"]) for row in rows if row["uid"] not in inserted]


def _outcomes(*, rows: Sequence[dict[str, object]], plan: _Plan, inserted: dict[str, ConsentEvent],
              states_after: dict[str, dict[StateKey, StateValue]], replays: dict[str, ConsentEvent] | Exception,
              prefix_errors: bool) -> Iterator[Recorded | Exception]:
    """Each event's outcome: recorded now, recorded before under its idempotency key, or a reused key's conflict.

    ``replays`` are the events of the skipped keys, or the error that kept them from being read.
    """
    by_key = {event.idempotency_key: event for event in inserted.values() if event.idempotency_key}
    if not isinstance(replays, Exception):
        by_key.update(replays)
    for index, (item, where) in enumerate(plan):
        subject = item.person.subject
        assert subject is not None
        kind = _identity_kind(item)
        if isinstance(where, int) and rows[where]["uid"] in inserted:
            yield Recorded(event=inserted[str(rows[where]["uid"])], subject=subject, created=True,
                           identity_kind=kind, state_rows=states_after.get(subject.id))
            continue
        if isinstance(replays, Exception):
            yield replays
            continue
        key = item.context.idempotency_key
        assert key is not None
        event = by_key.get(key)
        if event is None or event.request_hash != item.fingerprint:
            yield _named(IdempotencyConflict(f"idempotency key {key!r} was already used for a different request",
                                             field="Idempotency-Key"), index, prefix_errors)
            continue
        yield Recorded(event=event, subject=subject, created=False, identity_kind=kind,
                       state_rows=states_after.get(subject.id))


def _event_row(policy: CompiledPolicy, item: _Item, versions: Mapping[str, int], now: dt.datetime) -> dict[str, object]:
    resolved, event_in, context = item.resolved, item.event_in, item.context
    keep_ip, keep_agent = evidence_allowed(policy, resolved.notice_id)
    subject = item.person.subject
    assert subject is not None
    identity = item.used_identity()
    return {
        "uid": uuid.uuid4().hex, "subject_id": subject.id, "identity_id": identity.id if identity else None,
        "kind": resolved.kind.value, "target": resolved.target, "notice_id": resolved.notice_id,
        "notice_version": versions.get(resolved.notice_id), "jurisdiction": resolved.jurisdiction,
        "collection_point": event_in.collection_point.value, "actor": event_in.actor.value,
        "actor_ref": event_in.actor_ref, "evidence_hash": item.evidence,
        "ip_address": context.ip_address if keep_ip else None,
        "user_agent": ((context.user_agent or "")[:512] or None) if keep_agent else None,
        "occurred_at": item.occurred_at, "recorded_at": now, "expires_at": event_in.expires_at,
        "idempotency_key": context.idempotency_key, "request_hash": item.fingerprint,
        "policy_revision": policy.revision}


_EVENT_COLUMNS = tuple(column.name for column in ConsentEvent.__table__.columns)
_EVENT_INSERTED = tuple(name for name in _EVENT_COLUMNS if name not in ("id", "notice_version"))


def _pg_type(name: str) -> str:
    return str(ConsentEvent.__table__.c[name].type.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


#: Consent events on PostgreSQL, in one round trip and one statement whatever their number: append
#: the events (nothing for one whose idempotency key was used before), each with the notice version
#: in force, and write their effects onto the projection where an event is later than what is
#: stored (the latest per key when several events of the run touch it, in one key order for every
#: writer, so concurrent runs never deadlock). The events and their effects travel as two JSON
#: documents (one C-encoded string each, where arrays would be dumped value by value in Python), so
#: the statement text is the same for 1 or 1,000 events and psycopg prepares it once on the server;
#: the ORM loads the returned rows straight into the session. Each event comes back with its
#: subject's projection as this statement left it (the rows it wrote, and the stored rows it did not
#: touch), so the answer needs no read-back statement. People never seen before may come too (a
#: third document): their subjects and identities are inserted first and the events of the new
#: identity take its id. An identity someone else inserted meanwhile breaks its unique key, and the
#: whole statement with it: nothing is written (the caller records the run in a transaction).
_INSERT_MANY_POSTGRESQL = text(f"""
WITH person AS (
    SELECT * FROM json_to_recordset(CAST(:people AS json))
        AS p(id varchar, residence varchar, birth_date date, age_band varchar, created_at timestamptz,
             kind varchar, value varchar)
), new_subject AS (
    INSERT INTO data_subject (id, residence, birth_date, age_band, merged_into_id, version, created_at, updated_at)
    SELECT p.id, p.residence, p.birth_date, p.age_band, NULL, 0, p.created_at, p.created_at FROM person p
), new_identity AS (
    INSERT INTO subject_identity (subject_id, kind, value, created_at)
    SELECT p.id, p.kind, p.value, p.created_at FROM person p ORDER BY p.kind, p.value
    RETURNING id, kind, value
), incoming AS (
    SELECT * FROM json_to_recordset(CAST(:events AS json))
        AS r({", ".join(f"{name} {_pg_type(name)}" for name in _EVENT_INSERTED)}, n integer,
             new_kind varchar, new_value varchar)
), ev AS (
    INSERT INTO consent_event ({", ".join(_EVENT_INSERTED)}, notice_version)
    SELECT {", ".join(f"r.{name}" if name != "identity_id" else
                      "coalesce(r.identity_id, (SELECT i.id FROM new_identity i"
                      " WHERE i.kind = r.new_kind AND i.value = r.new_value))" for name in _EVENT_INSERTED)},
           (SELECT max(v.number) FROM notice_version v WHERE v.notice_id = r.notice_id)
    FROM incoming r ORDER BY r.n
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING {", ".join(_EVENT_COLUMNS)}
), projected AS (
    INSERT INTO consent_state AS s (subject_id, aspect, notice_id, target, value, expires_at, occurred_at, event_id)
    SELECT DISTINCT ON (ev.subject_id, e.aspect, e.notice_id, e.target)
           ev.subject_id, e.aspect, e.notice_id, e.target, e.value, e.expires_at, ev.occurred_at, ev.id
    FROM json_to_recordset(CAST(:effects AS json))
        AS e(uid text, aspect text, notice_id text, target text, value text, expires_at timestamptz)
    JOIN ev ON ev.uid = e.uid
    ORDER BY ev.subject_id, e.aspect, e.notice_id, e.target, ev.occurred_at DESC, ev.id DESC
    ON CONFLICT (subject_id, aspect, notice_id, target) DO UPDATE
    SET value = excluded.value, expires_at = excluded.expires_at, occurred_at = excluded.occurred_at,
        event_id = excluded.event_id
    WHERE (excluded.occurred_at, excluded.event_id) > (s.occurred_at, s.event_id)
    RETURNING s.subject_id, s.aspect, s.notice_id, s.target, s.value, s.expires_at, s.occurred_at, s.event_id
), after AS (
    SELECT * FROM projected
    UNION ALL
    SELECT s.subject_id, s.aspect, s.notice_id, s.target, s.value, s.expires_at, s.occurred_at, s.event_id
    FROM consent_state s
    WHERE s.subject_id IN (SELECT subject_id FROM ev) AND NOT EXISTS (
        SELECT FROM projected p WHERE (p.subject_id, p.aspect, p.notice_id, p.target)
                                    = (s.subject_id, s.aspect, s.notice_id, s.target))
)
SELECT ev.*,
       (SELECT json_agg(json_build_array(a.aspect, a.notice_id, a.target, a.value, a.expires_at, a.occurred_at,
                                         a.event_id))
        FROM after a WHERE a.subject_id = ev.subject_id) AS state_rows
FROM ev
""").columns(*ConsentEvent.__table__.columns, column("state_rows", JSON))
_LOAD_INSERTED = select(ConsentEvent, _INSERT_MANY_POSTGRESQL.selected_columns.state_rows).from_statement(
    _INSERT_MANY_POSTGRESQL)
#: The same statement for psycopg itself (``record_events_direct``): its text with ``%(name)s`` parameters.
#: Its whitespace folded: psycopg parses a statement text once and caches it only up to 4,096 characters.
_INSERT_MANY_DIRECT = " ".join(str(_INSERT_MANY_POSTGRESQL.compile(
    dialect=postgresql.psycopg.dialect())).split())  # type: ignore[no-untyped-call]


#: The people behind many identities, in one statement whatever their number (psycopg prepares it once).
_FIND_DIRECT = """
SELECT i.id, i.kind, i.value, i.created_at, s.id, s.residence, s.birth_date, s.age_band, s.merged_into_id,
       s.version, s.created_at, s.updated_at
FROM subject_identity i JOIN data_subject s ON s.id = i.subject_id
WHERE (i.kind, i.value) IN (SELECT * FROM unnest(%(kinds)s::varchar[], %(values)s::varchar[]))
"""


async def _find_direct(connection: psycopg.AsyncConnection[Any], identities: Sequence[Identity],
                       ) -> dict[Identity | str, tuple[DataSubject, SubjectIdentity | None]] | None:
    """What ``subjects.find_many`` finds, as unattached objects; None when a subject was merged into another."""
    cursor = await connection.execute(_FIND_DIRECT, {"kinds": [i.kind.value for i in identities],
                                                     "values": [i.value for i in identities]})
    found: dict[Identity | str, tuple[DataSubject, SubjectIdentity | None]] = {}
    people: dict[str, DataSubject] = {}
    for (identity_id, kind, value, identity_created, subject_id, residence, birth_date, age_band, merged_into_id,
         version, created_at, updated_at) in await cursor.fetchall():
        if merged_into_id is not None:  # the merged-into subject is the person: the session path follows it
            return None
        subject = people.get(subject_id)
        if subject is None:
            subject = people[subject_id] = unattached(DataSubject, {
                "id": subject_id, "residence": residence, "birth_date": birth_date, "age_band": age_band,
                "merged_into_id": None, "version": version, "created_at": _utc(created_at),
                "updated_at": _utc(updated_at)})
        found[Identity(IdentityKind(kind), value)] = (subject, unattached(SubjectIdentity, {
            "id": identity_id, "subject_id": subject_id, "kind": kind, "value": value,
            "created_at": _utc(identity_created)}))
    return found


def _utc(value: dt.datetime) -> dt.datetime:
    """A timestamp as ``UTCDateTime`` loads it (psycopg gives the session's time zone)."""
    return value.astimezone(dt.UTC)


_EVENT_TIMES = frozenset({"occurred_at", "recorded_at", "expires_at"})


def _unattached_event(row: Sequence[Any]) -> ConsentEvent:
    """A consent event from a row of ``_EVENT_COLUMNS``, as the ORM would load it."""
    return unattached(ConsentEvent, {name: (_utc(value) if name in _EVENT_TIMES and value is not None else value)
                                     for name, value in zip(_EVENT_COLUMNS, row, strict=False)})


_EARLIER_DIRECT = f"""
SELECT {", ".join(_EVENT_COLUMNS)} FROM consent_event WHERE idempotency_key = ANY(%(keys)s::varchar[])
"""
_PROJECTIONS_DIRECT = """
SELECT subject_id, aspect, notice_id, target, value, expires_at, occurred_at, event_id
FROM consent_state WHERE subject_id = ANY(%(ids)s::varchar[])
"""


async def _earlier_events_direct(connection: psycopg.AsyncConnection[Any], keys: Sequence[str],
                                 ) -> dict[str, ConsentEvent]:
    """Events already recorded under these idempotency keys."""
    if not keys:
        return {}
    cursor = await connection.execute(_EARLIER_DIRECT, {"keys": list(keys)})
    return {str(event.idempotency_key): event for event in map(_unattached_event, await cursor.fetchall())}


async def _read_projections(connection: psycopg.AsyncConnection[Any], subject_ids: set[str],
                            states: dict[str, dict[StateKey, StateValue]]) -> None:
    """The projection rows of these subjects, into ``states``."""
    if not subject_ids:
        return
    for subject_id in subject_ids:
        states[subject_id] = {}
    cursor = await connection.execute(_PROJECTIONS_DIRECT, {"ids": sorted(subject_ids)})
    for subject_id, aspect, notice_id, target, value, expires_at, occurred_at, event_id in await cursor.fetchall():
        states[subject_id][(aspect, notice_id, target)] = StateValue(
            value, expires_at and _utc(expires_at), _utc(occurred_at), event_id)


def _json_value(value: object) -> str:
    if isinstance(value, dt.date):  # dates and datetimes
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in a consent event row")


def _insert_many_postgresql(session: Session, rows: Sequence[dict[str, object]],
                            ) -> list[tuple[ConsentEvent, dict[StateKey, StateValue]]]:
    """Append events and project them (see ``_INSERT_MANY_POSTGRESQL``); one whose key was used before is left out.

    Each event comes with its subject's projection rows after the statement. The session path has
    inserted its new people already (``_create_people``); only the direct path sends them along.
    """
    loaded = session.execute(_LOAD_INSERTED, _insert_many_parameters(rows, ()))
    return [(event, _state_rows(state_rows)) for event, state_rows in loaded]


def _insert_many_parameters(rows: Sequence[dict[str, object]], people: Sequence[dict[str, object]],
                            ) -> dict[str, str]:
    """The three JSON documents of ``_INSERT_MANY_POSTGRESQL``: events, their effects, new people."""
    found = [{"uid": row["uid"], "aspect": effect.aspect, "notice_id": effect.notice_id, "target": effect.target,
              "value": effect.value, "expires_at": effect.expires_at}
             for row in rows
             for effect in effects(kind=EventKind(str(row["kind"])), notice_id=str(row["notice_id"]),
                                   target=str(row["target"]), collection_point=str(row["collection_point"]),
                                   expires_at=row["expires_at"])]  # type: ignore[arg-type]
    return {"events": json.dumps([dict(row, n=n) for n, row in enumerate(rows)], default=_json_value),
            "effects": json.dumps(found, default=_json_value), "people": json.dumps(people, default=_json_value)}


def _moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def _state_rows(rows: list[list[Any]] | None) -> dict[StateKey, StateValue]:
    """Projection rows as ``json_build_array`` sent them (times as ISO 8601 text with their offset)."""
    return {(aspect, notice_id, target): StateValue(value, expires_at and _moment(expires_at), _moment(occurred_at),
                                                    event_id)
            for aspect, notice_id, target, value, expires_at, occurred_at, event_id in rows or ()}


def _create_people(*, session: Session, policy: CompiledPolicy, people: Sequence[_Person]) -> None:
    """Insert the new subjects and their identities in two statements; one someone else created meanwhile is theirs."""
    if not people:
        return
    for person in people:
        person.subject = _new_subject(person, utcnow())
    subjects.insert_subjects(session=session, subjects=[person.subject for person in people
                                                        if person.subject is not None])
    created = subjects.insert_identities(session=session, rows=[
        (person.subject.id, person.new_identity) for person in people
        if person.subject is not None and person.new_identity is not None])
    for person in people:
        assert person.new_identity is not None and person.subject is not None
        person.identity = created.get(person.new_identity)
        if person.identity is None:  # created by a concurrent request: use theirs
            session.delete(person.subject)
            session.flush()
            person.subject, person.identity = subjects.find_with_identity(session=session,
                                                                          reference=person.new_identity)
            assert person.subject is not None


def _insert(session: Session) -> Callable[..., postgresql.Insert | sqlite.Insert]:
    """INSERT with ON CONFLICT, in the dialect of the session's database."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _notice_versions(session: Session, notice_ids: set[str]) -> dict[str, int]:
    """The published version in force of each notice, read in this transaction."""
    if not notice_ids:
        return {}
    query = (select(NoticeVersion.notice_id, func.max(NoticeVersion.number))
             .where(NoticeVersion.notice_id.in_(notice_ids)).group_by(NoticeVersion.notice_id))
    return {notice_id: int(number) for notice_id, number in session.execute(query)}


def _earlier_events(session: Session, keys: Sequence[str]) -> dict[str, ConsentEvent]:
    """Events already recorded under these idempotency keys."""
    if not keys:
        return {}
    found = session.scalars(select(ConsentEvent).where(ConsentEvent.idempotency_key.in_(keys)))
    return {str(event.idempotency_key): event for event in found}


def _project_all(session: Session, events: Sequence[ConsentEvent]) -> None:
    """Write the effects of many events in one statement, keeping only the latest per key."""
    latest: dict[tuple[str, str, str, str], dict[str, object]] = {}
    for event in events:
        for effect in effects(kind=EventKind(event.kind), notice_id=event.notice_id, target=event.target,
                              collection_point=event.collection_point, expires_at=event.expires_at):
            key = (event.subject_id, effect.aspect, effect.notice_id, effect.target)
            current = latest.get(key)
            if current is not None and (current["occurred_at"], current["event_id"]) >= (event.occurred_at, event.id):
                continue
            latest[key] = {"subject_id": event.subject_id, "aspect": effect.aspect, "notice_id": effect.notice_id,
                           "target": effect.target, "value": effect.value, "expires_at": effect.expires_at,
                           "occurred_at": event.occurred_at, "event_id": event.id}
    rows = [latest[key] for key in sorted(latest)]  # one lock order for every writer: no deadlocks
    if rows:
        _upsert_rows(session, rows)


def honour_gpc(*, session: Session, policy: CompiledPolicy, subject: DataSubject,
               identity: SubjectIdentity | None = None, now: dt.datetime | None = None) -> ConsentEvent | None:
    """Record a Global Privacy Control signal as an opt-out of sale and sharing, where the law recognises it.

    Cal. Civ. Code § 1798.135 and 11 CCR § 7025 (and Colorado, Connecticut) make the browser signal
    a valid request to opt out; S0 promised to honour such a standard "once one exists". Only the
    first signal is recorded: a subject already opted out by GPC gets no new event.
    """
    code = subjects.jurisdiction_of(policy, subject)
    jurisdiction = policy.jurisdictions.get(code)
    if jurisdiction is None or OptOutSignal.GPC not in jurisdiction.opt_out_signals:
        return None
    if _gpc_on(session, subject.id):
        return None  # the usual case, a browser sending the signal again: no lock taken
    subjects.lock_subject(session=session, subject_id=subject.id)
    if _gpc_on(session, subject.id):
        return None  # another request with the signal recorded it while we waited for the lock
    now = now or utcnow()
    event = ConsentEvent(
        uid=uuid.uuid4().hex, subject_id=subject.id, identity_id=identity.id if identity else None,
        kind=EventKind.OPTED_OUT.value, target=OptOut.SALE_SHARE.value, notice_id="", notice_version=None,
        jurisdiction=code, collection_point=CollectionPoint.GPC_SIGNAL.value, actor=Actor.SUBJECT.value,
        actor_ref="Sec-GPC: 1", evidence_hash=None, ip_address=None, user_agent=None, occurred_at=now,
        recorded_at=now, expires_at=None, idempotency_key=None, request_hash=None, policy_revision=policy.revision)
    session.add(event)
    session.flush()
    _project(session, subject.id, event)
    return event


def _gpc_on(session: Session, subject_id: str) -> bool:
    current = session.get(ConsentStateRow, (subject_id, Aspect.GPC, "", ""), populate_existing=True)
    return current is not None and current.value == "on"


def gpc_for(*, session: Session, policy: CompiledPolicy, reference: str,
            residence: str | None = None) -> tuple[DataSubject, ConsentEvent | None]:
    """Honour a GPC signal for the person or browser a request names, creating the subject if new."""
    parsed = subjects.parse_reference(reference, residence=residence)
    subject, identity = subjects.find_with_identity(session=session, reference=parsed)
    if subject is None:
        assert isinstance(parsed, Identity)
        subject, identity, _created = subjects.ensure_subject(
            session=session, policy=policy, identity=parsed, residence=subjects.check_residence(policy, residence))
    return subject, honour_gpc(session=session, policy=policy, subject=subject, identity=identity)


#: The earliest time an event may say it happened: before it, a date is a typing slip (year 1, 202).
EARLIEST_EVENT = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)


def _check_times(event_in: ConsentEventCreate, now: dt.datetime) -> dt.datetime:
    for name in ("occurred_at", "expires_at"):
        value = getattr(event_in, name)
        if value is None:
            continue
        if value.tzinfo is None:
            raise ConsentError(f"{name} needs a time zone (e.g. 2025-01-31T12:00:00Z)", field=name)
        try:  # 0001-01-01T00:00+14:00 or 9999-12-31T23:59-14:00 has no UTC time
            value.astimezone(dt.UTC)
        except OverflowError:
            raise ConsentError(f"{name} {value.isoformat()} is out of range", field=name) from None
    occurred_at = event_in.occurred_at.astimezone(dt.UTC) if event_in.occurred_at else now
    if occurred_at < EARLIEST_EVENT:
        raise ConsentError(f"occurred_at lies before {EARLIEST_EVENT.year}", field="occurred_at")
    if occurred_at > now + CLOCK_SKEW:
        raise ConsentError("occurred_at lies in the future", field="occurred_at")
    if event_in.expires_at is not None and event_in.expires_at <= occurred_at:
        raise ConsentError("expires_at must come after the event", field="expires_at")
    return occurred_at


def _check_guardian(policy: CompiledPolicy, event_in: ConsentEventCreate, resolved: Resolved, *,
                    birth_date: dt.date | None, age_band: str | None, today: dt.date) -> None:
    """A guardian speaks for a child only (GDPR Art. 8(1), COPPA, S3 §13); refuse it for a known adult."""
    guardian_event = resolved.kind in PARENTAL_KINDS
    if guardian_event and event_in.actor is not Actor.GUARDIAN:
        raise ConsentError("parental consent is given or withdrawn by a guardian (actor: guardian)", field="actor")
    if not guardian_event and event_in.actor is not Actor.GUARDIAN:
        return
    known = age_range(birth_date=birth_date, age_band=age_band, today=today)
    limit = child_age(policy, resolved.jurisdiction, resolved.notice_id or None)
    if known is not None and limit is not None and known.minimum >= limit.age:
        age = known.canonical() if known.maximum != known.minimum else str(known.minimum)
        raise NotAChild(f"the subject is {age}, an adult where the child age is under {limit.age} "
                        f"({limit.source}): a guardian cannot act for them", field="actor")


# --- the projection ---------------------------------------------------------------------------------


def _project(session: Session, subject_id: str, event: ConsentEvent) -> None:
    """Write one event's effects onto the subject's projection rows."""
    _project_all(session, [event])


def _upsert_rows(session: Session, rows: list[dict[str, object]]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE, but only where the incoming event is later than the stored one."""
    statement = _insert(session)(ConsentStateRow)
    newer = tuple_(statement.excluded.occurred_at, statement.excluded.event_id) > tuple_(
        ConsentStateRow.occurred_at, ConsentStateRow.event_id)
    statement = statement.on_conflict_do_update(
        index_elements=["subject_id", "aspect", "notice_id", "target"],
        set_={"value": statement.excluded.value, "expires_at": statement.excluded.expires_at,
              "occurred_at": statement.excluded.occurred_at, "event_id": statement.excluded.event_id},
        where=newer)
    session.execute(statement, rows)  # executemany: compiled once, cached


_PROJECTION_OF = select(ConsentStateRow.aspect, ConsentStateRow.notice_id, ConsentStateRow.target,
                        ConsentStateRow.value, ConsentStateRow.expires_at, ConsentStateRow.occurred_at,
                        ConsentStateRow.event_id).where(ConsentStateRow.subject_id == bindparam("subject_id"))


def projection_rows(*, session: Session, subject_id: str) -> dict[StateKey, StateValue]:
    """The projection as stored for one subject (plain rows on the session's connection: no ORM loading)."""
    session.flush()  # Core execution skips autoflush
    rows = session.connection().execute(_PROJECTION_OF, {"subject_id": subject_id})
    return {(aspect, notice_id, target): StateValue(value, expires_at, occurred_at, event_id)
            for aspect, notice_id, target, value, expires_at, occurred_at, event_id in rows}


_PROJECTIONS_OF = select(ConsentStateRow.subject_id, *_PROJECTION_OF.selected_columns).where(
    ConsentStateRow.subject_id.in_(bindparam("subject_ids", expanding=True)))


def subject_states(*, session: Session | None, data_subjects: Sequence[DataSubject],
                   known: Mapping[str, dict[StateKey, StateValue]] | None = None,
                   today: dt.date | None = None) -> dict[str, SubjectState]:
    """The states of several subjects from the projection, in one query (the answers of a group commit).

    ``known`` holds projection rows already in hand (``Recorded.state_rows``): those subjects are
    not read again, and when every subject is known no session is needed.
    """
    known = known or {}
    rows: dict[str, dict[StateKey, StateValue]] = {subject.id: {} for subject in data_subjects
                                                   if subject.id not in known}
    if rows:
        if session is None:
            raise ValueError("the projection of a subject not known must be read: a session is needed")
        session.flush()
        for subject_id, aspect, notice_id, target, value, expires_at, occurred_at, event_id in (
                session.connection().execute(_PROJECTIONS_OF, {"subject_ids": list(rows)})):
            rows[subject_id][(aspect, notice_id, target)] = StateValue(value, expires_at, occurred_at, event_id)
    return {subject.id: state_of(subject, known[subject.id] if subject.id in known else rows[subject.id],
                                 today=today) for subject in data_subjects}


def rebuild_subject(*, session: Session, subject_id: str) -> None:
    """Rewrite one subject's projection from the ledger (after a merge brings in another history)."""
    expected = replay(ledger(session=session, subject_id=subject_id))
    ids = subjects.group_ids(session=session, subject_id=subject_id)
    session.execute(delete(ConsentStateRow).where(ConsentStateRow.subject_id.in_(ids)))
    session.add_all(_rows(subject_id, expected))
    session.flush()


def _rows(subject_id: str, expected: dict[StateKey, StateValue]) -> list[ConsentStateRow]:
    return [ConsentStateRow(subject_id=subject_id, aspect=aspect, notice_id=notice_id, target=target,
                            value=value.value, expires_at=value.expires_at, occurred_at=value.occurred_at,
                            event_id=value.event_id)
            for (aspect, notice_id, target), value in expected.items()]


@dataclass
class RebuildReport:
    """What a replay of the whole ledger found: how much it read and where the projection differs."""

    subjects: int = 0
    events: int = 0
    rows: int = 0
    differences: dict[str, list[str]] = field(default_factory=dict)
    rewritten: bool = False

    @property
    def consistent(self) -> bool:
        return not self.differences


def rebuild(*, session: Session, check: bool = True, batch_size: int = 5000) -> RebuildReport:
    """Replay the ledger; with ``check``, compare with the projection; otherwise rewrite it from the replay."""
    roots = {subject_id: merged_into for subject_id, merged_into in
             session.execute(select(DataSubject.id, DataSubject.merged_into_id))}
    expected: dict[str, list[ConsentEvent]] = {}
    report = RebuildReport()
    for event in _all_events(session, batch_size):
        root = roots.get(event.subject_id) or event.subject_id
        expected.setdefault(root, []).append(event)
        report.events += 1
    replayed = {subject_id: replay(events) for subject_id, events in expected.items()}
    stored: dict[str, dict[StateKey, StateValue]] = {}
    for row in session.scalars(select(ConsentStateRow)):
        stored.setdefault(row.subject_id, {})[(row.aspect, row.notice_id, row.target)] = StateValue(
            row.value, row.expires_at, row.occurred_at, row.event_id)
    report.subjects = len(set(replayed) | set(stored))
    report.rows = sum(len(rows) for rows in replayed.values())
    for subject_id in sorted(set(replayed) | set(stored)):
        found = differences(replayed.get(subject_id, {}), stored.get(subject_id, {}))
        if found:
            report.differences[subject_id] = found
    if not check and report.differences:
        session.execute(delete(ConsentStateRow))
        for subject_id, rows in replayed.items():
            session.add_all(_rows(subject_id, rows))
        session.flush()
        report.rewritten = True
    return report


def _all_events(session: Session, batch_size: int) -> Iterator[ConsentEvent]:
    last = 0
    while True:
        batch = list(session.scalars(select(ConsentEvent).where(ConsentEvent.id > last)
                                     .order_by(ConsentEvent.id).limit(batch_size)))
        if not batch:
            return
        yield from batch
        last = batch[-1].id
        session.expunge_all()


# --- reading ----------------------------------------------------------------------------------------


def ledger(*, session: Session, subject_id: str) -> list[ConsentEvent]:
    """Every event of this person (and of browsers merged into them), in the order they were recorded."""
    ids = subjects.group_ids(session=session, subject_id=subject_id)
    query = select(ConsentEvent).where(ConsentEvent.subject_id.in_(ids)).order_by(ConsentEvent.id)
    return list(session.scalars(query))


def subject_state(*, session: Session, policy: CompiledPolicy, subject_id: str,
                  today: dt.date | None = None) -> SubjectState:
    """The state the decision engine reads, built from the projection (never from the ledger)."""
    subject = subjects.get_subject(session=session, subject_id=subject_id)
    return state_of(subject, projection_rows(session=session, subject_id=subject.id), today=today)


def state_of(subject: DataSubject, rows: dict[StateKey, StateValue], *, today: dt.date | None = None) -> SubjectState:
    """Fold projection rows and the subject's residence and age into a SubjectState."""
    consents: dict[tuple[str, str], ConsentState] = {}
    objections: set[tuple[str, str]] = set()
    opt_outs: set[str] = set()
    channels_off: set[MarketingChannel] = set()
    cookies: set[str] = set()
    flags = {"objects_to_marketing": False, "restricted": False, "gpc": False, "parental_consent": False}
    guardian_seen = False
    for (aspect, notice_id, target), value in rows.items():
        if aspect == Aspect.CONSENT:
            consents[(notice_id, target)] = ConsentState(ConsentStatus(value.value), value.expires_at)
        elif aspect == Aspect.OBJECTION and value.value == "raised":
            if target == DIRECT_MARKETING:
                flags["objects_to_marketing"] = True
            else:
                objections.add((notice_id, target))
        elif aspect == Aspect.RESTRICTION:
            flags["restricted"] = value.value == "on"
        elif aspect == Aspect.OPT_OUT and value.value == "on":
            opt_outs.add(target)
        elif aspect == Aspect.GPC:
            flags["gpc"] = value.value == "on"
        elif aspect == Aspect.CHANNEL and value.value == "off":
            channels_off.add(MarketingChannel(target))
        elif aspect == Aspect.COOKIE and value.value == "accepted":
            cookies.add(target)
        elif aspect == Aspect.PARENTAL:
            guardian_seen = True
            flags["parental_consent"] = value.value == "given"
    known = age_range(birth_date=subject.birth_date, age_band=subject.age_band, today=today)
    birth_date = subject.birth_date
    if birth_date is None and known is not None:
        birth_date = _latest_birth_date(known.minimum, today or dt.date.today())
    return SubjectState(
        jurisdiction=subject.residence, birth_date=birth_date, is_child=known is None and guardian_seen,
        consents=MappingProxyType(consents), objections=frozenset(objections),
        opt_out_sale_share=OptOut.SALE_SHARE in opt_outs,
        opt_out_targeted_advertising=OptOut.TARGETED_ADVERTISING in opt_outs,
        opt_out_profiling=OptOut.PROFILING in opt_outs, limit_sensitive=OptOut.LIMIT_SENSITIVE in opt_outs,
        channels_off=frozenset(channels_off), cookie_categories=frozenset(cookies), **flags)


def _latest_birth_date(years: int, today: dt.date) -> dt.date:
    """The latest birth date of someone at least ``years`` old today (29 February falls back to the 28th)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def state_read(*, policy: CompiledPolicy, subject: DataSubject, state: SubjectState) -> SubjectStateRead:
    """A SubjectState as JSON for the API and the CLI."""
    return SubjectStateRead(
        subject_id=subject.id, residence=subject.residence, jurisdiction=policy.resolve_jurisdiction(subject.residence),
        birth_date=state.birth_date, is_child=state.is_child, parental_consent=state.parental_consent,
        consents=[ConsentRead(notice=notice, purpose=purpose, status=consent.status.value,
                              expires_at=consent.expires_at)
                  for (notice, purpose), consent in sorted(state.consents.items())],
        objections=[f"{notice}/{purpose}" for notice, purpose in sorted(state.objections)],
        objects_to_marketing=state.objects_to_marketing, restricted=state.restricted,
        opt_out_sale_share=state.opt_out_sale_share, opt_out_targeted_advertising=state.opt_out_targeted_advertising,
        opt_out_profiling=state.opt_out_profiling, gpc=state.gpc, limit_sensitive=state.limit_sensitive,
        channels_off=sorted(channel.value for channel in state.channels_off),
        cookie_categories=sorted(state.cookie_categories))


def event_read(*, session: Session | None, event: ConsentEvent, identity_kind: str | None = None) -> ConsentEventRead:
    """An event as JSON: the identity used is shown by kind only (read with ``session`` when not given)."""
    if identity_kind is None and event.identity_id:
        if session is None:
            raise ValueError("the kind of the identity used must be read: a session is needed")
        identity = session.get(SubjectIdentity, event.identity_id)
        identity_kind = identity.kind if identity else None
    return ConsentEventRead(
        uid=event.uid, subject_id=event.subject_id, identity=identity_kind,
        kind=EventKind(event.kind), target=event.target, notice_id=event.notice_id,
        notice_version=event.notice_version, jurisdiction=event.jurisdiction,
        collection_point=CollectionPoint(event.collection_point), actor=Actor(event.actor),
        actor_ref=event.actor_ref, evidence_hash=event.evidence_hash, ip_address=event.ip_address,
        user_agent=event.user_agent, occurred_at=event.occurred_at, recorded_at=event.recorded_at,
        expires_at=event.expires_at, idempotency_key=event.idempotency_key)


def get_event(*, session: Session, uid: str) -> ConsentEvent:
    """One ledger event by its public id."""
    event = session.scalars(select(ConsentEvent).where(ConsentEvent.uid == uid)).one_or_none()
    if event is None:
        raise ConsentError(f"no consent event {uid!r}", field="event")
    return event


def link_identity(*, session: Session, policy: CompiledPolicy, subject_id: str,
                  identity: Identity) -> tuple[DataSubject, DataSubject | None]:
    """Link an identity (a browser id at login) to a subject; a merged browser's history becomes theirs."""
    subject = subjects.get_subject(session=session, subject_id=subject_id)
    _stored, merged = subjects.link_identity(session=session, policy=policy, subject=subject, identity=identity)
    if merged is not None:
        rebuild_subject(session=session, subject_id=subject.id)
    return subject, merged


def subjects_with(*, session: Session, kind: IdentityKind) -> Sequence[str]:
    """Ids of live (not merged) subjects holding at least one identity of this kind."""
    query = (select(DataSubject.id).join(SubjectIdentity, SubjectIdentity.subject_id == DataSubject.id)
             .where(SubjectIdentity.kind == kind.value, DataSubject.merged_into_id.is_(None))
             .distinct().order_by(DataSubject.id))
    return list(session.scalars(query))
