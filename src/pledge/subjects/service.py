"""Finding, creating and linking data subjects.

Services take a session and the compiled policy, keyword-only, and never commit: the caller's
unit of work does. Errors are ``SubjectError`` subclasses whose message is fit to show a person
and whose ``status`` is the HTTP status the API answers with.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from typing import TypeVar

import phonenumbers
from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy import insert as insert_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from pledge.errors import DomainError
from pledge.policy import CompiledPolicy
from pledge.store import utcnow
from pledge.subjects.age import (
    AgeBandError,
    AgeRange,
    ChildAge,
    age_on,
    age_range,
    child_age,
    is_child,
    parse_age_band,
)
from pledge.subjects.identities import (
    ANONYMOUS_KINDS,
    Identity,
    IdentityError,
    IdentityKind,
    normalise,
    parse,
    region_of,
)
from pledge.subjects.models import DataSubject, SubjectIdentity
from pledge.subjects.schemas import IdentityRead, SubjectCreate, SubjectRead

T = TypeVar("T", DataSubject, SubjectIdentity)

#: ``subject:<id>`` names a subject by pledge's own id wherever an identity is accepted.
SUBJECT_PREFIX = "subject:"

_RESIDENCE = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")
_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)


class SubjectError(DomainError):
    """A request about subjects that cannot be done; ``field`` names the input at fault."""

    status = 422
    title = "Invalid subject"
    type = "urn:pledge:problem:invalid-subject"


class InvalidIdentity(SubjectError):
    title = "Invalid identity"
    type = "urn:pledge:problem:invalid-identity"


class UnknownJurisdiction(SubjectError):
    title = "Unknown jurisdiction"
    type = "urn:pledge:problem:unknown-jurisdiction"


class UnknownSubject(SubjectError):
    status = 404
    title = "Unknown subject"
    type = "urn:pledge:problem:unknown-subject"


class IdentityConflict(SubjectError):
    status = 409
    title = "Identity belongs to someone else"
    type = "urn:pledge:problem:identity-conflict"


# --- pure helpers -----------------------------------------------------------------------------------


def check_residence(policy: CompiledPolicy, residence: str | None, *, field: str = "residence") -> str | None:
    """The residence in canonical form (``us-ca`` -> ``US-CA``); refuses codes that name no place pledge knows."""
    if residence is None or not residence.strip():
        return None
    code = residence.strip()
    if code in policy.jurisdictions:
        return code
    upper = code.upper()
    if upper in policy.jurisdictions or upper in policy.member_jurisdiction:
        return upper
    if _RESIDENCE.match(upper) and (upper[:2] in _COUNTRIES or upper[:2] in policy.jurisdictions
                                    or upper[:2] in policy.member_jurisdiction):
        return upper
    known = ", ".join(sorted(policy.jurisdictions))
    raise UnknownJurisdiction(f"unknown jurisdiction {residence!r}: give an ISO 3166 code (DE, GB, US-CA ...) "
                              f"or a policy jurisdiction ({known})", field=field)


def check_age_band(age_band: str | None, *, field: str = "age_band") -> str | None:
    """The band in canonical form (``13 - 15`` -> ``13-15``), or a SubjectError naming the accepted forms."""
    if age_band is None or not age_band.strip():
        return None
    try:
        return parse_age_band(age_band).canonical()
    except AgeBandError as exc:
        raise SubjectError(str(exc), field=field) from None


#: Older than this is no living person's age (the oldest verified lifespan is 122 years).
OLDEST_AGE = 130


def check_birth_date(birth_date: dt.date | None, *, today: dt.date, field: str = "birth_date") -> dt.date | None:
    """The date, or a SubjectError when it cannot be a living person's: child status follows from it
    (a date in the future would make anyone a child forever after).

    ``today`` is the UTC date; a day of slack admits a baby born today east of Greenwich (UTC+14).
    """
    if birth_date is None:
        return None
    if birth_date > today + dt.timedelta(days=1):
        raise SubjectError(f"birth date {birth_date.isoformat()} is in the future", field=field)
    if age_on(birth_date, today) > OLDEST_AGE:
        raise SubjectError(f"birth date {birth_date.isoformat()} would make the person older than {OLDEST_AGE}",
                           field=field)
    return birth_date


def to_identity(kind: IdentityKind | str, value: str, *, residence: str | None = None,
                field: str = "identity") -> Identity:
    """Normalise one identity, turning a bad value into an InvalidIdentity that names the field."""
    try:
        return normalise(kind, value, region=region_of(residence))
    except IdentityError as exc:
        raise InvalidIdentity(str(exc), field=field) from None


def parse_reference(text: str, *, residence: str | None = None, field: str = "subject") -> Identity | str:
    """What a person typed to name someone: an Identity, or a subject id when written ``subject:<id>``."""
    raw = (text or "").strip()
    if raw.lower().startswith(SUBJECT_PREFIX):
        return raw[len(SUBJECT_PREFIX):].strip()
    try:
        return parse(raw, region=region_of(residence))
    except IdentityError as exc:
        raise InvalidIdentity(str(exc), field=field) from None


def jurisdiction_of(policy: CompiledPolicy, subject: DataSubject) -> str:
    """The policy jurisdiction that governs this subject, from their residence."""
    return policy.resolve_jurisdiction(subject.residence)


def subject_age(subject: DataSubject, today: dt.date | None = None) -> AgeRange | None:
    return age_range(birth_date=subject.birth_date, age_band=subject.age_band, today=today)


def child_status(policy: CompiledPolicy, subject: DataSubject, *, notice_id: str | None = None,
                 jurisdiction: str | None = None, today: dt.date | None = None) -> tuple[bool | None, ChildAge | None]:
    """Whether the subject is a child under the rule that applies, and that rule (None when age is unknown)."""
    limit = child_age(policy, jurisdiction or subject.residence, notice_id)
    return is_child(subject_age(subject, today), limit), limit


# --- reading ----------------------------------------------------------------------------------------


def find_identity(*, session: Session, identity: Identity) -> SubjectIdentity | None:
    """The stored identity with this kind and value (one probe of the unique index)."""
    query = select(SubjectIdentity).where(SubjectIdentity.kind == identity.kind.value,
                                          SubjectIdentity.value == identity.value)
    return session.scalars(query).one_or_none()


def get_subject(*, session: Session, subject_id: str) -> DataSubject:
    """The subject with this id, or the one it was merged into; UnknownSubject when there is none."""
    subject = session.get(DataSubject, subject_id)
    seen: set[str] = set()
    while subject is not None and subject.merged_into_id is not None and subject.id not in seen:
        seen.add(subject.id)
        subject = session.get(DataSubject, subject.merged_into_id)
    if subject is None:
        raise UnknownSubject(f"no subject {subject_id!r}", field="subject")
    return subject


def find_subject(*, session: Session, identity: Identity) -> DataSubject | None:
    """The subject holding this identity, if any."""
    stored = find_identity(session=session, identity=identity)
    if stored is None:
        return None
    return get_subject(session=session, subject_id=stored.subject_id)


def find_with_identity(*, session: Session, reference: Identity | str,
                       ) -> tuple[DataSubject | None, SubjectIdentity | None]:
    """The subject a reference names and the stored identity it used, in one query for an identity."""
    if not isinstance(reference, Identity):
        return get_subject(session=session, subject_id=reference), None
    query = (select(SubjectIdentity, DataSubject).join(DataSubject, SubjectIdentity.subject_id == DataSubject.id)
             .where(SubjectIdentity.kind == reference.kind.value, SubjectIdentity.value == reference.value))
    row = session.execute(query).one_or_none()
    if row is None:
        return None, None
    stored, subject = row
    if subject.merged_into_id is not None:
        subject = get_subject(session=session, subject_id=subject.id)
    return subject, stored


#: Subjects and identities by many (kind, value) pairs. Built once: the IN list is an expanding
#: parameter, so the statement is compiled once per process, and the list is padded to a power of two
#: (see ``_padded``), so the database sees a handful of statement texts and keeps each one prepared.
_FIND_MANY = (select(SubjectIdentity, DataSubject).join(DataSubject, SubjectIdentity.subject_id == DataSubject.id)
              .where(tuple_(SubjectIdentity.kind, SubjectIdentity.value).in_(bindparam("pairs", expanding=True))))


def _padded(values: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The list, its last value repeated up to the next power of two (the same answer, fewer statement texts)."""
    size = 1 << (len(values) - 1).bit_length()
    return values + [values[-1]] * (size - len(values))


