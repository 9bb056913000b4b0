"""Concurrent writers never lose an event (issue 3, Bad input): threads, each in its own unit of work."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from pledge.bootstrap import Container
from pledge.consent import service
from pledge.consent.models import ConsentEvent
from pledge.consent.schemas import ConsentEventCreate, RequestContext
from pledge.subjects import service as subjects
from pledge.subjects.identities import Identity, IdentityKind

THREADS = 8
EACH = 15


def _hammer(container: Container, subject_for: str, *, idempotent: bool = False) -> list[BaseException]:
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(EACH):
                kind = "consent_granted" if (n + i) % 2 else "consent_withdrawn"
                subject = subject_for.format(n=n)
                key = f"k-{i}" if idempotent else None
                with container.unit_of_work() as session:
                    service.record_event(session=session, policy=container.policy, event_in=ConsentEventCreate(
                        subject=subject, residence="DE", kind=kind, purpose="newsletter",  # type: ignore[arg-type]
                        collection_point="app"), context=RequestContext(idempotency_key=key))  # type: ignore[arg-type]
                    session.commit()
        except BaseException as exc:  # pragma: no cover - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _events(container: Container) -> int:
    with container.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(ConsentEvent)) or 0)


def test_concurrent_writers_about_one_person_never_lose_an_event(consent_container: Container) -> None:
    assert _hammer(consent_container, "same@example.com") == []
    assert _events(consent_container) == THREADS * EACH
    with consent_container.unit_of_work() as session:
        assert service.rebuild(session=session, check=True).consistent


def test_concurrent_writers_about_many_people_never_lose_an_event(consent_container: Container) -> None:
    assert _hammer(consent_container, "person-{n}@example.com") == []
    assert _events(consent_container) == THREADS * EACH
    with consent_container.unit_of_work() as session:
        report = service.rebuild(session=session, check=True)
        assert report.consistent and report.subjects == THREADS


def test_concurrent_retries_with_one_idempotency_key_record_once(consent_container: Container) -> None:
    errors = _hammer(consent_container, "same@example.com", idempotent=True)
    assert all(isinstance(e, service.IdempotencyConflict) for e in errors)
    assert _events(consent_container) == EACH


def test_gpc_signals_arriving_at_once_record_one_opt_out(consent_container: Container) -> None:
    """A browser sends Sec-GPC: 1 with every request; only the first signal is an event (honour_gpc),
    even when several of its requests arrive together."""
    with consent_container.unit_of_work() as session:
        subjects.ensure_subject(session=session, policy=consent_container.policy, residence="US-CA",
                                identity=Identity(IdentityKind.BROWSER_ID, "b-gpc"))
        session.commit()
    barrier = threading.Barrier(THREADS)
    recorded: list[object] = []
    errors: list[BaseException] = []

    def signal() -> None:
        try:
            with consent_container.unit_of_work() as session:
                barrier.wait()
                _subject, event = service.gpc_for(session=session, policy=consent_container.policy,
                                                  reference="browser:b-gpc")
                session.commit()
                if event is not None:
                    recorded.append(event.uid)
        except BaseException as exc:  # pragma: no cover - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=signal) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(recorded) == 1
    assert _events(consent_container) == 1
