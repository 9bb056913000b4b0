"""Group commit (consent/group_commit.py): events that wait together share one transaction, and each
request still gets the answer it would have had alone (issue 3: "concurrent writers never lose an
event"; bad input "nothing is written" for the bad event only).

The writer is held inside its first transaction (the answer callback waits on a gate) while more
events are submitted, so the next batch holds all of them: the batching is deterministic.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pledge.bootstrap import Container
from pledge.consent import group_commit, service
from pledge.consent.group_commit import GroupCommitter
from pledge.consent.models import ConsentEvent
from pledge.consent.schemas import ConsentEventCreate, RequestContext
from pledge.store import make_engine
from pledge.subjects import service as subjects
from pledge.subjects.models import DataSubject

Answer = tuple[str, bool, str]  # event uid, created, subject id
#: SQLite has no asyncio driver here: there ``record()`` hands the events to writer threads.
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@dataclass
class Held:
    """A committer with one writer thread, whose first transaction waits until ``release()``."""

    committer: GroupCommitter[None, Answer]
    gate: threading.Event = field(default_factory=threading.Event)
    inside: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.gate.set()


@pytest.fixture
def held(consent_container: Container) -> Iterator[Held]:
    gate, inside = threading.Event(), threading.Event()

    def answer(_session: Session, recorded: Sequence[tuple[service.Recorded, None]]) -> list[Answer]:
        inside.set()
        assert gate.wait(30), "the test never released the writer"
        return [(r.event.uid, r.created, r.subject.id) for r, _want in recorded]

    committer: GroupCommitter[None, Answer] = GroupCommitter(
        unit_of_work=consent_container.unit_of_work, policy=consent_container.policy, answer=answer, writers=1)
    state = Held(committer, gate, inside)
    yield state
    gate.set()
    committer.close()


def _submit(held: Held, key: str | None = None, **fields: Any) -> Future[Answer]:
    fields = {"residence": "DE", "kind": "consent_granted", "purpose": "newsletter",
              "collection_point": "app"} | fields
    return held.committer.submit(ConsentEventCreate(**fields), RequestContext(idempotency_key=key), None)


def _start_held_batch(held: Held) -> Future[Answer]:
    """Submit one event and wait until the writer is inside its transaction, holding it."""
    first = _submit(held, subject="first@example.com")
    assert held.inside.wait(30)
    return first


def _events(container: Container) -> int:
    with container.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(ConsentEvent)) or 0)


def test_events_waiting_together_are_recorded_in_one_transaction(held: Held, consent_container: Container) -> None:
    first = _start_held_batch(held)
    waiting = [_submit(held, subject=f"person{n}@example.com", kind="consent_withdrawn" if n % 2 else
                       "consent_granted") for n in range(5)]
    held.release()
    answers = [future.result(30) for future in (first, *waiting)]

    assert held.committer.transactions == 2  # the held one, then the five that waited for it
    assert held.committer.events == 6
    assert len({uid for uid, _created, _subject in answers}) == 6
    assert all(created for _uid, created, _subject in answers)
    with consent_container.unit_of_work() as session:
        stored = {uid: subject for uid, subject in session.execute(select(ConsentEvent.uid, ConsentEvent.subject_id))}
        assert {uid: subject for uid, _created, subject in answers} == stored
        assert service.rebuild(session=session, check=True).consistent


def test_a_bad_event_in_a_batch_fails_alone_and_the_others_are_recorded(held: Held,
                                                                       consent_container: Container) -> None:
    first = _start_held_batch(held)
    good_before = _submit(held, subject="ann@example.com")
    bad = _submit(held, subject="bob@example.com", purpose="no-such-purpose")
    good_after = _submit(held, subject="cem@example.com")
    held.release()

    with pytest.raises(service.UnknownPurpose) as refused:
        bad.result(30)
    assert refused.value.field == "purpose"  # named as if it had come alone, not "events.1.purpose"
    assert [f.result(30)[1] for f in (first, good_before, good_after)] == [True, True, True]
    assert _events(consent_container) == 3
    with consent_container.unit_of_work() as session:
        assert subjects.lookup(session=session, reference=subjects.parse_reference("bob@example.com")) is None


def test_an_idempotency_key_repeated_in_one_batch_records_once(held: Held, consent_container: Container) -> None:
    first = _start_held_batch(held)
    original = _submit(held, key="k-1", subject="ann@example.com")
    retried = _submit(held, key="k-1", subject="ann@example.com")
    reused = _submit(held, key="k-1", subject="ann@example.com", kind="consent_withdrawn")
    held.release()

    first.result(30)
    uid, created, _subject = original.result(30)
    assert created
    assert retried.result(30) == (uid, False, original.result(30)[2])
    with pytest.raises(service.IdempotencyConflict):
        reused.result(30)
    assert _events(consent_container) == 2


def test_close_records_the_events_still_queued(held: Held, consent_container: Container) -> None:
    first = _start_held_batch(held)
    queued = [_submit(held, subject=f"late{n}@example.com") for n in range(3)]
    threading.Timer(0.2, held.release).start()
    held.committer.close()

    assert all(future.done() for future in (first, *queued))
    assert _events(consent_container) == 4
    with pytest.raises(RuntimeError):
        _submit(held, subject="after@example.com")


@ON_POSTGRESQL
def test_on_postgresql_requests_on_the_event_loop_share_a_transaction(consent_container: Container) -> None:
    """``record`` runs the writers as tasks of the caller's event loop (PostgreSQL's asyncio driver);
    twenty requests awaiting at once are one transaction, and the bad one among them fails alone."""
    def answer(_session: Session, recorded: Sequence[tuple[service.Recorded, None]]) -> list[Answer]:
        return [(r.event.uid, r.created, r.subject.id) for r, _want in recorded]

    committer: GroupCommitter[None, Answer] = GroupCommitter(
        unit_of_work=consent_container.unit_of_work, policy=consent_container.policy, answer=answer,
        engine=consent_container.engine)

    async def twenty() -> list[Answer | BaseException]:
        events = [ConsentEventCreate(subject=f"p{n}@example.com", residence="DE", kind="consent_granted",  # type: ignore[arg-type]
                                     purpose="newsletter" if n != 7 else "no-such-purpose",
                                     collection_point="app")  # type: ignore[arg-type]
                  for n in range(20)]
        try:
            return await asyncio.gather(*(committer.record(e, RequestContext(), None) for e in events),
                                        return_exceptions=True)
        finally:
            await committer.aclose()

    answers = asyncio.run(twenty())

    assert isinstance(answers[7], service.UnknownPurpose)
    assert all(isinstance(a, tuple) and a[1] for n, a in enumerate(answers) if n != 7)
    # one batch of twenty, refused for the bad event, then each alone: 19 transactions, none with the bad one
    assert (committer.transactions, committer.events) == (19, 19)
    assert _events(consent_container) == 19


@ON_POSTGRESQL
def test_on_postgresql_a_good_batch_is_one_transaction(consent_container: Container) -> None:
    def answer(_session: Session, recorded: Sequence[tuple[service.Recorded, None]]) -> list[Answer]:
        return [(r.event.uid, r.created, r.subject.id) for r, _want in recorded]

    committer: GroupCommitter[None, Answer] = GroupCommitter(
        unit_of_work=consent_container.unit_of_work, policy=consent_container.policy, answer=answer,
        engine=consent_container.engine)

    async def twenty() -> list[Answer]:
        try:
            return await asyncio.gather(*(committer.record(
                ConsentEventCreate(subject=f"p{n}@example.com", residence="DE", kind="consent_granted",  # type: ignore[arg-type]
                                   purpose="newsletter", collection_point="app"),  # type: ignore[arg-type]
                RequestContext(), None) for n in range(20)))
        finally:
            await committer.aclose()

    answers = asyncio.run(twenty())

    assert len({uid for uid, _created, _subject in answers}) == 20
    assert (committer.transactions, committer.events) == (1, 20)
    assert _events(consent_container) == 20


def _known(container: Container, *emails: str) -> None:
    """People pledge has seen before (each with one event), as most people behind consent writes are."""
    with container.unit_of_work() as session:
        service.record_events(session=session, policy=container.policy, items=[
            (ConsentEventCreate(subject=email, residence="DE", kind="consent_granted", purpose="newsletter",  # type: ignore[arg-type]
                                collection_point="app"), RequestContext()) for email in emails])  # type: ignore[arg-type]
        session.commit()


def _withdrawal(email: str, **fields: Any) -> ConsentEventCreate:
    return ConsentEventCreate(**({"subject": email, "residence": "DE", "kind": "consent_withdrawn",
                                  "purpose": "newsletter", "collection_point": "app"} | fields))


def _direct(container: Container, items: list[tuple[ConsentEventCreate, RequestContext]],
            ) -> list[service.Recorded | Exception] | None:
    """``record_events_direct`` on a psycopg connection of its own, in autocommit as the writers hold it."""
    async def record() -> list[service.Recorded | Exception] | None:
        url = container.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            return await service.record_events_direct(connection=connection, policy=container.policy, items=items)

    return asyncio.run(record())


@ON_POSTGRESQL
def test_on_postgresql_events_about_known_people_are_committed_by_two_statements(consent_container: Container) -> None:
    """No BEGIN, no COMMIT: what the direct path wrote is there for everyone once it returns, and each
    outcome carries the subject's projection as the statement left it."""
    _known(consent_container, "ann@example.com", "bob@example.com")
    recorded = _direct(consent_container, [(_withdrawal("ann@example.com"), RequestContext()),
                                           (_withdrawal("bob@example.com"), RequestContext())])

    assert recorded is not None and all(isinstance(r, service.Recorded) and r.created for r in recorded)
    assert _events(consent_container) == 4
    states = {r.subject.id: r.state_rows for r in recorded if isinstance(r, service.Recorded)}
    with consent_container.unit_of_work() as session:
        assert len(states) == 2
        for subject_id, state_rows in states.items():
            assert state_rows == service.projection_rows(session=session, subject_id=subject_id)
            assert session.get(DataSubject, subject_id) is not None