def find_many(*, session: Session, references: Sequence[Identity | str],
              ) -> dict[Identity | str, tuple[DataSubject, SubjectIdentity | None]]:
    """The subjects many references name, in one query for all the identities; unknown ones are left out."""
    found: dict[Identity | str, tuple[DataSubject, SubjectIdentity | None]] = {}
    identities = list(dict.fromkeys(r for r in references if isinstance(r, Identity)))
    if identities:
        pairs = _padded([(i.kind.value, i.value) for i in identities])
        for stored, subject in session.execute(_FIND_MANY, {"pairs": pairs}):
            if subject.merged_into_id is not None:
                subject = get_subject(session=session, subject_id=subject.id)
            found[Identity(IdentityKind(stored.kind), stored.value)] = (subject, stored)
    for reference in dict.fromkeys(r for r in references if isinstance(r, str)):
        try:
            found[reference] = (get_subject(session=session, subject_id=reference), None)
        except UnknownSubject:
            continue
    return found


def lookup(*, session: Session, reference: Identity | str) -> DataSubject | None:
    """The subject an identity or a subject id names, or None for an identity pledge has not seen."""
    if isinstance(reference, Identity):
        return find_subject(session=session, identity=reference)
    return get_subject(session=session, subject_id=reference)


def merged_ids(*, session: Session, subject_id: str) -> list[str]:
    """Subjects merged into this one (their consent history is this subject's too)."""
    query = select(DataSubject.id).where(DataSubject.merged_into_id == subject_id).order_by(DataSubject.created_at)
    return list(session.scalars(query))


