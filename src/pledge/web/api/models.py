"""API keys: who may call the JSON API, and for what. Only a hash of each secret is stored."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pledge.store import Base, JSONDocument, UTCDateTime, utcnow


class ApiKey(Base):
    """One key: a public id to find it by, the SHA-256 of its secret, and the scopes it grants."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True, doc="the public part, shown in listings")
    secret_hash: Mapped[str] = mapped_column(String(64), doc="SHA-256 (hex) of the whole key")
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSONDocument)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<ApiKey {self.key_id} {self.name!r} {' '.join(self.scopes)}>"