@ON_POSTGRESQL
@pytest.mark.parametrize("why", ["a new residence", "a GPC signal", "a subject named by id"])
def test_on_postgresql_a_batch_that_needs_a_transaction_is_left_to_it(consent_container: Container,
                                                                      why: str) -> None:
    """A residence to note, a GPC opt-out, a subject id: the direct path writes nothing and says so;
    the group commit records the batch in a transaction."""
    _known(consent_container, "ann@example.com")
    with consent_container.unit_of_work() as session:  # a Californian, where the signal is an opt-out of sale
        service.record_event(session=session, policy=consent_container.policy, event_in=ConsentEventCreate(
            subject="cal@example.com", residence="US-CA", kind="channel_switched_off", target="sms",  # type: ignore[arg-type]
            collection_point="app"))  # type: ignore[arg-type]
        session.commit()
        ann = subjects.lookup(session=session, reference=subjects.parse_reference("ann@example.com"))
        assert ann is not None
    item = {"a new residence": (_withdrawal("ann@example.com", residence="FR"), RequestContext()),
            "a GPC signal": (ConsentEventCreate(subject="cal@example.com", kind="channel_switched_off",  # type: ignore[arg-type]
                                                target="email", collection_point="app"),  # type: ignore[arg-type]
                             RequestContext(gpc=True)),
            "a subject named by id": (_withdrawal(f"subject:{ann.id}"), RequestContext())}[why]
    items = [(_withdrawal("ann@example.com"), RequestContext()), item]

    assert _direct(consent_container, items) is None
    assert _events(consent_container) == 2

    answers, committer = _record_all(consent_container, items)
    assert all(isinstance(answer, tuple) and answer[1] for answer in answers)
    assert (committer.transactions, committer.events) == (1, 2)
    assert _events(consent_container) == (5 if why == "a GPC signal" else 4)  # 2 before, 2 now (+ the opt-out)
    with consent_container.unit_of_work() as session:
        ann = subjects.lookup(session=session, reference=subjects.parse_reference("ann@example.com"))
        assert ann is not None and ann.residence == ("FR" if why == "a new residence" else "DE")


