"""Dataset annotations as typed data: what each table of a connected system holds about people.

An annotation (``datasets/<org>/*.yaml``) describes one database of the company: its tables,
which field holds which data category (ids from the compiled policy), which fields identify a
person, how tables reference each other, and how each field is erased. One generic executor
walks that description; no table is coded by hand (DESIGN.md principle 5).

The models are frozen and forbid unknown keys, like the policy's. Names stay plain strings here so
that ``checks.py`` can report an unsafe SQL identifier at its file and line with a clear message.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=80)]


class DatamapModel(BaseModel):
    """Base for every annotation element: immutable, strict about keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldType(StrEnum):
    """The kind of value a field holds; erasure strategies depend on it (a date generalises to its year)."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    BINARY = "binary"


class Strategy(StrEnum):
    """How one field is erased when a person's data is erased."""

    DELETE_ROW = "delete_row"  # erasing this field means deleting its whole row
    SET_NULL = "set_null"
    MASK = "mask"  # replace by a fixed text ('{key}' is the row's key, for unique columns)
    HASH = "hash"  # keyed SHA-256, prefixed 'sha256:' so a second pass leaves it as it is
    GENERALISE = "generalise"  # date -> year or month, text -> prefix, IP address -> network
    LEGAL_HOLD = "legal_hold"  # kept as it is while a law requires it, with reason and until when
    KEEP = "keep"  # not erased: not about the person once the rest is gone (a price, a product model)


class TableErasure(StrEnum):
    """What happens to a person's row when their data is erased."""

    DELETE_ROW = "delete_row"
    ANONYMISE = "anonymise"  # the row stays; each personal field is erased by its own strategy


class Generalisation(StrEnum):
    YEAR = "year"
    MONTH = "month"
    PREFIX = "prefix"
    NETWORK = "network"


class HoldUntil(DatamapModel):
    """When a legal hold ends: a period after a date field of the row, or a fixed date."""

    after: str | None = Field(default=None, description="date or datetime field the period runs from")
    years: int | None = Field(default=None, ge=0)
    months: int | None = Field(default=None, ge=0)
    days: int | None = Field(default=None, ge=0)
    date: dt.date | None = Field(default=None, description="a fixed end date instead of a period")

    @model_validator(mode="after")
    def _period_or_date(self) -> HoldUntil:
        period = any(v is not None for v in (self.years, self.months, self.days))
        if self.date is not None and (period or self.after is not None):
            raise ValueError("a hold ends either on a fixed 'date' or a period 'after' a field, not both")
        if self.date is None and (not period or self.after is None):
            raise ValueError("a hold needs 'after: <date field>' with years, months or days, or a fixed 'date'")
        return self

    def describe(self) -> str:
        if self.date is not None:
            return f"until {self.date.isoformat()}"
        parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in
                 ((self.years, "year"), (self.months, "month"), (self.days, "day")) if n]
        return f"{' '.join(parts)} after {self.after}"


class Erasure(DatamapModel):
    """The erasure strategy of one field, with the options its strategy takes."""

    strategy: Strategy
    mask_with: str | None = Field(default=None, alias="with", description="mask text; '{key}' is the row key")
    to: Generalisation | None = Field(default=None, description="generalise: year, month, prefix or network")
    length: int | None = Field(default=None, ge=1, description="generalise to prefix: characters kept; hash: hex "
                               "digits kept (at least 8), for columns too narrow for the 71 characters of a full hash")
    reason: str | None = Field(default=None, description="legal hold: the law or duty that requires keeping")
    source: str | None = Field(default=None, description="legal hold: the statute article")
    until: HoldUntil | None = Field(default=None, description="legal hold: when it ends")
    then: Strategy | None = Field(default=None, description="legal hold: the strategy once the hold has ended")
    if_kept: Strategy | None = Field(
        default=None, description="delete_row: the strategy when the row must be kept (another record needs it)")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return {"strategy": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _options_fit_strategy(self) -> Erasure:
        if self.strategy is Strategy.GENERALISE and self.to is None:
            raise ValueError("generalise needs 'to': year, month, prefix or network")
        if self.to is Generalisation.PREFIX and self.length is None:
            raise ValueError("generalise to prefix needs 'length'")
        if Strategy.HASH in (self.strategy, self.if_kept, self.then) and self.length is not None and self.length < 8:
            raise ValueError("a hash keeps at least 8 hex digits")
        if self.strategy is Strategy.LEGAL_HOLD and (not self.reason or self.until is None):
            raise ValueError("a legal hold needs a 'reason' and 'until' (when it ends)")
        if self.strategy is not Strategy.LEGAL_HOLD and (self.reason or self.until or self.then):
            raise ValueError("'reason', 'until' and 'then' belong to a legal_hold")
        if self.then in (Strategy.LEGAL_HOLD,) or self.if_kept in (Strategy.LEGAL_HOLD, Strategy.DELETE_ROW):
            raise ValueError("'then' and 'if_kept' name a strategy that changes the value")
        return self


class Reference(DatamapModel):
    """This field holds the value of another table's field: ``dataset.table.field`` or ``table.field``.

    ``follow`` says the referencing row belongs to whoever the referenced row belongs to (an order
    line belongs to the order's customer); a reply to someone's post does not (``follow: false``),
    yet the post it answers must not be deleted from under it.
    """

    to: str = Field(min_length=3)
    follow: bool = True

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return {"to": data} if isinstance(data, str) else data


class DatasetField(DatamapModel):
    """One column: its data categories, whether it identifies a person, and how it is erased."""

    name: str = Field(min_length=1)
    description: str | None = None
    type: FieldType = FieldType.STRING
    categories: tuple[str, ...] = Field(default=(), description="data category ids from the policy")
    identity: Identifier | None = Field(default=None, description="identity kind this field holds (email, phone ...)")
    attribute: Identifier | None = Field(
        default=None, description="what the field says about the person (surname, email ...): rectification finds "
        "every field of an attribute")
    references: Reference | None = None
    erasure: Erasure | None = Field(default=None, description="defaults to set_null for a personal field")

    @property
    def personal(self) -> bool:
        return bool(self.categories)


class Table(DatamapModel):
    """One table of a dataset."""

    name: str = Field(min_length=1)
    description: str | None = None
    primary_key: tuple[str, ...] = Field(min_length=1)
    erasure: TableErasure = TableErasure.DELETE_ROW
    fields: tuple[DatasetField, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _single_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("primary_key"), str):
            return {**data, "primary_key": [data["primary_key"]]}
        return data

    def field(self, name: str) -> DatasetField | None:
        return next((f for f in self.fields if f.name == name), None)


class Dataset(DatamapModel):
    """One database of a connected system (a service of the company)."""

    id: str = Field(min_length=1, description="the dataset id; also its schema name on a shared database")
    name: str
    description: str | None = None
    services: tuple[str, ...] = Field(default=(), description="the services (policy notices) it serves")
    source: str | None = Field(default=None, description="the seed clause that says this data is held")
    tables: tuple[Table, ...] = Field(min_length=1)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)
