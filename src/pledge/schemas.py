"""The base of pledge's Pydantic shapes, and the one rule every text a client sends must keep.

Why one base: the consent, subject and rights shapes are read from the same kinds of client, and
stored in the same database. PostgreSQL cannot store the NUL character (U+0000) in a text column:
a name, an actor reference or an idempotency key carrying one failed at the database as a 500, and
on SQLite it was stored. ``InputModel`` refuses it where the value arrives, as a 422 naming the
field, the same on both databases.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character (U+0000)"


def has_nul(value: Any) -> bool:
    """Whether a text, or a text inside a list or mapping of texts, carries a NUL character."""
    if type(value) is str:
        return NUL in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    return False


def refuse_nul(value: Any) -> Any:
    """A validator: the value, or a ValueError when a text in it carries a NUL character."""
    if has_nul(value):
        raise ValueError(NUL_MESSAGE)
    return value


class PledgeBase(BaseModel):
    """Shapes read from ORM objects (``from_attributes``) that refuse fields they do not know."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class InputModel(PledgeBase):
    """A shape a client sends: every text field is checked for NUL characters (half a microsecond)."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return refuse_nul(value)