@ON_POSTGRESQL
def test_on_postgresql_a_bad_event_in_the_direct_path_writes_nothing(consent_container: Container) -> None:
    _known(consent_container, "ann@example.com")
    key = RequestContext(idempotency_key="k-1")
    with pytest.raises(service.IdempotencyConflict) as refused:
        _direct(consent_container, [(_withdrawal("new@example.com"), key),
                                    (_withdrawal("ann@example.com"), key)])  # one key, two requests
    assert refused.value.field == "events.1.Idempotency-Key"  # as record_events names it

    assert _events(consent_container) == 1
    with consent_container.unit_of_work() as session:
        assert subjects.lookup(session=session, reference=subjects.parse_reference("new@example.com")) is None


@ON_POSTGRESQL
def test_on_postgresql_a_new_person_comes_in_the_same_one_statement(consent_container: Container) -> None:
    """The subject and its identity are inserted by the events' own statement: the event names the
    new identity, the answer says which kind was used, and the person is found by it afterwards."""
    _known(consent_container, "ann@example.com")
    recorded = _direct(consent_container, [
        (_withdrawal("new@example.com", kind="consent_granted", age_band="18+"), RequestContext()),
        (_withdrawal("ann@example.com"), RequestContext()), (_withdrawal("new@example.com"), RequestContext())])
    assert recorded is not None and all(isinstance(r, service.Recorded) and r.created for r in recorded)
    new = [r for r in recorded if isinstance(r, service.Recorded) and r.subject.id != recorded[1].subject.id]  # type: ignore[union-attr]
    assert [r.identity_kind for r in new] == ["email", "email"] and len({r.subject.id for r in new}) == 1

    with consent_container.unit_of_work() as session:
        found = subjects.find_with_identity(session=session, reference=subjects.parse_reference("new@example.com"))
        assert found[0] is not None and found[1] is not None
        assert found[0].id == new[0].subject.id and found[0].age_band == "18+"
        events = session.scalars(select(ConsentEvent).where(ConsentEvent.subject_id == found[0].id)).all()
        assert [e.identity_id for e in events] == [found[1].id, found[1].id]
        assert [e.uid for e in events] == [r.event.uid for r in new]
        assert service.projection_rows(session=session, subject_id=found[0].id) == new[1].state_rows


