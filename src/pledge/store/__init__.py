"""pledge's own database: engine and sessions, the declarative base, the unit of work, migrations."""

from __future__ import annotations

from pledge.store.base import Base, unattached
from pledge.store.columns import JSONDocument, UTCDateTime, utcnow
from pledge.store.engine import make_async_engine, make_engine, make_session_factory, normalise_url
from pledge.store.migrate import current_revision, head_revision, new_revision, upgrade
from pledge.store.uow import unit_of_work

__all__ = [
    "Base",
    "JSONDocument",
    "UTCDateTime",
    "current_revision",
    "head_revision",
    "make_async_engine",
    "make_engine",
    "make_session_factory",
    "new_revision",
    "normalise_url",
    "unattached",
    "unit_of_work",
    "upgrade",
    "utcnow",
]
