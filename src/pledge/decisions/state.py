"""What the decision engine knows about one data subject: the current-state projection of the ledger.

The consent ledger appends events (consent granted, objection, opt-out, ...) and writes this
projection in the same transaction. The engine reads nothing else about a person.

Two shapes hold the same facts:

- ``SubjectState``: one person, a frozen dataclass, read by ``decide``.
- ``StateBatch``: many people column-wise (NumPy arrays, one element per person), read by
  ``decide_many``. ``StateBatch.from_states`` builds one from ``SubjectState`` values; an exporter
  or the ledger can fill the arrays directly, millions at a time.

Times are timezone-aware. The batch keeps them as Unix seconds and birth dates as days since
1970-01-01, so the bulk and SQL paths compare at one-second precision.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from pledge.policy.models import MarketingChannel

PurposeKey = tuple[str, str]
"""(notice id, purpose id): consent and objection belong to a purpose as one notice states it."""

BoolArray = npt.NDArray[np.bool_]


class ConsentStatus(StrEnum):
    """The latest consent event for one (notice, purpose)."""

    GRANTED = "granted"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


def _aware(value: dt.datetime | None, what: str) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got {value!r}")


@dataclass(frozen=True, slots=True)
class ConsentState:
    """A consent as the ledger last recorded it; live while granted and not expired."""

    status: ConsentStatus
    expires_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ConsentStatus(self.status))
        _aware(self.expires_at, "expires_at")

    def live_at(self, at: dt.datetime) -> bool:
        """Granted, and either without expiry or expiring after ``at`` (GDPR Art. 7(3))."""
        return self.status is ConsentStatus.GRANTED and (self.expires_at is None or self.expires_at > at)


_NO_CONSENTS: Mapping[PurposeKey, ConsentState] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SubjectState:
    """One data subject's current state, as the consent ledger projects it.

    Child status is not stored as a verdict: the engine derives it per notice and jurisdiction from
    ``birth_date`` (or ``is_child``) and the policy's age rules.
    """

    jurisdiction: str | None = None
    """Residence code (ISO 3166, e.g. ``DE``, ``US-CA``); the policy resolves it to a jurisdiction."""
    birth_date: dt.date | None = None
    """The birth date; for an age band, the latest birth date the band allows. None: unknown (adult)."""
    is_child: bool = False
    """Known to be a child without a birth date (e.g. declared by a guardian): under every age limit."""
    parental_consent: bool = False
    """A guardian has given, and not withdrawn, consent for the child (GDPR Art. 8, S3 §13)."""
    consents: Mapping[PurposeKey, ConsentState] = field(default_factory=lambda: _NO_CONSENTS)
    objections: frozenset[PurposeKey] = frozenset()
    """Purposes objected to (GDPR Art. 21(1), Thai PDPA s. 32)."""
    objects_to_marketing: bool = False
    """Objection to direct marketing as such: stops every marketing purpose (GDPR Art. 21(2)-(3), S2 §7)."""
    restricted: bool = False
    """Processing restricted (GDPR Art. 18): only restriction-exempt purposes go on."""
    opt_out_sale_share: bool = False
    opt_out_targeted_advertising: bool = False
    opt_out_profiling: bool = False
    gpc: bool = False
    """A Global Privacy Control signal was received; honoured where the jurisdiction recognises it."""
    limit_sensitive: bool = False
    """Limit the use of sensitive personal information (Cal. Civ. Code §1798.121)."""
    channels_off: frozenset[MarketingChannel] = frozenset()
    """Marketing channels the person switched off (S2 §7, S3 §12)."""
    cookie_categories: frozenset[str] = frozenset()
    """Cookie categories the person accepted (ePrivacy Art. 5(3))."""

    def __post_init__(self) -> None:
        if not isinstance(self.consents, MappingProxyType):
            object.__setattr__(self, "consents", MappingProxyType(dict(self.consents)))
        for key, consent in self.consents.items():
            if not isinstance(consent, ConsentState):
                raise TypeError(f"consent for {key!r} must be a ConsentState, got {type(consent).__name__}")
        object.__setattr__(self, "objections", frozenset(self.objections))
        object.__setattr__(self, "channels_off", frozenset(MarketingChannel(c) for c in self.channels_off))
        object.__setattr__(self, "cookie_categories", frozenset(self.cookie_categories))


# --- column-wise -----------------------------------------------------------------------------------

CHANNELS: tuple[MarketingChannel, ...] = tuple(MarketingChannel)
"""Bit ``i`` of ``StateBatch.channels_off`` is ``CHANNELS[i]``."""

CONSENT_CODES: Mapping[ConsentStatus | None, int] = MappingProxyType(
    {None: 0, ConsentStatus.GRANTED: 1, ConsentStatus.DENIED: 2, ConsentStatus.WITHDRAWN: 3})
"""``ConsentColumns.status`` values: 0 never given, 1 granted, 2 denied, 3 withdrawn."""

_STATUS_OF_CODE: Mapping[int, ConsentStatus | None] = MappingProxyType({v: k for k, v in CONSENT_CODES.items()})

NO_BIRTH_DATE = int(np.iinfo(np.int32).min)
"""``birth_days`` of a person whose birth date is unknown (so never under an age limit by date)."""
NO_EXPIRY = int(np.iinfo(np.int64).max)
"""``ConsentColumns.expires_at`` of a consent that does not expire."""

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

#: Boolean columns of a batch, named as the ``SubjectState`` fields they hold.
FLAGS: tuple[str, ...] = (
    "is_child", "parental_consent", "objects_to_marketing", "restricted", "opt_out_sale_share",
    "opt_out_targeted_advertising", "opt_out_profiling", "gpc", "limit_sensitive",
)


def epoch_days(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return day.toordinal() - _EPOCH_ORDINAL


def epoch_seconds(moment: dt.datetime) -> int:
    """Whole Unix seconds (floor) of an aware datetime."""
    return math.floor(moment.timestamp())


@dataclass(frozen=True, slots=True)
class ConsentColumns:
    """Consent and objection for one (notice, purpose), one element per subject of the batch."""

    status: npt.NDArray[np.uint8]
    expires_at: npt.NDArray[np.int64]
    objected: BoolArray


@dataclass(frozen=True)
class StateBatch:
    """Many subjects' states, column-wise. Element ``i`` of every array belongs to ``subject_ids[i]``.

    Jurisdictions are dictionary-encoded: ``jurisdictions[jurisdiction_codes[i]]`` is subject i's
    residence code, so the engine resolves each distinct code once. Cookie categories are a bit set
    over ``cookie_categories`` (at most 64). ``consents`` holds columns only for the purposes the
    batch was built for; a purpose missing from it means no consent and no objection for anyone.
    """

    subject_ids: npt.NDArray[Any]
    jurisdiction_codes: npt.NDArray[np.int32]
    jurisdictions: tuple[str | None, ...]
    birth_days: npt.NDArray[np.int32]
    is_child: BoolArray
    parental_consent: BoolArray
    objects_to_marketing: BoolArray
    restricted: BoolArray
    opt_out_sale_share: BoolArray
    opt_out_targeted_advertising: BoolArray
    opt_out_profiling: BoolArray
    gpc: BoolArray
    limit_sensitive: BoolArray
    channels_off: npt.NDArray[np.uint8]
    cookie_mask: npt.NDArray[np.uint64]
    cookie_categories: tuple[str, ...] = ()
    consents: Mapping[PurposeKey, ConsentColumns] = field(default_factory=dict)

    def __post_init__(self) -> None:
        size = len(self.subject_ids)
        columns: dict[str, npt.NDArray[Any]] = {
            "jurisdiction_codes": self.jurisdiction_codes, "birth_days": self.birth_days,
            "channels_off": self.channels_off, "cookie_mask": self.cookie_mask,
            **{name: getattr(self, name) for name in FLAGS},
        }
        for key, consent in self.consents.items():
            columns.update({f"{key}.status": consent.status, f"{key}.expires_at": consent.expires_at,
                            f"{key}.objected": consent.objected})
        for name, column in columns.items():
            if column.shape != (size,):
                raise ValueError(f"column {name} has shape {column.shape}, expected ({size},)")
        if len(self.cookie_categories) > 64:
            raise ValueError("a batch holds at most 64 cookie categories")
        if size and (self.jurisdiction_codes.min() < 0 or self.jurisdiction_codes.max() >= len(self.jurisdictions)):
            raise ValueError("jurisdiction_codes must index into jurisdictions")

    def __len__(self) -> int:
        return len(self.subject_ids)

    def flag(self, name: str) -> BoolArray:
        """A boolean column by its ``SubjectState`` name."""
        if name not in FLAGS:
            raise KeyError(name)
        column: BoolArray = getattr(self, name)
        return column

    def subject_state(self, index: int) -> SubjectState:
        """Row ``index`` as a ``SubjectState`` (times at the batch's one-second precision)."""
        born = int(self.birth_days[index])
        consents: dict[PurposeKey, ConsentState] = {}
        objections: set[PurposeKey] = set()
        for key, columns in self.consents.items():
            status = _STATUS_OF_CODE[int(columns.status[index])]
            if status is not None:
                expires = int(columns.expires_at[index])
                consents[key] = ConsentState(
                    status, None if expires == NO_EXPIRY else dt.datetime.fromtimestamp(expires, dt.UTC))
            if columns.objected[index]:
                objections.add(key)
        channels = int(self.channels_off[index])
        cookies = int(self.cookie_mask[index])
        return SubjectState(
            jurisdiction=self.jurisdictions[int(self.jurisdiction_codes[index])],
            birth_date=None if born == NO_BIRTH_DATE else dt.date.fromordinal(born + _EPOCH_ORDINAL),
            consents=consents,
            objections=frozenset(objections),
            channels_off=frozenset(c for i, c in enumerate(CHANNELS) if channels >> i & 1),
            cookie_categories=frozenset(name for i, name in enumerate(self.cookie_categories) if cookies >> i & 1),
            **{name: bool(getattr(self, name)[index]) for name in FLAGS},
        )

    @classmethod
    def from_states(cls, states: Sequence[SubjectState], subject_ids: Iterable[Any] | None = None) -> StateBatch:
        """Encode states column-wise (the slow, obvious way: for tests, exports and small batches)."""
        size = len(states)
        ids = np.arange(size, dtype=np.int64) if subject_ids is None else np.asarray(list(subject_ids))
        if len(ids) != size:
            raise ValueError(f"{len(ids)} subject ids for {size} states")
        codes: dict[str | None, int] = {}
        cookie_names = sorted({name for state in states for name in state.cookie_categories})
        cookie_bits = {name: 1 << index for index, name in enumerate(cookie_names)}
        keys = sorted({key for state in states for key in (*state.consents, *state.objections)})
        consents = {key: ConsentColumns(status=np.zeros(size, np.uint8), expires_at=np.full(size, NO_EXPIRY, np.int64),
                                        objected=np.zeros(size, np.bool_)) for key in keys}
        jurisdiction_codes = np.empty(size, np.int32)
        birth_days = np.full(size, NO_BIRTH_DATE, np.int32)
        flags = {name: np.zeros(size, np.bool_) for name in FLAGS}
        channels_off = np.zeros(size, np.uint8)
        cookie_mask = np.zeros(size, np.uint64)
        channel_bits = {channel: 1 << index for index, channel in enumerate(CHANNELS)}
        for i, state in enumerate(states):
            jurisdiction_codes[i] = codes.setdefault(state.jurisdiction, len(codes))
            if state.birth_date is not None:
                birth_days[i] = epoch_days(state.birth_date)
            for name in FLAGS:
                flags[name][i] = getattr(state, name)
            channels_off[i] = sum(channel_bits[channel] for channel in state.channels_off)
            cookie_mask[i] = sum(cookie_bits[name] for name in state.cookie_categories)
            for key, consent in state.consents.items():
                consents[key].status[i] = CONSENT_CODES[consent.status]
                if consent.expires_at is not None:
                    consents[key].expires_at[i] = epoch_seconds(consent.expires_at)
            for key in state.objections:
                consents[key].objected[i] = True
        return cls(
            subject_ids=ids, jurisdiction_codes=jurisdiction_codes, jurisdictions=tuple(codes),
            birth_days=birth_days, channels_off=channels_off, cookie_mask=cookie_mask,
            cookie_categories=tuple(cookie_names), consents=consents, **flags,
        )
