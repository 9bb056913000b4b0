"""The unit of work: one transaction per use case, owned by the caller, never by a service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session


@contextmanager
def unit_of_work(session_factory: Callable[[], Session]) -> Iterator[Session]:
    """Yield a session; whatever the caller did not ``commit()`` is rolled back when the block ends."""
    session = session_factory()
    try:
        yield session
    finally:
        # close() rolls back the open transaction and detaches the objects without expiring them,
        # so what the use case read stays readable after the block (a rollback() would expire it).
        session.close()