@ON_POSTGRESQL
def test_on_postgresql_the_direct_path_answers_as_the_orm_would_load(consent_container: Container) -> None:
    """The event and subject objects built from psycopg's rows equal what the ORM loads: the same
    columns, the same aware UTC timestamps."""
    _known(consent_container, "ann@example.com")
    expires = dt.datetime(2031, 5, 4, 3, 2, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    recorded = _direct(consent_container, [(_withdrawal("ann@example.com", kind="consent_granted",
                                                        expires_at=expires), RequestContext(idempotency_key="e-1"))])
    assert recorded is not None and isinstance(recorded[0], service.Recorded)
    direct = recorded[0]
    with consent_container.unit_of_work() as session:
        loaded = session.scalars(select(ConsentEvent).where(ConsentEvent.uid == direct.event.uid)).one()
        columns = [column.key for column in ConsentEvent.__table__.columns]
        assert {c: getattr(direct.event, c) for c in columns} == {c: getattr(loaded, c) for c in columns}
        assert direct.event.expires_at == expires and direct.event.expires_at.tzinfo is dt.UTC
        subject = session.get(DataSubject, direct.subject.id)
        assert subject is not None
        for name in ("residence", "birth_date", "age_band", "version", "created_at", "updated_at"):
            assert getattr(direct.subject, name) == getattr(subject, name)


@ON_POSTGRESQL
def test_on_postgresql_a_replayed_key_answers_with_the_first_event_and_the_state(consent_container: Container) -> None:
    _known(consent_container, "ann@example.com")
    request = (_withdrawal("ann@example.com"), RequestContext(idempotency_key="r-1"))
    first = _direct(consent_container, [request])
    again = _direct(consent_container, [request])

    assert first is not None and again is not None
    assert isinstance(first[0], service.Recorded) and isinstance(again[0], service.Recorded)
    assert (again[0].created, again[0].event.uid) == (False, first[0].event.uid)
    assert again[0].state_rows is not None and again[0].state_rows == first[0].state_rows
    assert _events(consent_container) == 2


@ON_POSTGRESQL
def test_on_postgresql_a_replay_after_a_merge_answers_with_the_state_of_the_person_it_now_names(
        consent_container: Container) -> None:
    """A visitor's choice was recorded under their browser id; they logged in (the browser subject was
    merged into their account); the app retries the same request: the first event comes back, with
    the state of the account the browser id now belongs to."""
    _known(consent_container, "ann@example.com")
    browser = "browser:" + "3f9c" * 8
    request = (_withdrawal(browser), RequestContext(idempotency_key="m-1"))
    first = _direct(consent_container, [request])
    assert first is not None and isinstance(first[0], service.Recorded)
    with consent_container.unit_of_work() as session:
        ann = subjects.lookup(session=session, reference=subjects.parse_reference("ann@example.com"))
        assert ann is not None
        service.link_identity(session=session, policy=consent_container.policy, subject_id=ann.id,
                              identity=subjects.parse_reference(browser))  # type: ignore[arg-type]
        session.commit()
        ann_state = service.projection_rows(session=session, subject_id=ann.id)

    again = _direct(consent_container, [request])  # nothing inserted: the state must be read

    assert again is not None and isinstance(again[0], service.Recorded)
    assert (again[0].created, again[0].event.uid, again[0].subject.id) == (False, first[0].event.uid, ann.id)
    assert again[0].event.subject_id == first[0].subject.id  # the event stays the browser subject's
    assert again[0].state_rows is not None and set(again[0].state_rows) == set(ann_state)


@ON_POSTGRESQL
def test_on_postgresql_a_writer_whose_answers_break_fails_those_requests_and_goes_on(
        consent_container: Container) -> None:
    """A defect in building answers (here: none at all) fails the requests of that batch with an error,
    on the direct path and in a transaction alike; the writer stays up for the next ones."""
    _known(consent_container, "ann@example.com")
    with consent_container.unit_of_work() as session:
        ann = subjects.lookup(session=session, reference=subjects.parse_reference("ann@example.com"))
        assert ann is not None
    committer: GroupCommitter[None, Answer] = GroupCommitter(
        unit_of_work=consent_container.unit_of_work, policy=consent_container.policy,
        answer=lambda _session, _recorded: [], engine=consent_container.engine)

    async def three() -> list[Answer | BaseException]:
        outcomes: list[Answer | BaseException] = []
        try:
            for email in ("ann@example.com", f"subject:{ann.id}", "ann@example.com"):  # direct, transaction, direct
                try:
                    outcomes.append(await asyncio.wait_for(
                        committer.record(_withdrawal(email), RequestContext(), None), 20))
                except (RuntimeError, ValueError) as exc:
                    outcomes.append(exc)
        finally:
            await committer.aclose()
        return outcomes

    outcomes = asyncio.run(three())
    assert [type(outcome) for outcome in outcomes] == [RuntimeError, ValueError, RuntimeError]
    assert _events(consent_container) == 4  # recorded all the same: only the answers failed


@ON_POSTGRESQL
def test_on_postgresql_a_person_created_by_someone_else_after_the_look_up_writes_nothing(
        consent_container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer created the person between our look-up and our statement: the identity's unique
    key refuses the statement, nothing of it is written (the group commit then uses a transaction)."""
    _known(consent_container, "ann@example.com", "bob@example.com")

    async def saw_no_one(*_args: Any) -> dict[Any, Any]:
        return {}

    monkeypatch.setattr(service, "_find_direct", saw_no_one)
    with pytest.raises(psycopg.errors.UniqueViolation):
        _direct(consent_container, [(_withdrawal("ann@example.com"), RequestContext()),
                                    (_withdrawal("bob@example.com"), RequestContext())])

    assert _events(consent_container) == 2
    with consent_container.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(DataSubject)) == 2

    answers, _committer = _record_all(consent_container, [(_withdrawal("ann@example.com"), RequestContext()),
                                                           (_withdrawal("bob@example.com"), RequestContext())])
    assert all(isinstance(answer, tuple) and answer[1] for answer in answers)  # found in a transaction
    assert _events(consent_container) == 4


@ON_POSTGRESQL
def test_on_postgresql_a_writer_whose_connection_was_cut_takes_another(consent_container: Container) -> None:
    """The database ended the direct path's connection (a restart, an administrator): that batch is
    recorded in a transaction, and the next ones on a new connection."""
    committer: GroupCommitter[None, Answer] = GroupCommitter(
        unit_of_work=consent_container.unit_of_work, policy=consent_container.policy,
        answer=lambda _session, recorded: [(r.event.uid, r.created, r.subject.id) for r, _want in recorded],
        engine=consent_container.engine)

    def withdraw(email: str) -> Any:
        return committer.record(_withdrawal(email), RequestContext(), None)

    async def with_a_cut() -> tuple[list[Answer], int, int]:
        try:
            first = await withdraw("ann@example.com")
            cut_driver = committer._directs[0].driver
            assert cut_driver is not None
            cut = cut_driver.info.backend_pid
            with consent_container.engine.connect() as connection:
                connection.exec_driver_sql(f"SELECT pg_terminate_backend({cut})")
            answers = [first, await withdraw("bob@example.com"), await withdraw("cy@example.com")]
            new_driver = committer._directs[0].driver
            assert new_driver is not None
            return answers, cut, new_driver.info.backend_pid
        finally:
            await committer.aclose()

    answers, cut, now = asyncio.run(with_a_cut())
    assert all(created for _uid, created, _subject in answers)
    assert now != cut
    assert _events(consent_container) == 3


def _record_all(container: Container, items: list[tuple[ConsentEventCreate, RequestContext]],
                ) -> tuple[list[Answer | BaseException], GroupCommitter[None, Answer]]:
    def answer(_session: Session, recorded: Sequence[tuple[service.Recorded, None]]) -> list[Answer]:
        return [(r.event.uid, r.created, r.subject.id) for r, _want in recorded]

    committer: GroupCommitter[None, Answer] = GroupCommitter(
        unit_of_work=container.unit_of_work, policy=container.policy, answer=answer, engine=container.engine)

    async def together() -> list[Answer | BaseException]:
        try:
            return await asyncio.gather(*(committer.record(event_in, context, None) for event_in, context in items),
                                        return_exceptions=True)
        finally:
            await committer.aclose()

    return asyncio.run(together()), committer


@ON_POSTGRESQL
def test_on_postgresql_a_reused_key_in_a_one_statement_batch_fails_alone(consent_container: Container) -> None:
    """The statement has committed the good events when the reused key shows; they are answered once
    (never recorded again), the replay answers with the first event, the reused key is a 409-style conflict."""
    _known(consent_container, *(f"p{n}@example.com" for n in range(6)))
    first, _ = _record_all(consent_container, [(_withdrawal("p0@example.com"), RequestContext(idempotency_key="k-0")),
                                               (_withdrawal("p1@example.com"), RequestContext(idempotency_key="k-1"))])
    answers, committer = _record_all(consent_container, [
        (_withdrawal("p2@example.com"), RequestContext(idempotency_key="k-2")),
        (_withdrawal("p0@example.com"), RequestContext(idempotency_key="k-0")),  # the same request again
        (_withdrawal("p3@example.com"), RequestContext(idempotency_key="k-1")),  # k-1 was another request
        (_withdrawal("p4@example.com"), RequestContext())])

    assert isinstance(answers[2], service.IdempotencyConflict) and answers[2].field == "Idempotency-Key"
    replay = answers[1]
    assert isinstance(replay, tuple) and replay[0] == first[0][0] and replay[1] is False  # type: ignore[index]
    assert all(isinstance(answers[n], tuple) and answers[n][1] for n in (0, 3))  # type: ignore[index]
    assert (committer.transactions, committer.events) == (1, 4)
    assert _events(consent_container) == 6 + 2 + 2  # the known ones, the first two, p2 and p4 once each


def _loop_committer(container: Container) -> GroupCommitter[None, Answer]:
    return GroupCommitter(unit_of_work=container.unit_of_work, policy=container.policy,
                          answer=lambda _session, recorded: [(r.event.uid, r.created, r.subject.id)
                                                             for r, _want in recorded],
                          engine=container.engine)


@ON_POSTGRESQL
def test_on_postgresql_after_a_batch_with_company_the_writer_waits_for_more(
        consent_container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load (the last batch had several events) the next batch waits LINGER_SECONDS, so an
    event arriving meanwhile joins it."""
    monkeypatch.setattr(group_commit, "LINGER_SECONDS", 0.5)
    committer = _loop_committer(consent_container)

    async def load() -> None:
        try:
            await asyncio.gather(*(committer.record(_withdrawal(f"p{n}@example.com"), RequestContext(), None)
                                   for n in range(2)))  # one batch of two
            third = asyncio.ensure_future(committer.record(_withdrawal("p2@example.com"), RequestContext(), None))
            await asyncio.sleep(0.05)  # well inside the wait
            await asyncio.gather(third, committer.record(_withdrawal("p3@example.com"), RequestContext(), None))
        finally:
            await committer.aclose()

    asyncio.run(load())
    assert (committer.transactions, committer.events) == (2, 4)


@ON_POSTGRESQL
def test_on_postgresql_a_lone_request_never_waits_for_company(consent_container: Container,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_commit, "LINGER_SECONDS", 60.0)
    committer = _loop_committer(consent_container)

    async def one_at_a_time() -> None:
        try:
            for n in range(3):  # each would wait a minute if a batch of one lingered
                await asyncio.wait_for(committer.record(_withdrawal(f"p{n}@example.com"), RequestContext(), None), 20)
        finally:
            await committer.aclose()

    asyncio.run(one_at_a_time())
    assert (committer.transactions, committer.events) == (3, 3)


class _CuttingRelay:
    """A TCP relay to PostgreSQL that, once armed, cuts the connection carrying the next statement
    with ``marker`` just as the server answers it: the statement has run and committed (in
    autocommit the server answers after its commit), and the writer never hears so."""

    def __init__(self, host: str, port: int, marker: bytes) -> None:
        self.host, self.port, self.marker = host, port, marker
        self.armed = False
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        await self._server.wait_closed()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(self.host, self.port)
        self._writers += [client_writer, server_writer]
        marked = asyncio.Event()

        async def upstream() -> None:
            while data := await client_reader.read(65536):
                if self.armed and self.marker in data:
                    self.armed = False
                    marked.set()
                server_writer.write(data)
            server_writer.close()

        async def downstream() -> None:
            while data := await server_reader.read(65536):
                if marked.is_set():
                    self.cuts += 1
                    client_writer.transport.abort()
                    server_writer.transport.abort()
                    return
                client_writer.write(data)
            client_writer.close()

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)


def _through_a_cutting_relay(container: Container, events: list[tuple[ConsentEventCreate, RequestContext]],
                             ) -> tuple[list[Answer | BaseException], _CuttingRelay]:
    """Record ``events`` one after the other with the direct path's write cut after its commit."""
    url = container.engine.url
    relay = _CuttingRelay(url.host or "127.0.0.1", url.port or 5432, b"INSERT INTO consent_event")

    async def record() -> list[Answer | BaseException]:
        engine = make_engine(url.set(port=await relay.start()))
        committer: GroupCommitter[None, Answer] = GroupCommitter(
            unit_of_work=container.unit_of_work, policy=container.policy,
            answer=lambda _session, recorded: [(r.event.uid, r.created, r.subject.id) for r, _want in recorded],
            engine=engine)
        answers: list[Answer | BaseException] = []
        try:
            for event_in, context in events:
                relay.armed = True
                try:
                    answers.append(await committer.record(event_in, context, None))
                except Exception as exc:
                    answers.append(exc)
        finally:
            await committer.aclose()
            engine.dispose()
            await relay.close()
        return answers

    return asyncio.run(record()), relay


@ON_POSTGRESQL
def test_on_postgresql_a_keyless_event_whose_write_was_lost_is_never_recorded_twice(
        consent_container: Container) -> None:
    """The connection went after the statement committed: recorded once, and the request is told
    the outcome is unknown (a 503) rather than the event being written again on a guess."""
    _known(consent_container, "ann@example.com")
    answers, relay = _through_a_cutting_relay(consent_container, [(_withdrawal("ann@example.com"), RequestContext())])
    assert relay.cuts == 1
    assert isinstance(answers[0], service.OutcomeUnknown) and answers[0].status == 503
    assert "Idempotency-Key" in str(answers[0])
    assert _events(consent_container) == 1 + 1


@ON_POSTGRESQL
def test_on_postgresql_an_event_with_a_key_whose_write_was_lost_is_answered_by_its_replay(
        consent_container: Container) -> None:
    _known(consent_container, "ann@example.com", "bob@example.com")
    answers, relay = _through_a_cutting_relay(consent_container, [
        (_withdrawal("ann@example.com"), RequestContext(idempotency_key="k-lost")),
        (_withdrawal("bob@example.com"), RequestContext())])  # after the cut, on a new connection
    assert relay.cuts == 2
    assert _events(consent_container) == 2 + 1 + 1
    uid, created, _subject = answers[0]  # type: ignore[misc]
    with consent_container.unit_of_work() as session:
        recorded = session.scalars(select(ConsentEvent).where(ConsentEvent.idempotency_key == "k-lost")).one()
    assert (uid, created) == (recorded.uid, False)  # the lost write had committed: the retry replays it
    assert isinstance(answers[1], service.OutcomeUnknown)