def group_ids(*, session: Session, subject_id: str) -> list[str]:
    """This subject and every subject merged into it: whose ledger events are this person's."""
    return [subject_id, *merged_ids(session=session, subject_id=subject_id)]


def to_read(*, session: Session, policy: CompiledPolicy, subject: DataSubject) -> SubjectRead:
    """The subject as the API and the CLI show it."""
    return SubjectRead(
        id=subject.id, residence=subject.residence, birth_date=subject.birth_date, age_band=subject.age_band,
        jurisdiction=jurisdiction_of(policy, subject),
        identities=[IdentityRead.model_validate(identity) for identity in subject.identities],
        merged_subjects=merged_ids(session=session, subject_id=subject.id), created_at=subject.created_at)


# --- writing ----------------------------------------------------------------------------------------


def lock_subject(*, session: Session, subject_id: str) -> int:
    """Take the subject's write lock for this transaction, so writers about one person queue, never interleave."""
    result = session.execute(update(DataSubject).where(DataSubject.id == subject_id)
                             .values(version=DataSubject.version + 1, updated_at=utcnow())
                             .returning(DataSubject.version))
    version = result.scalar_one_or_none()
    if version is None:
        raise UnknownSubject(f"no subject {subject_id!r}", field="subject")
    return int(version)


def create_subject(*, session: Session, policy: CompiledPolicy, subject_in: SubjectCreate) -> DataSubject:
    """Register a person with their identities; refuses an identity someone else already holds."""
    residence = check_residence(policy, subject_in.residence)
    band = check_age_band(subject_in.age_band)
    birth_date = check_birth_date(subject_in.birth_date, today=utcnow().date())
    identities = [to_identity(item.kind, item.value, residence=residence, field=f"identities.{index}.value")
                  for index, item in enumerate(subject_in.identities)]
    for identity in identities:
        if find_identity(session=session, identity=identity) is not None:
            raise IdentityConflict(f"{identity} already belongs to another subject", field="identities")
    subject = DataSubject(id=uuid.uuid4().hex, residence=residence, birth_date=birth_date, age_band=band,
                          version=0)
    session.add(subject)
    for identity in dict.fromkeys(identities):
        session.add(SubjectIdentity(subject=subject, kind=identity.kind.value, value=identity.value))
    session.flush()
    return subject


