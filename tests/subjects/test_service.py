"""Subjects and identities in the database, on SQLite and PostgreSQL (issue 3, item 1)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, sessionmaker

from pledge.policy import CompiledPolicy
from pledge.store import unit_of_work
from pledge.subjects import service
from pledge.subjects.identities import Identity, IdentityKind
from pledge.subjects.models import DataSubject, SubjectIdentity
from pledge.subjects.schemas import IdentityCreate, SubjectCreate


def _create(session: Session, policy: CompiledPolicy, *identities: tuple[str, str], **fields: object) -> DataSubject:
    return service.create_subject(session=session, policy=policy, subject_in=SubjectCreate(
        identities=[IdentityCreate(kind=IdentityKind(kind), value=value) for kind, value in identities],
        **fields))  # type: ignore[arg-type]


def test_a_subject_is_found_by_any_of_their_identities(session: Session, minimal_policy: CompiledPolicy) -> None:
    ann = _create(session, minimal_policy, ("email", "Ann@Example.com"), ("phone", "+353 1 234 5678"),
                  ("customer_number", "C-1"), ("device_id", "dev-1"), ("lumix_pro_membership", "lp-1234"),
                  residence="ie")
    for identity in [Identity(IdentityKind.EMAIL, "ann@example.com"), Identity(IdentityKind.PHONE, "+35312345678"),
                     Identity(IdentityKind.CUSTOMER_NUMBER, "C-1"), Identity(IdentityKind.DEVICE_ID, "dev-1"),
                     Identity(IdentityKind.LUMIX_PRO_MEMBERSHIP, "LP-1234")]:
        found = service.find_subject(session=session, identity=identity)
        assert found is not None and found.id == ann.id
    assert ann.residence == "IE"
    assert service.jurisdiction_of(minimal_policy, ann) == "EEA"


def test_every_identity_lookup_is_indexed(engine: object) -> None:
    inspector = inspect(engine)  # type: ignore[arg-type]
    unique = [c["column_names"] for c in inspector.get_unique_constraints("subject_identity")]
    indexes = [i["column_names"] for i in inspector.get_indexes("subject_identity")]
    assert ["kind", "value"] in unique
    assert ["subject_id"] in indexes


def test_an_identity_cannot_belong_to_two_people(session: Session, minimal_policy: CompiledPolicy) -> None:
    _create(session, minimal_policy, ("email", "ann@example.com"))
    with pytest.raises(service.IdentityConflict):
        _create(session, minimal_policy, ("email", "ANN@example.com"))


@pytest.mark.parametrize("residence", ["Narnia", "XX", "US-CALIFORNIA", "12"])
def test_an_unknown_jurisdiction_is_refused(session: Session, minimal_policy: CompiledPolicy, residence: str) -> None:
    with pytest.raises(service.UnknownJurisdiction, match="unknown jurisdiction"):
        _create(session, minimal_policy, ("email", "ann@example.com"), residence=residence)


def test_a_country_outside_the_policy_falls_to_the_default_jurisdiction(
        session: Session, minimal_policy: CompiledPolicy) -> None:
    subject = _create(session, minimal_policy, ("email", "ann@example.com"), residence="br")
    assert subject.residence == "BR"
    assert service.jurisdiction_of(minimal_policy, subject) == "default"


def test_linking_a_browser_to_a_customer_after_login_keeps_both(session: Session,
                                                                 minimal_policy: CompiledPolicy) -> None:
    """Issue 3 item 1: linking a browser id to a customer after login keeps both histories."""
    browser, _identity, created = service.ensure_subject(
        session=session, policy=minimal_policy, identity=Identity(IdentityKind.BROWSER_ID, "b-1"))
    assert created
    customer = _create(session, minimal_policy, ("customer_number", "C-7"), residence="DE")
    _stored, merged = service.link_identity(session=session, policy=minimal_policy, subject=customer,
                                            identity=Identity(IdentityKind.BROWSER_ID, "b-1"))
    assert merged is not None and merged.id == browser.id
    assert browser.merged_into_id == customer.id
    found = service.find_subject(session=session, identity=Identity(IdentityKind.BROWSER_ID, "b-1"))
    assert found is not None and found.id == customer.id
    assert service.get_subject(session=session, subject_id=browser.id).id == customer.id
    assert service.group_ids(session=session, subject_id=customer.id) == [customer.id, browser.id]


def test_an_identified_persons_identity_cannot_be_linked_to_someone_else(
        session: Session, minimal_policy: CompiledPolicy) -> None:
    _create(session, minimal_policy, ("email", "ann@example.com"), ("browser_id", "b-1"))
    bob = _create(session, minimal_policy, ("email", "bob@example.com"))
    with pytest.raises(service.IdentityConflict):
        service.link_identity(session=session, policy=minimal_policy, subject=bob,
                              identity=Identity(IdentityKind.BROWSER_ID, "b-1"))


def test_an_unknown_subject_id_is_reported(session: Session) -> None:
    with pytest.raises(service.UnknownSubject):
        service.get_subject(session=session, subject_id="nobody")


def test_two_requests_creating_one_person_at_once_make_one_subject(
        session_factory: sessionmaker[Session], minimal_policy: CompiledPolicy) -> None:
    barrier = threading.Barrier(4)
    ids: list[str] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            with unit_of_work(session_factory) as session:
                barrier.wait()
                subject, _identity, _created = service.ensure_subject(
                    session=session, policy=minimal_policy, identity=Identity(IdentityKind.EMAIL, "same@example.com"))
                session.commit()
                ids.append(subject.id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(ids)) == 1
    with unit_of_work(session_factory) as session:
        assert len(list(session.scalars(select(SubjectIdentity)))) == 1


def test_a_birth_date_in_the_future_is_refused_and_nothing_is_written(session: Session,
                                                                      minimal_policy: CompiledPolicy) -> None:
    """Child status follows from the birth date: a future one would make the person a child forever."""
    today = dt.datetime.now(dt.UTC).date()
    with pytest.raises(service.SubjectError, match="in the future") as refused:
        _create(session, minimal_policy, ("email", "kid@example.com"), birth_date=today + dt.timedelta(days=2))
    assert refused.value.field == "birth_date"
    with pytest.raises(service.SubjectError, match="older than 130"):
        service.ensure_subject(session=session, policy=minimal_policy,
                               identity=Identity(IdentityKind.EMAIL, "old@example.com"), birth_date=dt.date(1890, 1, 1))
    assert session.scalars(select(DataSubject)).all() == []
    ann = _create(session, minimal_policy, ("email", "ann@example.com"), birth_date=dt.date(1990, 5, 1))
    with pytest.raises(service.SubjectError, match="in the future"):
        service.update_subject(session=session, policy=minimal_policy, subject=ann,
                               birth_date=today + dt.timedelta(days=365))
    assert ann.birth_date == dt.date(1990, 5, 1)


@pytest.mark.parametrize("browser_known", [False, True], ids=["new-browser-id", "anonymous-visitor"])
def test_two_people_linking_one_browser_id_at_once_end_with_one_owner_and_a_conflict(
        session_factory: sessionmaker[Session], minimal_policy: CompiledPolicy, browser_known: bool) -> None:
    """Two logins carrying the same browser id at once: one person gets it (and the anonymous
    visitor's history, when the id had one), the other link is the conflict an identified owner
    always is, never a database error nor a visitor merged into two people."""
    browser = Identity(IdentityKind.BROWSER_ID, "b-shared")
    with unit_of_work(session_factory) as session:
        people = [_create(session, minimal_policy, ("email", f"p{n}@example.com")).id for n in range(4)]
        visitor = _create(session, minimal_policy, ("browser_id", browser.value)).id if browser_known else None
        session.commit()
    barrier = threading.Barrier(len(people))
    linked: list[str] = []
    refused: list[BaseException] = []

    def link(subject_id: str) -> None:
        try:
            with unit_of_work(session_factory) as session:
                subject = service.get_subject(session=session, subject_id=subject_id)
                barrier.wait()
                service.link_identity(session=session, policy=minimal_policy, subject=subject, identity=browser)
                session.commit()
                linked.append(subject_id)
        except BaseException as exc:
            refused.append(exc)

    threads = [threading.Thread(target=link, args=(subject_id,)) for subject_id in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(linked) == 1, refused
    assert [type(exc) for exc in refused] == [service.IdentityConflict] * (len(people) - 1)
    with unit_of_work(session_factory) as session:
        owner = service.find_subject(session=session, identity=browser)
        assert owner is not None and owner.id == linked[0]
        if visitor is not None:
            assert session.get(DataSubject, visitor).merged_into_id == linked[0]
