"""Creating, checking and revoking API keys.

A key reads ``pk_<key id>_<secret>``: the key id finds the row, the SHA-256 of the whole key must
match the stored hash (compared in constant time). A random 256-bit secret needs no slow hash:
nothing about it can be guessed from its SHA-256. The plain key is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from pledge.store import utcnow
from pledge.web.api.models import ApiKey

PREFIX = "pk"


class Scope(StrEnum):
    """What a key may do."""

    CONSENT_WRITE = "consent:write"
    CONSENT_READ = "consent:read"
    DECIDE = "decide"
    # the staff routes of data subject rights requests (pledge.rights.views)
    REQUESTS_READ = "requests:read"
    REQUESTS_WRITE = "requests:write"


class ApiKeyError(ValueError):
    """A key request that cannot be done (an unknown scope, an unknown key)."""


@dataclass(frozen=True)
class Caller:
    """The key a request authenticated with."""

    key_id: str
    name: str
    scopes: frozenset[str]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_scopes(scopes: list[str]) -> list[str]:
    """The scopes, deduplicated in a stable order, or ApiKeyError naming the unknown one."""
    known = {scope.value for scope in Scope}
    for scope in scopes:
        if scope not in known:
            raise ApiKeyError(f"unknown scope {scope!r} (known: {', '.join(sorted(known))})")
    if not scopes:
        raise ApiKeyError(f"give at least one scope ({', '.join(sorted(known))})")
    return list(dict.fromkeys(scopes))


def create_key(*, session: Session, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """A new key with these scopes; returns the row and the plain key, which is never stored."""
    scopes = check_scopes(scopes)
    key_id = secrets.token_hex(6)
    plain = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(key_id=key_id, secret_hash=_digest(plain), name=name, scopes=scopes)
    session.add(row)
    session.flush()
    return row, plain


def list_keys(*, session: Session) -> list[ApiKey]:
    """Every key, oldest first (revoked ones too, marked)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(*, session: Session, key_id: str) -> ApiKey:
    """Stop a key from working; the row stays for the record."""
    row = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).one_or_none()
    if row is None:
        raise ApiKeyError(f"no API key {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    forget_cached_keys()
    return row


#: Keys checked in the last few seconds, so a busy client does not cost a query per request.
CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, Caller | None]] = {}


def cached(key: str) -> Caller | None:
    """The caller a valid key stood for when it was checked in the last few seconds, else None."""
    hit = _cache.get(_digest(key))
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    return None


def authenticate(*, session: Session, key: str) -> Caller | None:
    """The caller this key stands for, or None for a malformed, unknown or revoked key."""
    digest = _digest(key)
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    caller = _lookup(session, key, digest)
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[digest] = (now, caller)
    return caller


def _lookup(session: Session, key: str, digest: str) -> Caller | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.key_id == parts[1])).one_or_none()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, digest):
        return None
    return Caller(key_id=row.key_id, name=row.name, scopes=frozenset(row.scopes))


def forget_cached_keys() -> None:
    """Drop the cache (tests that revoke a key and expect the next request to fail)."""
    _cache.clear()