def ensure_subject(*, session: Session, policy: CompiledPolicy, identity: Identity, residence: str | None = None,
                   birth_date: dt.date | None = None, age_band: str | None = None,
                   ) -> tuple[DataSubject, SubjectIdentity, bool]:
    """The subject holding ``identity``, created (with this residence and age) when the identity is new.

    Returns (subject, stored identity, created). Two requests creating the same person at once end
    with one subject: the loser of the unique index finds the winner's.
    """
    stored = find_identity(session=session, identity=identity)
    if stored is not None:
        return get_subject(session=session, subject_id=stored.subject_id), stored, False
    residence = check_residence(policy, residence)
    band = check_age_band(age_band)
    now = utcnow()
    birth_date = check_birth_date(birth_date, today=now.date())
    subject = session.scalars(insert_(DataSubject).values(
        id=uuid.uuid4().hex, residence=residence, birth_date=birth_date, age_band=band, version=0, created_at=now,
        updated_at=now).returning(DataSubject)).one()
    # No savepoint (SQLite's driver would commit it): the unique index decides who created the person.
    new_identity = insert_identities(session=session, rows=[(subject.id, identity)]).get(identity)
    if new_identity is None:
        session.delete(subject)
        session.flush()
        stored = _found_after_conflict(session, identity)
        return get_subject(session=session, subject_id=stored.subject_id), stored, False
    return subject, new_identity, True


def _found_after_conflict(session: Session, identity: Identity) -> SubjectIdentity:
    """The identity another transaction inserted while this one was inserting it too.

    On PostgreSQL the losing INSERT ... ON CONFLICT DO NOTHING waits for the winner's commit, and
    the next statement (read committed) sees its row; SQLite runs one writer at a time.
    """
    stored = find_identity(session=session, identity=identity)
    assert stored is not None, "the identity's unique index refused it, so it exists"
    return stored


def _attach_inserted(session: Session, instance: T) -> T:
    """An object whose row this transaction has just inserted with Core, made a persistent one of the session.

    Why: the bulk inserts below skip the ORM's unit of work (a third of the cost of recording a
    consent event for a new person), yet later steps change these subjects through the session.
    """
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


#: RETURNING, so that SQLAlchemy sends the rows as one multi-row statement, not one statement a row.
_INSERT_SUBJECT = insert_(DataSubject).returning(DataSubject.id)


def insert_subjects(*, session: Session, subjects: Sequence[DataSubject]) -> Sequence[DataSubject]:
    """Insert new subjects (transient, id, residence and age set) in one statement; they become the session's own."""
    if not subjects:
        return subjects
    now = utcnow()
    for subject in subjects:
        subject.merged_into_id, subject.version, subject.created_at, subject.updated_at = None, 0, now, now
    session.flush()  # Core execution skips autoflush
    session.connection().execute(_INSERT_SUBJECT, [
        {"id": s.id, "residence": s.residence, "birth_date": s.birth_date, "age_band": s.age_band,
         "merged_into_id": None, "version": 0, "created_at": now, "updated_at": now} for s in subjects])
    for subject in subjects:
        _attach_inserted(session, subject)
    return subjects


def insert_identities(*, session: Session, rows: Sequence[tuple[str, Identity]]) -> dict[Identity, SubjectIdentity]:
    """Insert (subject id, identity) pairs in one statement; an identity that already exists is skipped.

    Returns the identities inserted; one missing from the answer belongs to someone else. The rows
    go in one order for every writer, so two transactions creating the same people never deadlock.
    """
    if not rows:
        return {}
    now = utcnow()
    values = [{"subject_id": subject_id, "kind": identity.kind.value, "value": identity.value, "created_at": now}
              for subject_id, identity in sorted(rows, key=lambda row: (row[1].kind.value, row[1].value))]
    session.flush()
    statement = _INSERT_IDENTITY[session.get_bind().dialect.name]
    inserted = session.connection().execute(statement, values)
    found = {}
    for identity_id, subject_id, kind, value, created_at in inserted:
        found[Identity(IdentityKind(kind), value)] = _attach_inserted(session, SubjectIdentity(
            id=identity_id, subject_id=subject_id, kind=kind, value=value, created_at=created_at))
    return found


#: INSERT ... ON CONFLICT DO NOTHING RETURNING, per dialect; executed with a list of rows, SQLAlchemy
#: sends them as one multi-row statement ("insertmanyvalues") compiled once per process.
_INSERT_IDENTITY = {
    name: dialect.insert(SubjectIdentity.__table__).on_conflict_do_nothing(index_elements=["kind", "value"])
    .returning(*(SubjectIdentity.__table__.c[c] for c in ("id", "subject_id", "kind", "value", "created_at")))
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}


def update_subject(*, session: Session, policy: CompiledPolicy, subject: DataSubject,
                   residence: str | None = None, birth_date: dt.date | None = None,
                   age_band: str | None = None) -> DataSubject:
    """Record a residence or age the person told us; values not given stay as they were."""
    if residence is not None:
        subject.residence = check_residence(policy, residence)
    if birth_date is not None:
        subject.birth_date = check_birth_date(birth_date, today=utcnow().date())
    if age_band is not None:
        subject.age_band = check_age_band(age_band)
    session.flush()
    return subject


def link_identity(*, session: Session, policy: CompiledPolicy, subject: DataSubject,
                  identity: Identity) -> tuple[SubjectIdentity, DataSubject | None]:
    """Attach an identity to a subject, e.g. the browser id of a visitor who just logged in.

    When the identity already belongs to an anonymous subject (one with only browser or device
    ids), that subject is merged into this one: its identities move over and its consent events
    stay in the ledger under its own id, read as this subject's history. Returns the identity and
    the merged subject, if any. An identity held by another identified person is a conflict.
    """
    for _attempt in range(2):
        linked = _link_once(session, subject, identity)
        if linked is not None:
            return linked
        session.expire(subject)
    raise IdentityConflict(f"{identity} changed hands twice while it was being linked; try again", field="identity")


def _link_once(session: Session, subject: DataSubject,
               identity: Identity) -> tuple[SubjectIdentity, DataSubject | None] | None:
    """One try at ``link_identity``; None when the identity's owner changed while we waited for the locks."""
    stored = find_identity(session=session, identity=identity)
    if stored is None:
        added = insert_identities(session=session, rows=[(subject.id, identity)]).get(identity)
        if added is not None:
            session.expire(subject, ["identities"])
            return added, None
        stored = _found_after_conflict(session, identity)  # linked by someone else meanwhile: as if found
    owner = get_subject(session=session, subject_id=stored.subject_id)  # the subject it was merged into, if so
    if owner.id == subject.id:
        return stored, None
    _refuse_identified(owner, identity)
    _lock_both(session, subject.id, owner.id)
    # What was read above may be stale: a link committed while we waited for the locks may have
    # merged the visitor into someone else, or given it an email. Read it again under the locks.
    session.refresh(stored)
    session.refresh(owner)
    session.expire(owner, ["identities"])
    if owner.merged_into_id is not None or get_subject(session=session, subject_id=stored.subject_id).id != owner.id:
        return None
    _refuse_identified(owner, identity)
    merge_subjects(session=session, survivor=subject, merged=owner)
    return stored, owner


def _refuse_identified(owner: DataSubject, identity: Identity) -> None:
    """Only an anonymous visitor (browser or device ids alone) is merged into the person who logs in."""
    if any(IdentityKind(item.kind) not in ANONYMOUS_KINDS for item in owner.identities):
        raise IdentityConflict(f"{identity} belongs to another identified subject; it cannot be linked",
                               field="identity")


def _lock_both(session: Session, one: str, other: str) -> None:
    """Both subjects' write locks, always in the same order, so two merges never deadlock."""
    for subject_id in sorted({one, other}):
        lock_subject(session=session, subject_id=subject_id)


def merge_subjects(*, session: Session, survivor: DataSubject, merged: DataSubject) -> None:
    """Fold ``merged`` into ``survivor``: identities move, earlier merges follow, the ledger stays untouched.

    The caller holds both subjects' locks and has read ``merged`` after taking them.
    """
    session.execute(update(SubjectIdentity).where(SubjectIdentity.subject_id == merged.id)
                    .values(subject_id=survivor.id))
    session.execute(update(DataSubject).where(DataSubject.merged_into_id == merged.id)
                    .values(merged_into_id=survivor.id))
    merged.merged_into_id = survivor.id
    if survivor.residence is None and merged.residence is not None:
        survivor.residence = merged.residence
    if survivor.birth_date is None and survivor.age_band is None:
        survivor.birth_date, survivor.age_band = merged.birth_date, merged.age_band
    session.flush()
    session.expire(survivor, ["identities"])
    session.expire(merged, ["identities"])


def identities_of(*, session: Session, subject_ids: Sequence[str], kind: IdentityKind) -> dict[str, list[str]]:
    """Identity values of one kind per subject id (e.g. every email, for a suppression list)."""
    query = (select(SubjectIdentity.subject_id, SubjectIdentity.value)
             .where(SubjectIdentity.kind == kind.value, SubjectIdentity.subject_id.in_(list(subject_ids))))
    found: dict[str, list[str]] = {}
    for subject_id, value in session.execute(query):
        found.setdefault(subject_id, []).append(value)
    return found
